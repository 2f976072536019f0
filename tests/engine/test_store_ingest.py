"""The fast metric path: batches as columns, the driver-level SQLite write,
metric_blocks kept exact, and reduced reads built on them; the Session path
and the grouped reduction on PostgreSQL (LAYERDECK_TEST_PG_URL) hold the
same contract, and concurrent writers lose no row."""
from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.store import RunStore
from engine.store.batch import to_batch
from engine.store.convert import utcnow
from engine.store.db import MIGRATIONS_DIR, create_db_engine
from engine.store.reduce import _grouped_bucket_rows, _metric_where, _sqlite_bucket_rows
from engine.store.upsert import add_metrics_session
from engine.training.callbacks import MetricPoint

REPO = Path(__file__).resolve().parents[2]
SPEC = {"name": "ingest"}
BLOCKS_FROM_METRICS = ("SELECT run_id, key, step >> 5, count(*), min(value), max(value), "
                       "max(step) FROM metrics GROUP BY run_id, key, step >> 5 ORDER BY 1, 2, 3")


@pytest.fixture
def store(db_url):
    """A SQLite store: metric_blocks and the driver-level write are SQLite's alone."""
    s = RunStore(db_url)
    yield s
    s.close()


@pytest.fixture
def any_store(store_url):
    s = RunStore(store_url)
    yield s
    s.close()


def _rows(store: RunStore, statement: str, **params) -> list[tuple]:
    with store._engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(statement), params)]


def _con(db_url: str) -> sqlite3.Connection:
    return sqlite3.connect(db_url.removeprefix("sqlite:///"))


def _blocks(db_url: str) -> list[tuple]:
    return _con(db_url).execute("SELECT run_id, key, block, n, vmin, vmax, last_step "
                                "FROM metric_blocks ORDER BY 1, 2, 3").fetchall()


def _pts(key, steps, values, epoch=0):
    return [MetricPoint(key, int(s), epoch, float(v), 1_700_000_000.0 + s)
            for s, v in zip(steps, values)]


def _agree(store, rid, key, buckets):
    """The block-based SQLite reduction and the portable GROUP BY give the same rows."""
    with Session(store._engine) as s:
        conn = s.connection()
        lo, hi = conn.exec_driver_sql(
            "SELECT min(step), max(step) FROM metrics WHERE run_id = ? AND key = ?",
            (rid, key)).one()
        fast = _sqlite_bucket_rows(conn, rid, key, lo, hi, buckets)
        portable = _grouped_bucket_rows(conn, rid, key, lo, hi, buckets,
                                        _metric_where(rid, key, None))
    assert fast == portable
    return fast


def test_point_shapes_none_epochs_and_repeats_in_one_batch(any_store):
    store = any_store
    rid = store.create_run(SPEC)
    store.add_metrics(rid, [("a", 1, None, 0.5, 10.0)])
    store.add_metrics(rid, [{"key": "a", "step": 2, "epoch": 1, "value": None, "wall_time": 11.0}])
    store.add_metrics(rid, [MetricPoint("a", 3, 1, 0.9, 12.0), MetricPoint("a", 3, 1, 0.1, 13.0),
                            MetricPoint("b", 3, 1, 2.0, 12.0)])
    rows = _rows(store, "SELECT key, step, epoch, value, wall_time FROM metrics ORDER BY key, step")
    # A None epoch is 0, a None value NULL, and of two points at one step the later wins.
    assert rows == [("a", 1, 0, 0.5, 10.0), ("a", 2, 1, None, 11.0), ("a", 3, 1, 0.1, 13.0),
                    ("b", 3, 1, 2.0, 12.0)]
    m = store.get_run(rid).summary["metrics"]["a"]
    assert (m["last"], m["last_step"], m["best"], m["best_step"], m["max"]) == (0.1, 3, 0.1, 3, 0.5)
    with pytest.raises(ValueError, match="5 fields"):
        store.add_metrics(rid, [("a", 1, 0)])


def test_ties_for_best_go_to_the_lowest_step(any_store):
    store = any_store
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("val/accuracy", [30, 10, 20], [0.9, 0.9, 0.5], epoch=2))
    m = store.get_run(rid).summary["metrics"]["val/accuracy"]
    assert (m["best"], m["best_step"], m["best_epoch"], m["last"]) == (0.9, 10, 2, 0.9)


