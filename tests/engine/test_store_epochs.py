"""engine.store.epochs.epoch_ends: a metric's value at the end of each epoch
for many runs, in one statement, on SQLite and PostgreSQL."""
from __future__ import annotations

import math

import pytest
from sqlalchemy import event

from engine.store import RunStore
from engine.store.epochs import epoch_ends
from engine.training.callbacks import MetricPoint

SPEC = {"name": "r", "data": {"name": "iris"}, "model": {"blocks": [{"type": "Linear", "out_features": 3}]},
        "training": {"epochs": 3}}


def test_the_last_value_of_each_epoch_for_every_run_in_one_statement(store_url):
    with RunStore(store_url) as store:
        runs = [store.create_run(SPEC) for _ in range(3)]
        # Run 0: the metric logged every step, three steps an epoch, and a point at epoch 0 (before training).
        store.add_metrics(runs[0], [MetricPoint("val/accuracy", 0, 0, 0.1, 1.0)]
                          + [MetricPoint("val/accuracy", e * 3 + i, e, e + i / 10, 1.0 + e)
                             for e in (1, 2, 3) for i in (0, 1, 2)]
                          + [MetricPoint("train/loss", s, 1, 9.0, 1.0) for s in range(20)])
        # Run 1: once an epoch, NaN at epoch 2 (that epoch has no value to draw), pruned after 3 of 5.
        store.add_metrics(runs[1], [MetricPoint("val/accuracy", e * 10, e, v, 1.0)
                                    for e, v in ((1, 0.5), (2, math.nan), (3, 0.7))])
        # Run 2: other metrics only.
        store.add_metrics(runs[2], [MetricPoint("val/loss", 1, 1, 0.3, 1.0)])

        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(store._engine, "before_cursor_execute", listen)
        try:
            ends = epoch_ends(store, runs, "val/accuracy")
        finally:
            event.remove(store._engine, "before_cursor_execute", listen)
        assert epoch_ends(store, [], "val/accuracy") == {}
    assert ends == {runs[0]: ([1, 2, 3], [1.2, 2.2, 3.2]), runs[1]: ([1, 3], [0.5, 0.7])}
    assert len([s for s in statements if "metrics" in s]) == 1  # one statement, however many runs


def test_many_runs_are_read_in_chunks_without_losing_any(tmp_path, monkeypatch):
    from engine.store import epochs

    monkeypatch.setattr(epochs, "CHUNK", 4)
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}") as store:
        runs = [store.create_run(SPEC) for _ in range(10)]
        for n, run_id in enumerate(runs):
            store.add_metrics(run_id, [MetricPoint("val/accuracy", e, e, n + e / 10, 1.0) for e in range(1, n + 2)])
        ends = epoch_ends(store, runs, "val/accuracy")
    assert sorted(ends) == runs
    assert [len(ends[r][0]) for r in runs] == list(range(1, 11))
    assert ends[runs[9]][1][-1] == pytest.approx(9 + 1.0)
