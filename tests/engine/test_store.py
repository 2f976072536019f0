"""RunStore against a real SQLite file and, when LAYERDECK_TEST_PG_URL is set,
a real PostgreSQL database (the `store_url` fixture, tests/engine/conftest.py).
SQLite's own behaviours (pragmas, the writer lock, file paths) use `db_url`."""
from __future__ import annotations

import csv
import dataclasses
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import inspect, text, update

from engine.store import (
    CheckpointRecord,
    Curve,
    Run,
    RunNotFoundError,
    RunStore,
    StoreError,
    higher_is_better,
    minmax_reduce,
    resolve_db_url,
)
from engine.store.models import RunRow, table
from engine.store.paths import default_db_path
from engine.training.callbacks import MetricPoint

REPO = Path(__file__).resolve().parents[2]
SPEC = {"name": "digits-cnn", "seed": 0, "training": {"epochs": 3}}


@pytest.fixture
def store(store_url):
    s = RunStore(store_url)
    yield s
    s.close()


def _file(db_url: str) -> str:
    return db_url.removeprefix("sqlite:///")


def _sql(url: str, statement: str, **params) -> list[tuple]:
    """Rows of a statement run on the store's database from outside RunStore, as another tool would."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _set_run(url: str, run_id: int, **values) -> None:
    """Write run columns behind RunStore's back (typed, so datetimes suit either database)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(table(RunRow)).where(table(RunRow).c.id == run_id).values(**values))
    finally:
        engine.dispose()


def _pts(key, steps, values, epoch=0):
    return [MetricPoint(key, int(s), epoch, float(v), 1_700_000_000.0 + s)
            for s, v in zip(steps, values)]


# --- the schema contract --------------------------------------------------------

def test_contract_tables_and_columns(store):
    schema = inspect(store._engine)
    cols = {t: [c["name"] for c in schema.get_columns(t)]
            for t in ("runs", "metrics", "system_metrics", "checkpoints")}
    assert set(cols["runs"]) >= {"id", "name", "status", "spec", "created_at", "started_at",
                                 "finished_at", "device", "pid", "error", "summary", "notes",
                                 "tags", "parent_id"}
    assert set(cols["metrics"]) == {"run_id", "key", "step", "epoch", "value", "wall_time"}
    assert set(cols["system_metrics"]) >= {"run_id", "key", "wall_time", "value"}
    assert set(cols["checkpoints"]) >= {"run_id", "kind", "path", "step", "epoch", "metric_value"}
    assert schema.get_pk_constraint("metrics")["constrained_columns"] == ["run_id", "key", "step"]
    sys_run = [c for c in schema.get_columns("system_metrics") if c["name"] == "run_id"][0]
    assert sys_run["nullable"]  # system samples may belong to no run


def test_every_connection_gets_the_pragmas(db_url):
    with RunStore(db_url) as store, store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


# --- runs -------------------------------------------------------------------------

def test_create_get_and_entities_are_plain(store):
    rid = store.create_run(SPEC, tags=["cnn", " cnn", "baseline", ""])
    run = store.get_run(rid)
    assert isinstance(run, Run) and dataclasses.is_dataclass(run)
    assert (run.name, run.status, run.spec, run.tags) == ("digits-cnn", "queued", SPEC,
                                                         ["cnn", "baseline"])
    assert run.created_at.tzinfo is not None and run.started_at is None
    assert run.summary == {} and run.notes == "" and not run.starred
    unnamed = store.create_run({"seed": 1})
    assert store.get_run(unnamed).name == f"run {unnamed}"
    child = store.create_run(SPEC, "resumed", parent_id=rid)
    assert store.get_run(child).parent_id == rid


def test_missing_run_is_a_keyerror_naming_it(store):
    with pytest.raises(KeyError) as e:
        store.get_run(12)
    assert str(e.value) == "run 12 not found"
    with pytest.raises(RunNotFoundError, match="run 99 not found"):
        store.add_metrics(99, _pts("train/loss", [1], [0.5]))
    with pytest.raises(RunNotFoundError, match="parent run 7 not found"):
        store.create_run(SPEC, parent_id=7)