def test_blocks_match_metrics_after_appends_rewrites_and_nan(store, db_url):
    rid = store.create_run(SPEC)
    rng = np.random.default_rng(3)
    store.add_metrics(rid, _pts("x", range(-40, 200), rng.normal(size=240)))  # negative steps too
    store.add_metrics(rid, _pts("x", range(200, 300), rng.normal(size=100)))
    # A resumed run repeats steps: a new spike, and an old extreme taken back.
    store.add_metrics(rid, _pts("x", [50, 51], [99.0, float("nan")])
                      + _pts("y", range(70), np.full(70, np.nan)))
    assert _blocks(db_url) == _con(db_url).execute(BLOCKS_FROM_METRICS).fetchall()
    (c,) = store.get_curves([rid], ["x"], buckets=8)
    assert c.reduced and c.maxs.max() == 99.0
    (y,) = store.get_curves([rid], ["y"], buckets=4)
    assert y.reduced and np.isnan(y.mins).all() and len(y) == 4  # all-NULL buckets stay


@pytest.mark.parametrize("buckets", [3, 7, 64, 500, 2000])
def test_block_reduction_agrees_with_a_plain_group_by(store, buckets):
    rid = store.create_run(SPEC)
    rng = np.random.default_rng(buckets)
    steps = np.unique(np.concatenate([rng.integers(-500, 20_000, size=4000),
                                      np.arange(5000, 9000)]))  # gaps, a dense run, negatives
    vals = rng.normal(size=steps.size)
    vals[rng.integers(0, steps.size, size=50)] = np.nan
    for part in np.array_split(np.arange(steps.size), 7):  # several batches
        store.add_metrics(rid, _pts("x", steps[part], vals[part]))
    rows = _agree(store, rid, "x", buckets)
    assert sum(r[6] for r in rows) == steps.size


def test_an_existing_store_gets_its_blocks_on_open(tmp_path):
    path = tmp_path / "old.db"
    engine = create_db_engine(f"sqlite:///{path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:  # a store written before metric_blocks existed
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql("INSERT INTO runs (id, name, status, spec, created_at, summary, "
                             "notes, tags, starred) VALUES (1, 'old', 'completed', '{}', "
                             "'2026-01-01 00:00:00.000000', '{}', '', '[]', 0)")
        conn.exec_driver_sql(
            "INSERT INTO metrics VALUES (1, 'loss', ?, 0, ?, 0.0)",
            [(s, math.sin(s / 10)) for s in range(1000)])
    engine.dispose()
    url = f"sqlite:///{path}"
    with RunStore(url) as store:
        (c,) = store.get_curves([1], ["loss"], buckets=10)
        assert c.reduced and len(c) == 10 and c.maxs.max() == max(math.sin(s / 10)
                                                                  for s in range(1000))
        _agree(store, 1, "loss", 10)
    assert len(_blocks(url)) == 32  # 1000 steps / 32 per block


def test_the_portable_path_writes_what_the_sqlite_path_writes(tmp_path):
    pts = _pts("val/loss", range(50), np.linspace(1, 0, 50)) + _pts("lr", [49], [0.1])
    results = []
    for name in ("fast", "portable"):
        url = f"sqlite:///{tmp_path / name}.db"
        with RunStore(url) as store:
            rid = store.create_run(SPEC)
            if name == "fast":
                store.add_metrics(rid, pts)
            else:  # the Session path other databases take, run on SQLite
                with Session(store._writer) as s, s.begin():
                    add_metrics_session(s, rid, to_batch(pts), utcnow)
            summary = store.get_run(rid).summary
        rows = _con(url).execute("SELECT * FROM metrics ORDER BY key, step").fetchall()
        results.append((rows, summary))
    assert results[0] == results[1]


def test_a_failed_batch_leaves_nothing_behind_on_any_database(any_store, monkeypatch):
    import engine.store.summary as summary

    store = any_store
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("a", [1], [1.0]))

    def fail(*_args):
        raise RuntimeError("summary broke")

    monkeypatch.setattr(summary, "apply_batch", fail)  # after the rows went in, on either path
    with pytest.raises(RuntimeError, match="summary broke"):
        store.add_metrics(rid, _pts("a", [2, 3], [2.0, 3.0]))
    assert _rows(store, "SELECT step FROM metrics") == [(1,)]
    monkeypatch.undo()
    store.add_metrics(rid, _pts("a", [2], [2.0]))  # the pooled connection is usable again
    assert store.get_run(rid).summary["metrics"]["a"]["last"] == 2.0


