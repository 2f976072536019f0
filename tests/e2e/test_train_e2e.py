"""End to end: the Runner starts real `python -m engine.worker` processes that
train iris on the CPU; we check the rows they wrote and the events we got."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine.protocol import Checkpoint, Epoch, Finished, Metrics, Started, Status

pytestmark = pytest.mark.slow

EPOCH_KEYS = {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr", "throughput", "epoch_time"}


def iris(epochs: int = 2, batch_size: int = 16, **extra) -> dict:
    spec = {"name": "e2e-iris", "seed": 3,
            "data": {"name": "iris", "val_fraction": 0.2, "test_fraction": 0.2},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.01},
            "training": {"epochs": epochs, "batch_size": batch_size, "device": "cpu"}}
    spec.update(extra)
    return spec


def test_a_real_worker_trains_iris_and_its_rows_and_events_agree(runner, events):
    run_id = runner.submit(iris(epochs=2))
    assert runner.wait(run_id, timeout=240) == "completed"
    store = runner.store

    run = store.get_run(run_id)
    assert run.status == "completed" and run.error is None and run.device == "cpu"
    assert run.pid is not None and run.started_at <= run.finished_at
    assert run.summary["params"] == 4 * 16 + 16 + 16 * 3 + 3

    keys = set(store.metric_keys([run_id])[run_id])
    assert EPOCH_KEYS | {"test/loss", "test/accuracy"} <= keys
    ends = {}
    for curve in store.get_curves([run_id], sorted(EPOCH_KEYS), buckets=None):
        assert list(curve.epochs) == [1, 2], curve.key  # one point per epoch
        ends[curve.key] = tuple(curve.steps)
    assert len(set(ends.values())) == 1  # all at the step where each epoch ended

    ckpts = {c.kind: c for c in store.checkpoints(run_id)}
    assert set(ckpts) == {"best", "last"} and all(Path(c.path).exists() for c in ckpts.values())
    assert ckpts["last"].epoch == 2

    system = {c.key for c in store.get_system_curves([run_id]) if len(c)}
    assert {"cpu/percent", "ram/used_mb", "proc/rss_mb"} <= system

    mine = events.of(run_id)
    assert [e.KIND for e in mine[:2]] == ["owned", "status"] and mine[1] == Status(run_id, "queued")
    assert isinstance(mine[-1], Finished) and mine[-1].status == "completed"
    streamed = [e for e in mine if e.seq]  # the worker's own lines (the runner's have seq 0)
    assert [e.seq for e in streamed] == sorted({e.seq for e in streamed})
    kinds = [type(e) for e in streamed]
    assert kinds.index(Started) < kinds.index(Metrics) < kinds.index(Epoch)
    assert [e.epoch for e in mine if isinstance(e, Epoch)] == [1, 2]
    assert {e.kind for e in mine if isinstance(e, Checkpoint)} == {"best", "last"}
    live = {p.key for e in mine if isinstance(e, Metrics) for p in e.points}
    assert EPOCH_KEYS <= live


def test_pause_resume_and_stop_a_real_worker(runner, events):
    run_id = runner.submit(iris(epochs=500, batch_size=1))
    events.wait_for(lambda e: isinstance(e, Epoch) and e.run_id == run_id)
    assert runner.pause(run_id)
    events.wait_for(lambda e: e == Status(run_id, "paused"))
    assert runner.store.get_run(run_id).status == "paused"
    seen = len(events.events)
    assert runner.resume(run_id)
    events.wait_for(lambda e: e == Status(run_id, "running"), after=seen)
    assert runner.store.get_run(run_id).status == "running"

    assert runner.stop(run_id)
    assert runner.wait(run_id, timeout=120) == "stopped"
    last = [c for c in runner.store.checkpoints(run_id) if c.kind == "last"]
    assert last and Path(last[0].path).exists()
    assert any(isinstance(e, Checkpoint) and e.kind == "last" for e in events.of(run_id))


def test_kill_9_of_a_real_worker_leaves_it_crashed_with_its_metrics(runner, events):
    run_id = runner.submit(iris(epochs=500, batch_size=1))
    pid = events.wait_for(lambda e: isinstance(e, Started) and e.run_id == run_id).pid
    events.wait_for(lambda e: isinstance(e, Epoch) and e.run_id == run_id and e.epoch >= 2)
    os.kill(pid, signal.SIGKILL)
    assert runner.wait(run_id, timeout=120) == "crashed"
    run = runner.store.get_run(run_id)
    assert "killed by SIGKILL" in run.error
    [val] = runner.store.get_curves([run_id], ["val/loss"], buckets=None)
    assert 1 in list(val.epochs)  # the epochs flushed before the kill are kept


def test_a_diverging_loss_fails_the_run_with_advice(runner, events):
    run_id = runner.submit(iris(epochs=5, optimizer={"type": "SGD", "lr": 1e30}))
    assert runner.wait(run_id, timeout=240) == "failed"
    run = runner.store.get_run(run_id)
    assert "loss became" in run.error and "try a lower learning rate" in run.error
    assert events.of(run_id)[-1] == Finished(run_id, status="failed", error=run.error)
