"""The fast metric path: batches as columns, the driver-level SQLite write,
metric_blocks kept exact, and reduced reads built on them."""
from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from engine.store import RunStore
from engine.store.batch import to_batch
from engine.store.convert import utcnow
from engine.store.db import MIGRATIONS_DIR, create_db_engine
from engine.store.reduce import _grouped_bucket_rows, _metric_where, _sqlite_bucket_rows
from engine.store.upsert import add_metrics_session
from engine.training.callbacks import MetricPoint

SPEC = {"name": "ingest"}
BLOCKS_FROM_METRICS = ("SELECT run_id, key, step >> 5, count(*), min(value), max(value), "
                       "max(step) FROM metrics GROUP BY run_id, key, step >> 5 ORDER BY 1, 2, 3")


@pytest.fixture
def store(db_url):
    s = RunStore(db_url)
    yield s
    s.close()


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


def test_point_shapes_none_epochs_and_repeats_in_one_batch(store, db_url):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, [("a", 1, None, 0.5, 10.0)])
    store.add_metrics(rid, [{"key": "a", "step": 2, "epoch": 1, "value": None, "wall_time": 11.0}])
    store.add_metrics(rid, [MetricPoint("a", 3, 1, 0.9, 12.0), MetricPoint("a", 3, 1, 0.1, 13.0),
                            MetricPoint("b", 3, 1, 2.0, 12.0)])
    rows = _con(db_url).execute("SELECT key, step, epoch, value, wall_time FROM metrics "
                                "ORDER BY key, step").fetchall()
    # A None epoch is 0, a None value NULL, and of two points at one step the later wins.
    assert rows == [("a", 1, 0, 0.5, 10.0), ("a", 2, 1, None, 11.0), ("a", 3, 1, 0.1, 13.0),
                    ("b", 3, 1, 2.0, 12.0)]
    m = store.get_run(rid).summary["metrics"]["a"]
    assert (m["last"], m["last_step"], m["best"], m["best_step"], m["max"]) == (0.1, 3, 0.1, 3, 0.5)
    with pytest.raises(ValueError, match="5 fields"):
        store.add_metrics(rid, [("a", 1, 0)])


def test_ties_for_best_go_to_the_lowest_step(store):
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