def test_a_long_curve_is_bucketed_by_whole_blocks_with_its_extremes_and_last_points(store, db_url):
    """A plot's read of a long curve: buckets of whole 32-step blocks, from
    metric_blocks in two statements, checked against numpy on the raw points."""
    from engine.store.reduce import blocks_per_bucket, bucket_edges

    rng = np.random.default_rng(11)
    steps = np.union1d(np.arange(-50, 60_000, 3), np.arange(70_000, 90_000))  # a gap, and a denser stretch
    vals = rng.normal(size=steps.size)
    vals[[7, 4000, 25_000]] = [40.0, -40.0, np.nan]
    vals[steps >= 89_000] = np.nan  # an all-NaN tail: its buckets keep NULL extremes
    rid = store.create_run(SPEC)
    for part in np.array_split(np.arange(steps.size), 4):
        store.add_metrics(rid, _pts("x", steps[part], vals[part]))
    k = blocks_per_bucket(int(steps[0]), int(steps[-1]), 300)
    assert k == 10  # 2,814 blocks in 300 buckets
    (c,) = store.get_curves([rid], ["x"], buckets=300)
    bucket = ((steps >> 5) - (int(steps[0]) >> 5)) // k
    ref = {b: np.flatnonzero(bucket == b) for b in np.unique(bucket)}
    assert c.reduced and len(c) == len(ref) <= 300 and len(c) >= 225  # >= 3/4 of the buckets asked for
    assert c.steps.tolist() == [int(steps[i[-1]]) for i in ref.values()]
    assert np.array_equal(c.values, vals[[i[-1] for i in ref.values()]], equal_nan=True)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(c.mins, [np.nanmin(vals[i]) if not np.isnan(vals[i]).all() else np.nan
                                               for i in ref.values()])
    assert np.nanmax(c.maxs) == 40.0 and np.nanmin(c.mins) == -40.0 and np.isnan(c.maxs[-1])
    assert not ((c.steps > 60_000) & (c.steps < 70_000)).any()  # the gap stays a gap
    # Zoomed in, buckets stay equal slices of the range asked for.
    (z,) = store.get_curves([rid], ["x"], buckets=300, step_range=(70_000, 79_999))
    assert len(z) == 300 and z.steps[0] == bucket_edges(70_000, 79_999, 300)[1] - 1 == 70_033


def test_a_long_curve_without_blocks_is_still_reduced_from_its_points(store, db_url):
    """metric_blocks emptied behind the store's back (a writer that bypassed
    it): the reduction falls back to equal slices read from the points."""
    rid = store.create_run(SPEC)
    steps = np.arange(0, 40_000)
    store.add_metrics(rid, _pts("x", steps, np.cos(steps / 300.0)))
    (before,) = store.get_curves([rid], ["x"], buckets=400)
    with _con(db_url) as con:
        con.execute("DELETE FROM metric_blocks")
    (after,) = store.get_curves([rid], ["x"], buckets=400)
    assert len(after) == 400  # equal slices: the blocks were not there to use
    assert len(before) == 313  # whole blocks: 1,250 of them, 4 a bucket
    assert after.steps[-1] == before.steps[-1] == 39_999 and after.values[-1] == np.cos(39_999 / 300.0)


@pytest.mark.parametrize("pattern", ["dense", "sparse_and_a_burst", "long"])
def test_every_database_reduces_as_sqlite_does(any_store, tmp_path, pattern):
    """The grouped reduction (PostgreSQL) and the block one (SQLite) give the
    same curve from the same points."""
    rng = np.random.default_rng(7)
    if pattern == "dense":
        steps, buckets = np.unique(np.concatenate([rng.integers(-300, 40_000, size=6000),
                                                   np.arange(10_000, 16_000)])), 500
    elif pattern == "sparse_and_a_burst":
        steps, buckets = np.union1d(np.arange(999, 50_000, 1000), np.arange(20_000, 20_700)), 200
    else:  # long enough to be bucketed by whole blocks (blocks_per_bucket)
        steps, buckets = np.union1d(np.arange(-40, 120_000, 7), np.arange(30_000, 31_000)), 400
    vals = rng.normal(size=steps.size)
    vals[rng.integers(0, steps.size, size=30)] = np.nan
    curves = []
    for store in (any_store, RunStore(f"sqlite:///{tmp_path / 'reference.db'}")):
        rid = store.create_run(SPEC)
        for part in np.array_split(np.arange(steps.size), 5):
            store.add_metrics(rid, _pts("x", steps[part], vals[part]))
        curves.append(store.get_curves([rid], ["x"], buckets=buckets)[0])
        curves.append(store.get_curves([rid], ["x"], buckets=buckets,
                                       step_range=(int(steps[100]), int(steps[-100])))[0])
        store.close()
    for mine, sqlite_ in zip(curves[:2], curves[2:]):
        assert mine.reduced and sqlite_.reduced
        for field in ("steps", "epochs", "values", "wall_times", "mins", "maxs"):
            np.testing.assert_array_equal(getattr(mine, field), getattr(sqlite_, field), err_msg=field)


