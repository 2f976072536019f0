"""RunStore.list_run_rows (the light listing behind the Runs table) and the
count-first curve reads, against a real SQLite file and (LAYERDECK_TEST_PG_URL)
a PostgreSQL database."""
from __future__ import annotations

import gc
import math
import sqlite3
import threading

import pytest
from sqlalchemy import create_engine, text

from engine.store import RunStore
from engine.store.listing import RunListing, paused_gc, spec_digest
from engine.store.listing_order import SortKey, sort_listings
from engine.training.callbacks import MetricPoint

SPEC = {"name": "cnn", "seed": 1,
        "data": {"name": "digits", "val_fraction": 0.2},
        "model": {"blocks": [{"type": "Conv2d", "out_channels": 8}, {"type": "ReLU"},
                             "not a block", {"kernel_size": 3}, {"type": "Linear"}]},
        "optimizer": {"type": "AdamW", "lr": 0.003},
        "training": {"epochs": 7, "batch_size": 64}}
TABLE = [("val/accuracy", "best"), ("val/loss", "best"), ("test/accuracy", "last")]


@pytest.fixture
def store(store_url):
    s = RunStore(store_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(db_url):
    s = RunStore(db_url)
    yield s
    s.close()


def _pts(key, steps, values):
    return [MetricPoint(key, int(s), 1, float(v), 1_700_000_000.0 + s) for s, v in zip(steps, values)]


def _sql(url: str, statement: str, **params) -> None:
    """A write from outside RunStore, as another tool would make it."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def test_listing_shows_what_a_full_run_holds(store):
    rid = store.create_run(SPEC, tags=["cnn", "demo"])
    store.add_metrics(rid, _pts("val/accuracy", [1, 2, 3], [0.5, 0.9, 0.8])
                      + _pts("val/loss", [1, 2, 3], [1.0, 0.4, 0.6]))
    store.update_summary(rid, {"params": 5210})
    store.set_status(rid, "running")
    store.set_starred(rid, True)
    (row,) = store.list_run_rows(metrics=TABLE)
    run = store.get_run(rid)
    assert isinstance(row, RunListing)
    assert (row.dataset, row.optimizer, row.lr, row.batch_size, row.epochs) == ("digits", "AdamW", 0.003, 64, 7)
    assert row.blocks == 5  # every entry of the list, as len() counts it
    assert row.arch == "Conv2d → ReLU → ? → Linear"  # object blocks only; no type is "?"
    assert {f: getattr(row, f) for f in spec_digest(SPEC)} == spec_digest(SPEC)
    assert row.params == 5210
    assert row.metric("val/accuracy", "best") == 0.9 and row.metric("val/loss", "best") == 0.4
    assert row.metric("test/accuracy", "last") is None  # never logged
    assert row.metric("val/loss", "last") == 0.6  # not prefetched: read from the summary
    assert row.tags == ["cnn", "demo"] and row.starred and row.is_active
    assert row.started_at == run.started_at and row.started_at.tzinfo is not None
    # Everything a Run has, spec and summary decoded on first use.
    assert row.to_run() == run
    assert row.spec == SPEC and row.summary == run.summary


def test_listing_filters_orders_and_limits_like_list_runs(store):
    ids = [store.create_run({"name": f"r{i}"}) for i in range(5)]
    store.set_status(ids[1], "failed")
    store.set_status(ids[3], "failed")
    assert [r.id for r in store.list_run_rows()] == [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_run_rows(order_by="name", descending=False, limit=2)] == ids[:2]
    assert [r.id for r in store.list_run_rows(status="failed")] == [ids[3], ids[1]]
    assert [r.id for r in store.list_run_rows(run_ids=[ids[0], ids[2], 999])] == [ids[2], ids[0]]
    assert store.list_run_rows(run_ids=[]) == []
    with pytest.raises(ValueError, match="cannot order runs by 'summary'"):
        store.list_run_rows(order_by="summary")


def test_a_run_without_spec_fields_or_metrics_lists_empty_values(store):
    store.create_run({})
    (row,) = store.list_run_rows(metrics=[("val/accuracy", "best")])
    assert (row.dataset, row.optimizer, row.lr, row.blocks, row.arch, row.params) == (None, None, None, 0, "", None)
    assert row.metric("val/accuracy", "best") is None and row.summary == {}
    (row,) = store.list_run_rows()  # no metric asked for
    assert row.metrics == {} and row.params is None


def test_malformed_json_written_by_another_tool_still_lists(store):
    good = store.create_run(SPEC)
    store.add_metrics(good, _pts("val/accuracy", [1], [0.7]))
    bad = store.create_run(SPEC, tags=["x"])
    _sql(store.url, "UPDATE runs SET spec = '{broken', summary = 'nope', tags = '[' WHERE id = :r", r=bad)
    rows = {r.id: r for r in store.list_run_rows(metrics=[("val/accuracy", "best")])}
    assert rows[good].metric("val/accuracy", "best") == 0.7 and rows[good].dataset == "digits"
    broken = rows[bad]
    assert broken.dataset is None and broken.blocks == 0 and broken.tags == []
    assert broken.spec == {} and broken.summary == {} and broken.metric("val/accuracy", "best") is None


def test_a_metric_key_sql_cannot_quote_is_read_from_the_summary(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts('odd"key', [1, 2], [2.0, 1.0]) + _pts("val/loss", [1], [0.3]))
    (row,) = store.list_run_rows(metrics=[('odd"key', "min"), ("val/loss", "last")])
    assert row.metric('odd"key', "min") == 1.0 and row.metric("val/loss", "last") == 0.3


def test_a_curve_with_few_points_is_read_whole_however_far_apart(store):
    rid = store.create_run(SPEC)
    # Two points in what would be one bucket of ten over this range.
    steps = [0, 1, 50_000, 100_000]
    store.add_metrics(rid, _pts("val/loss", steps, [4.0, 3.0, 2.0, float("nan")]))
    (c,) = store.get_curves([rid], buckets=10)
    assert not c.reduced and c.steps.tolist() == steps
    assert c.values[:3].tolist() == [4.0, 3.0, 2.0] and math.isnan(c.values[3])
    (z,) = store.get_curves([rid], buckets=10, step_range=(1, 50_000))
    assert z.steps.tolist() == [1, 50_000]


def test_a_curve_with_more_points_than_buckets_is_reduced(store):
    rid = store.create_run(SPEC)
    store.add_metrics(rid, _pts("train/loss_step", range(1, 1001), [float(s % 7) for s in range(1, 1001)]))
    (c,) = store.get_curves([rid], buckets=50)
    assert c.reduced and len(c) == 50 and c.maxs.max() == 6.0 and c.mins.min() == 0.0
    (few,) = store.get_curves([rid], buckets=50, step_range=(100, 140))
    assert not few.reduced and few.steps.tolist() == list(range(100, 141))


def test_other_databases_get_the_same_listing_from_python(sqlite_store, monkeypatch):
    store = sqlite_store
    rid = store.create_run(SPEC, tags=["t"])
    store.add_metrics(rid, _pts("val/accuracy", [1, 2], [0.6, 0.8]))
    store.create_run({"name": "bare"})
    in_sql = store.list_run_rows(metrics=TABLE)
    # The portable path (PostgreSQL): same query, digest and values computed in Python.
    monkeypatch.setattr(store._engine.dialect, "name", "postgresql")
    in_python = store.list_run_rows(metrics=TABLE)
    fields = ("id", "name", "tags", "created_at", "dataset", "optimizer", "lr", "batch_size", "epochs",
              "blocks", "arch", "params", "metrics")
    assert [[getattr(r, f) for f in fields] for r in in_python] == [[getattr(r, f) for f in fields] for r in in_sql]


def test_paused_gc_keeps_the_collector_off_until_the_last_reader_is_done():
    assert gc.isenabled()
    inside, leave = threading.Event(), threading.Event()

    def reader():
        with paused_gc():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=reader)
    t.start()
    inside.wait(10)
    with paused_gc():  # two readers at once, on two threads
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other reader still builds its objects
    leave.set()
    t.join(10)
    assert gc.isenabled()
    gc.disable()  # whoever turned it off keeps it off
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_listing_errors_leave_the_collector_on(sqlite_store, monkeypatch):
    store = sqlite_store
    import engine.store.listing as listing

    def broken(*_a, **_k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(listing, "_read_sqlite", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.list_run_rows()
    assert gc.isenabled()


def test_a_filter_over_listings_matches_the_full_runs_without_decoding_their_json(store):
    from engine.query import parse_query

    for i, (opt, lr, acc) in enumerate([("AdamW", 1e-3, 0.95), ("SGD", 1e-2, 0.97), ("adamw", 3e-3, 0.80)]):
        rid = store.create_run({"name": f"r{i}", "data": {"name": "digits"}, "optimizer": {"type": opt, "lr": lr},
                                "training": {"batch_size": 32 * (i + 1), "epochs": 5}})
        store.add_metrics(rid, [MetricPoint("val/accuracy", 1, 1, acc, 1.0)])
    query = parse_query('val/accuracy > 0.9 and optimizer.type == "adamw" and dataset == "digits" and lr < 0.01 '
                        'and batch_size >= 32 and epochs == 5')
    listings = store.list_run_rows(metrics=[("val/accuracy", "best")])
    kept = query.filter(listings)
    assert [r.name for r in kept] == [r.name for r in query.filter(store.list_runs())] == ["r0"]
    if store.url.startswith("sqlite"):  # served from what SQLite read out of the JSON: nothing decoded here
        assert all(r._spec is None and r._summary is None for r in listings)


BEST_VAL = SortKey(document="summary", paths=(("metrics", "val/accuracy", "best"), ("metrics", "val/r2", "best")),
                   numeric=True)


def _ranked_store(store) -> list[int]:
    """Six runs: best val 0.7, none, 0.9 (as r2), a string, 0.7, 0.95."""
    ids = []
    for i, best in enumerate([("val/accuracy", 0.7), None, ("val/r2", 0.9), ("val/accuracy", "n/a"),
                              ("val/accuracy", 0.7), ("val/accuracy", 0.95)]):
        rid = store.create_run({"name": f"Run {'BaCa'[i % 4]}{i}", "optimizer": {"type": "SGD", "lr": 0.1 / (i + 1)}})
        if best is not None:
            store.update_summary(rid, {"metrics": {best[0]: {"best": best[1]}}})
        ids.append(rid)
    return ids


def test_a_listing_sorted_by_a_metric_gives_the_true_top_runs_and_the_ones_without_it_last(store):
    ids = _ranked_store(store)
    top = store.list_run_rows(order_by=BEST_VAL, descending=True, limit=3)
    assert [r.id for r in top] == [ids[5], ids[2], ids[4]]  # 0.95, 0.9 (r2), then 0.7: the newer tie first
    every = [r.id for r in store.list_run_rows(order_by=BEST_VAL, descending=False)]
    # ascending: 0.7 (newer first), 0.7, 0.9, 0.95, then no value (the string counts as none), newest first
    assert every == [ids[4], ids[0], ids[2], ids[5], ids[3], ids[1]]
    by_lr = store.list_run_rows(order_by=SortKey(document="spec", paths=(("optimizer", "lr"),), numeric=True),
                                descending=False, limit=2)
    assert [r.id for r in by_lr] == [ids[5], ids[4]]  # the smallest learning rates
    by_name = store.list_run_rows(order_by=SortKey(column="name"), descending=False)
    assert [r.name for r in by_name] == ["Run a1", "Run a3", "Run a5", "Run B0", "Run B4", "Run C2"]  # any case
    assert store.count_runs() == 6 and store.count_runs(status="queued") == 6
    assert store.count_runs(status=["running", "failed"]) == 0


def test_the_sql_order_and_the_python_order_agree(store, monkeypatch):
    import engine.store.runstore as runstore

    def no_fallback(*_a):
        raise AssertionError("the database's ORDER BY failed: the listing fell back to sorting in Python")

    monkeypatch.setattr(runstore, "sort_listings", no_fallback)
    ids = _ranked_store(store)
    for rid in ids[1::2]:
        store.set_status(rid, "running")
    store.set_status(ids[3], "completed")
    store.set_starred(ids[2], True)
    store.set_tags(ids[4], ["b", "A"])
    listings = store.list_run_rows()
    for key in (BEST_VAL, SortKey(column="name"), SortKey(column="started"), SortKey(column="starred"),
                SortKey(column="duration"), SortKey(column="tags"), SortKey(column="status"),
                SortKey(document="spec", paths=(("optimizer", "type"),))):
        for descending in (True, False):
            in_sql = [r.id for r in store.list_run_rows(order_by=key, descending=descending)]
            assert in_sql == [r.id for r in sort_listings(listings, key, descending)], (key, descending)
    assert sorted(in_sql) == sorted(ids)


def test_a_malformed_document_does_not_fail_a_sorted_listing(store):
    ids = _ranked_store(store)
    _sql(store.url, "UPDATE runs SET summary = '{not json' WHERE id = :i", i=ids[5])
    top = store.list_run_rows(order_by=BEST_VAL, limit=2)
    assert [r.id for r in top] == [ids[2], ids[4]]  # the broken run has no value: last
    assert store.list_run_rows(order_by=BEST_VAL)[-3].id == ids[5]


def test_a_sort_key_names_what_it_cannot_sort_by():
    with pytest.raises(ValueError, match="cannot sort runs by column 'colour'.*use one of"):
        SortKey(column="colour")
    with pytest.raises(ValueError, match="a run column, or a document"):
        SortKey(document="notes", paths=(("a",),))