def test_list_filter_sort_and_bad_arguments(store):
    ids = [store.create_run(SPEC, name) for name in ("b", "a", "c")]
    store.set_status(ids[0], "running", pid=None)
    store.set_status(ids[0], "completed")
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.name for r in store.list_runs(order_by="name", descending=False)] == ["a", "b", "c"]
    assert [r.id for r in store.list_runs(status="completed")] == [ids[0]]
    assert [r.id for r in store.list_runs(status=["queued"], limit=1)] == [ids[2]]
    with pytest.raises(ValueError, match="cannot order runs by 'loss'"):
        store.list_runs(order_by="loss")
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        store.list_runs(status="done")


def test_status_stamps_times(store):
    rid = store.create_run(SPEC)
    store.set_status(rid, "running", pid=4242, device="cpu")
    run = store.get_run(rid)
    assert (run.status, run.pid, run.device) == ("running", 4242, "cpu")
    assert run.started_at is not None and run.finished_at is None and run.duration_s >= 0
    store.set_status(rid, "paused")
    store.set_status(rid, "running")
    assert store.get_run(rid).started_at == run.started_at  # resume keeps the start
    store.set_status(rid, "failed", error="loss became NaN at epoch 2, step 40")
    done = store.get_run(rid)
    assert done.finished_at >= done.started_at and "NaN" in done.error
    # The supervisor's "crashed" must not overwrite what the worker wrote.
    assert store.set_status(rid, "crashed", error="exit 1", only_from=["running", "paused"]) is False
    assert store.get_run(rid).status == "failed"


def test_rename_notes_tags_star(store):
    rid = store.create_run(SPEC)
    store.rename(rid, "  best so far ")
    store.set_notes(rid, "lr too high?")
    store.set_tags(rid, ["a", "b", "a"])
    store.set_starred(rid, True)
    run = store.get_run(rid)
    assert (run.name, run.notes, run.tags, run.starred) == ("best so far", "lr too high?",
                                                           ["a", "b"], True)
    with pytest.raises(ValueError, match="cannot be empty"):
        store.rename(rid, "  ")


# --- metrics ----------------------------------------------------------------------

def test_rewriting_a_step_replaces_the_value(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("val/loss", [10, 20], [0.9, 0.8]))
    store.add_metrics(rid, _pts("val/loss", [20], [0.7]))
    rows = _sql(store.url, "SELECT step, value FROM metrics WHERE run_id = :r ORDER BY step", r=rid)
    assert rows == [(10, 0.9), (20, 0.7)]


def test_nan_is_stored_as_null_and_read_back_as_nan(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("train/loss", [1, 2, 3], [0.5, float("nan"), 0.4]))
    raw = _sql(store.url, "SELECT value FROM metrics WHERE run_id = :r AND step = 2", r=rid)
    assert raw == [(None,)]
    (curve,) = store.get_curves([rid], ["train/loss"])
    assert isinstance(curve, Curve) and curve.steps.tolist() == [1, 2, 3]
    assert curve.values[0] == 0.5 and math.isnan(curve.values[1]) and not curve.reduced


def test_summary_is_kept_current(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("val/loss", [100, 200], [0.9, 0.5], epoch=1)
                      + _pts("val/accuracy", [100, 200], [0.6, 0.8], epoch=1))
    store.add_metrics(rid, _pts("val/loss", [300, 400], [0.7, float("nan")], epoch=2)
                      + _pts("val/accuracy", [300], [0.75], epoch=2))
    store.update_summary(rid, {"params": 5210, "metrics": {"test/accuracy": {"last": 0.97}}})
    s = store.get_run(rid).summary
    loss, acc = s["metrics"]["val/loss"], s["metrics"]["val/accuracy"]
    assert (loss["best"], loss["best_step"], loss["min"], loss["max"]) == (0.5, 200, 0.5, 0.9)
    assert (loss["last"], loss["last_step"]) == (None, 400)  # the last value was NaN
    assert (acc["best"], acc["best_step"], acc["last"], acc["last_step"]) == (0.8, 200, 0.75, 300)
    assert s["params"] == 5210 and s["metrics"]["test/accuracy"]["last"] == 0.97
    assert higher_is_better("val/r2") and higher_is_better("test/accuracy")
    assert not higher_is_better("layer2/loss") and not higher_is_better("val/mae")


def test_a_batch_of_nan_never_becomes_best(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("train/loss", [1, 2], [float("nan"), float("inf")]))
    m = store.get_run(rid).summary["metrics"]["train/loss"]
    assert m["best"] is None and m["min"] is None and m["last_step"] == 2
    store.add_metrics(rid, _pts("train/loss", [3], [1.5]))
    assert store.get_run(rid).summary["metrics"]["train/loss"]["best"] == 1.5