def test_a_failed_batch_leaves_nothing_behind(store, db_url, monkeypatch):
    import engine.store.upsert as upsert

    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("a", [1], [1.0]))
    with pytest.raises(ValueError):  # refused before any write
        store.add_metrics(rid, [("a", 2, 0, "not a number", 1.0)])

    def fail(*_args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(upsert, "refresh_blocks_sqlite", fail)  # after the rows went in
    with pytest.raises(Exception, match="disk I/O error") as e:
        store.add_metrics(rid, _pts("a", [2], [2.0]))
    assert type(e.value).__module__.startswith("sqlalchemy")  # as from every other method
    assert _con(db_url).execute("SELECT count(*) FROM metrics").fetchone() == (1,)
    monkeypatch.undo()
    store.add_metrics(rid, _pts("a", [2], [2.0]))  # the pooled connection is usable again
    assert store.get_run(rid).summary["metrics"]["a"]["last"] == 2.0


def test_heartbeat_is_stamped_and_delete_takes_the_blocks(store, db_url):
    rid = store.create_run(SPEC, status="running")
    before = store.get_run(rid).heartbeat_at
    store.add_metrics(rid, _pts("x", range(100), np.ones(100)))
    after = store.get_run(rid).heartbeat_at  # read back through SQLAlchemy's DateTime
    assert after.tzinfo is not None and after >= before
    assert len(_blocks(db_url)) == 4
    store.set_status(rid, "completed")
    store.delete_run(rid)
    assert _blocks(db_url) == []


# --- many writers at once ------------------------------------------------------------

WRITERS = 8
BATCHES = 30
STEPS_PER_BATCH = 50
WRITER_KEYS = ("train/loss_step", "lr", "throughput")
WRITER = textwrap.dedent("""
    import pathlib, sys, time
    from engine.store import RunStore
    url, name, barrier, writers = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), int(sys.argv[4])
    batches, steps, keys = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].split(",")
    store = RunStore(url)
    rid = store.create_run({"name": name})
    store.set_status(rid, "running")
    (barrier / name).touch()  # start together, so that they really write at the same time
    deadline = time.time() + 60
    while len(list(barrier.iterdir())) < writers and time.time() < deadline:
        time.sleep(0.01)
    for b in range(batches):
        # (key, step, epoch, value, wall_time) tuples, as a worker's store writer sends them;
        # every third batch repeats the previous batch's last step (a resumed run does).
        first = b * steps - (1 if b % 3 == 2 else 0)
        store.add_metrics(rid, [(k, s, b, s / 7.0, time.time())
                                for s in range(first, (b + 1) * steps) for k in keys])
        store.update_summary(rid, {"batches": b + 1})
    store.set_status(rid, "completed")
    store.close()
""")


def test_eight_writer_processes_lose_no_row(pg_url, tmp_path):
    """Eight worker-like processes write metric batches into one PostgreSQL
    store at once: every (run, key, step) is there, once, with its value, and
    every summary holds every batch."""
    RunStore(pg_url).close()  # migrate first, as the supervisor would
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    args = [str(WRITERS), str(BATCHES), str(STEPS_PER_BATCH), ",".join(WRITER_KEYS)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg_url, f"w{i}", str(barrier), *args],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(WRITERS)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * WRITERS, [err for _, err in outs]
    steps = BATCHES * STEPS_PER_BATCH
    with RunStore(pg_url) as store:
        runs = store.list_runs()
        assert len(runs) == WRITERS and {r.status for r in runs} == {"completed"}
        counts = _rows(store, "SELECT run_id, key, count(*), count(DISTINCT step), min(step), max(step), "
                              "sum(CASE WHEN value = step / 7.0 THEN 1 ELSE 0 END) "
                              "FROM metrics GROUP BY run_id, key ORDER BY run_id, key")
        assert counts == [(r.id, k, steps, steps, 0, steps - 1, steps)
                          for r in sorted(runs, key=lambda r: r.id) for k in sorted(WRITER_KEYS)]
        for r in runs:
            assert r.summary["batches"] == BATCHES
            assert r.summary["metrics"]["lr"]["last_step"] == steps - 1