def test_metric_keys_and_several_runs_at_once(store):
    a, b = store.create_run(SPEC), store.create_run(SPEC)
    store.add_metrics(a, _pts("val/loss", [1], [1.0]) + _pts("lr", [1], [0.1]))
    store.add_metrics(b, _pts("val/loss", range(5), range(5)))
    assert store.metric_keys([a, b]) == {a: ["lr", "val/loss"], b: ["val/loss"]}
    curves = store.get_curves([a, b], ["val/loss", "lr"])
    assert [(c.run_id, c.key, len(c)) for c in curves] == [(a, "val/loss", 1), (a, "lr", 1),
                                                            (b, "val/loss", 5)]


def test_reduction_keeps_the_extremes(store):
    rid = store.create_run(SPEC)
    rng = np.random.default_rng(0)
    values = rng.normal(size=10_000)
    values[1234], values[8765] = 50.0, -50.0  # one-step spikes a plot must still show
    store.add_metrics(rid, _pts("train/loss_step", range(10_000), values))
    (c,) = store.get_curves([rid], buckets=100)
    assert c.reduced and len(c) == 100
    assert c.maxs.max() == 50.0 and c.mins.min() == -50.0
    spike = int(np.argmax(c.maxs))
    assert c.steps[spike - 1] < 1234 <= c.steps[spike]
    assert np.all(c.mins <= c.values) and np.all(c.values <= c.maxs)
    assert c.steps[-1] == 9999 and c.values[-1] == values[-1]
    # Zoomed in: the range alone, at full resolution.
    (z,) = store.get_curves([rid], step_range=(1200, 1299), buckets=100)
    assert not z.reduced and z.steps.tolist() == list(range(1200, 1300))
    assert np.array_equal(z.values, values[1200:1300])
    (full,) = store.get_curves([rid], buckets=None)
    assert len(full) == 10_000
    # "From step N on", with a bound past a 32-bit INTEGER (a follower asks so).
    (tail,) = store.get_curves([rid], buckets=None, step_range=(9990, 2 ** 62))
    assert tail.steps.tolist() == list(range(9990, 10_000))


@pytest.mark.parametrize("pattern", ["random", "epochs_and_a_burst"])
def test_sqlite_and_portable_reductions_agree(db_url, pattern):
    from sqlalchemy.orm import Session

    from engine.store.reduce import _grouped_bucket_rows, _metric_where, _sqlite_bucket_rows

    store = RunStore(db_url)
    rid = store.create_run(SPEC)
    if pattern == "random":
        steps, buckets = np.unique(np.random.default_rng(1).integers(0, 5000, size=3000)), 64
    else:  # one point per epoch over 30,000 steps, and a dense stretch: mostly empty buckets
        steps, buckets = np.union1d(np.arange(999, 30_000, 1000), np.arange(12_000, 12_500)), 2000
    vals = np.sin(steps / 50.0)
    vals[10] = np.nan
    store.add_metrics(rid, _pts("x", steps, vals))
    with Session(store._engine) as s:
        conn = s.connection()
        lo, hi = int(steps[0]), int(steps[-1])
        fast = _sqlite_bucket_rows(conn, rid, "x", lo, hi, buckets)
        portable = _grouped_bucket_rows(conn, rid, "x", lo, hi, buckets,
                                        _metric_where(rid, "x", None))
    store.close()
    assert fast == portable
    assert sum(r[6] for r in fast) == len(steps)  # every point landed in one bucket


def test_sparse_points_over_a_long_range_are_not_reduced(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("val/loss", [0, 50_000, 100_000], [3.0, 2.0, 1.0]))
    (c,) = store.get_curves([rid], buckets=10)
    assert not c.reduced and c.values.tolist() == [3.0, 2.0, 1.0]


def test_numpy_reduction_matches_its_contract():
    x = np.arange(1000)
    y = np.cos(x / 10.0)
    y[500] = 9.0
    last, ly, mins, maxs = minmax_reduce(x, y, 10)
    assert len(last) == 10 and maxs.max() == 9.0 and mins.min() == y.min()
    assert last[-1] == 999 and ly[-1] == y[-1]


def test_export_csv(store, tmp_path):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("val/loss", [1, 2], [0.5, float("nan")], epoch=1)
                      + _pts("lr", [1], [0.01], epoch=1))
    out = tmp_path / "run.csv"
    assert store.export_csv(rid, out) == 3
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["key", "step", "epoch", "value", "wall_time"]
    assert rows[1][:4] == ["lr", "1", "1", "0.01"]
    assert rows[3][:4] == ["val/loss", "2", "1", "nan"]
    assert float(rows[2][4]) == 1_700_000_001.0


# --- system samples, checkpoints, deletion ----------------------------------------------

def test_system_curves_are_relative_to_the_run_start(store):
    rid = store.create_run(SPEC)
    store.set_status(rid, "running")
    t0 = store.get_run(rid).started_at.timestamp()
    store.add_system_metrics(rid, [("cpu/percent", t0 + i, float(i)) for i in range(10)])
    store.add_system_metrics(None, [("cpu/percent", 5.0, 1.0)])
    (c,) = store.get_system_curves([rid])
    assert c.key == "cpu/percent" and c.steps[0] == pytest.approx(0.0, abs=1e-3)
    assert c.values.tolist() == list(map(float, range(10)))
    (reduced,) = store.get_system_curves([rid], buckets=2)
    assert reduced.reduced and reduced.maxs.max() == 9.0 and reduced.mins.min() == 0.0
    # Two buckets of five samples: every database splits the range the same way.
    assert reduced.values.tolist() == [2.0, 7.0] and reduced.maxs.tolist() == [4.0, 9.0]
    (idle,) = store.get_system_curves([None])
    assert idle.steps.tolist() == [5.0]


def test_checkpoints_one_per_kind(store):
    rid = store.create_run(SPEC)
    store.add_checkpoint(rid, "best", "/x/best1.pt", 10, 1, 0.5)
    store.add_checkpoint(rid, "best", "/x/best2.pt", 20, 2, 0.4)
    store.add_checkpoint(rid, "last", "/x/last.pt", 30, 3, None)
    assert store.checkpoints(rid) == [CheckpointRecord(rid, "best", "/x/best2.pt", 20, 2, 0.4),
                                      CheckpointRecord(rid, "last", "/x/last.pt", 30, 3, None)]
    with pytest.raises(ValueError, match="'best' or 'last'"):
        store.add_checkpoint(rid, "final", "/x", 1, 1, None)
    # The first of the kinds asked for that the run has.
    assert store.checkpoint(rid, "best", "last").path == "/x/best2.pt"
    assert store.checkpoint(rid, "last").path == "/x/last.pt"
    only_last = store.create_run(SPEC)
    store.add_checkpoint(only_last, "last", "/y/last.pt", 5, 1, None)
    assert store.checkpoint(only_last, "best", "last").kind == "last"
    assert store.checkpoint(only_last, "best") is None


def test_delete_removes_rows_and_checkpoint_files(store, tmp_path):
    keep = store.create_run(SPEC)
    rid = store.create_run(SPEC)
    child = store.create_run(SPEC, parent_id=rid)
    folder = tmp_path / "ckpt" / str(rid)
    folder.mkdir(parents=True)
    for kind in ("best", "last"):
        (folder / f"{kind}.pt").write_bytes(b"weights")
        store.add_checkpoint(rid, kind, str(folder / f"{kind}.pt"), 1, 1, 0.1)
    store.add_metrics(rid, _pts("val/loss", [1], [1.0]))
    store.add_system_metrics(rid, [("cpu/percent", 1.0, 3.0)])
    store.delete_run(rid)
    assert not folder.exists()
    with pytest.raises(KeyError):
        store.get_run(rid)
    for name in ("metrics", "system_metrics", "checkpoints"):
        assert _sql(store.url, f"SELECT count(*) FROM {name} WHERE run_id = :r", r=rid) == [(0,)]
    assert store.get_run(child).parent_id is None
    assert store.get_run(keep).status == "queued"


def test_delete_keeps_files_on_request_and_refuses_a_running_run(store, tmp_path):
    rid = store.create_run(SPEC)
    f = tmp_path / "last.pt"
    f.write_bytes(b"w")
    store.add_checkpoint(rid, "last", str(f), 1, 1, None)
    store.delete_run(rid, delete_files=False)
    assert f.exists()
    live = store.create_run(SPEC)
    store.set_status(live, "running")
    with pytest.raises(ValueError, match="is running: stop it before deleting it"):
        store.delete_run(live)


# --- orphans ----------------------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_running_run_whose_process_is_gone_becomes_crashed_on_open(store_url):
    with RunStore(store_url) as s:
        dead = s.create_run(SPEC)
        s.set_status(dead, "running", pid=_dead_pid())
        s.add_metrics(dead, _pts("train/loss", [1, 2], [0.9, 0.8]))
        alive = s.create_run(SPEC)
        s.set_status(alive, "paused", pid=None)
        s.set_status(alive, "running", pid=os.getpid())
    with RunStore(store_url) as s:
        run = s.get_run(dead)
        assert run.status == "crashed" and "is gone" in run.error and run.finished_at
        assert len(s.get_curves([dead])[0]) == 2  # metrics up to then are kept
        assert s.get_run(alive).status == "running"


def test_a_silent_run_on_another_host_becomes_crashed(store_url):
    with RunStore(store_url) as s:
        rid = s.create_run(SPEC)
        s.set_status(rid, "running", pid=1)
    stale = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1)
    _set_run(store_url, rid, host="elsewhere", heartbeat_at=stale)
    with RunStore(store_url) as s:
        run = s.get_run(rid)
    assert run.status == "crashed" and "no heartbeat from the worker on elsewhere" in run.error


def test_a_pid_reused_by_a_newer_process_does_not_keep_a_run_alive(store_url):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with RunStore(store_url) as s:
            rid = s.create_run(SPEC)
            s.set_status(rid, "running", pid=other.pid)
        long_ago = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=2)
        _set_run(store_url, rid, started_at=long_ago)
        with RunStore(store_url) as s:
            assert s.get_run(rid).status == "crashed"
    finally:
        other.kill()
        other.wait()


def test_opening_does_not_wait_for_a_busy_writer(db_url):
    with RunStore(db_url) as s:
        rid = s.create_run(SPEC)
    worker = sqlite3.connect(_file(db_url), isolation_level=None)
    worker.execute("BEGIN IMMEDIATE")  # a worker in the middle of a batch
    try:
        with RunStore(db_url) as s:  # would raise "database is locked" if opening wrote
            assert [r.id for r in s.list_runs()] == [rid]
    finally:
        worker.execute("ROLLBACK")
        worker.close()


# --- concurrency ------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import pathlib, sys, time
    from engine.store import RunStore
    store = RunStore(sys.argv[1])
    rid = store.create_run({"name": sys.argv[2]})
    store.set_status(rid, "running")
    # Start together, so the two really write at the same time.
    barrier = pathlib.Path(sys.argv[3])
    (barrier / sys.argv[2]).touch()
    deadline = time.time() + 60
    while len(list(barrier.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.01)
    for b in range(40):
        # (key, step, epoch, value, wall_time) tuples: importing MetricPoint would load torch
        store.add_metrics(rid, [("train/loss_step", b * 50 + i, 0, 1.0 / (i + 1), time.time())
                                for i in range(50)])
        store.update_summary(rid, {"batches": b + 1})
        store.heartbeat(rid)
    store.set_status(rid, "completed")
    print(rid)
""")


def test_two_processes_write_at_once(store_url, tmp_path):
    RunStore(store_url).close()  # migrate first, as the GUI or supervisor would
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, f"w{i}", str(barrier)],
                              cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "database is locked" not in err
    with RunStore(store_url) as s:
        runs = s.list_runs()
        assert sorted(r.status for r in runs) == ["completed", "completed"]
        for r in runs:
            assert r.summary["batches"] == 40
            assert r.summary["metrics"]["train/loss_step"]["last_step"] == 1999
            assert len(s.get_curves([r.id], buckets=None)[0]) == 2000


# --- where the store lives -----------------------------------------------------------

def test_db_url_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERDECK_DB", "sqlite:///from-env.db")
    assert resolve_db_url("sqlite:///from-cli.db") == "sqlite:///from-cli.db"
    assert resolve_db_url(None) == "sqlite:///from-env.db"
    assert resolve_db_url(str(tmp_path / "plain.db")) == f"sqlite:///{tmp_path / 'plain.db'}"
    monkeypatch.delenv("LAYERDECK_DB")
    url = resolve_db_url()
    assert url == f"sqlite:///{default_db_path()}"
    assert default_db_path().parent.is_dir() and default_db_path().name == "runs.db"
    assert "layerdeck" in str(default_db_path())
    with pytest.raises(ValueError, match="store URL is empty"):
        resolve_db_url("  ")


def test_a_postgres_url_without_a_driver_gets_psycopg(monkeypatch):
    pg = "postgresql+psycopg://ld:secret@db.lab:5432/runs"
    assert resolve_db_url(pg) == pg
    assert resolve_db_url("postgresql://ld:secret@db.lab/runs") == "postgresql+psycopg://ld:secret@db.lab/runs"
    monkeypatch.setenv("LAYERDECK_DB", "postgres://ld@db.lab/runs")
    assert resolve_db_url(None) == "postgresql+psycopg://ld@db.lab/runs"
    # A driver named explicitly is kept.
    assert resolve_db_url("postgresql+psycopg2://ld@db.lab/runs") == "postgresql+psycopg2://ld@db.lab/runs"


def test_a_server_store_keeps_its_run_files_apart(tmp_path):
    from engine.runner.paths import checkpoint_dir, log_path

    assert checkpoint_dir(f"sqlite:///{tmp_path / 'runs.db'}", 1) == tmp_path / "checkpoints" / "run-1"
    folder = default_db_path().parent / "stores" / "postgresql-db.lab-5432-runs"
    # Any spelling of the same database, never the credentials in the path.
    for url in ("postgresql://ld:secret@db.lab:5432/runs", "postgresql+psycopg://other@db.lab:5432/runs"):
        assert checkpoint_dir(url, 1) == folder / "checkpoints" / "run-1"
        assert log_path(url, 1) == folder / "logs" / "run-1.log"
    assert checkpoint_dir("postgresql://ld@db.lab:5432/other", 1).parent.parent != folder


def test_a_bare_path_opens_and_a_bad_store_is_named(tmp_path):
    with RunStore(str(tmp_path / "plain.db")) as s:
        assert s.url == f"sqlite:///{tmp_path / 'plain.db'}" and s.path == tmp_path / "plain.db"
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database, just notes\n" * 100)
    with pytest.raises(StoreError, match=f"cannot open the run store at {junk}"):
        RunStore(str(junk))
    with pytest.raises(StoreError, match="cannot open the run store 'nosuchdb://x'"):
        RunStore("nosuchdb://x")


def test_documents_are_kept_with_a_run_replaced_by_kind_and_deleted_with_it(store_url):
    with RunStore(store_url) as s:
        rid = s.create_run({"name": "evaluated"})
        other = s.create_run({"name": "teacher"})
        student = s.create_run({"name": "student"}, teacher_run_id=other)
        assert s.get_document(rid, "evaluation/test") is None
        s.put_document(rid, "evaluation/test", {"accuracy": 0.9, "per_class": [{"class": "0", "f1": 0.8}]})
        s.put_document(rid, "evaluation/test", {"accuracy": 0.95})  # a re-evaluation replaces it
        s.put_document(rid, "export/onnx", {"max_abs_diff": 1e-6})
        assert s.get_document(rid, "evaluation/test") == {"accuracy": 0.95}
        assert s.document_kinds(rid) == ["evaluation/test", "export/onnx"]
        with pytest.raises(ValueError):
            s.put_document(rid, "evaluation/test", {"accuracy": float("nan")})
        assert s.get_run(student).teacher_run_id == other
        s.delete_run(rid)
        s.delete_run(other)
        assert s.document_kinds(rid) == [] and s.get_run(student).teacher_run_id is None


def test_a_sweep_and_its_trials(store_url):
    from engine.store.entities import SweepNotFoundError

    with RunStore(store_url) as s:
        sid = s.create_sweep(name="lr", spec={"method": "grid"}, method="grid",
                             metric="val/accuracy", goal="maximize")
        trials = [s.create_run({"name": f"t{i}"}, sweep_id=sid, trial_number=i) for i in range(3)]
        s.create_run({"name": "alone"})
        assert [r.trial_number for r in s.list_runs(sweep_id=sid, order_by="id", descending=False)] == [0, 1, 2]
        s.update_sweep(sid, status="running", state={"failures": 1})
        s.update_sweep(sid, status="completed", best_run_id=trials[1])
        sweep = s.get_sweep(sid)
        assert (sweep.status, sweep.best_run_id, sweep.state) == ("completed", trials[1], {"failures": 1})
        assert sweep.finished_at is not None and [x.id for x in s.list_sweeps()] == [sid]
        with pytest.raises(ValueError, match="only .* change after creation"):
            s.update_sweep(sid, name="renamed")
        with pytest.raises(SweepNotFoundError, match="sweep 999 not found"):
            s.get_sweep(999)
        s.delete_run(trials[0])
        assert len(s.list_runs(sweep_id=sid)) == 2
