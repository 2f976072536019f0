"""Data-parallel runs (training.distributed): the Runner starts torchrun with
two gloo processes on the CPU; rank 0 alone writes the run's rows and events,
every rank its system samples, and both pause and stop together."""
from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest

from engine.protocol import Checkpoint, Epoch, Metrics, Started, Status
from engine.runner import external
from engine.spec import parse_spec

pytestmark = pytest.mark.slow

TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "templates" / "digits_mlp.json"


def digits(**training) -> dict:
    spec = json.loads(TEMPLATE.read_text())
    spec["training"].update({"device": "cpu", **training})
    return spec


def workers_of(db_url: str) -> list[psutil.Process]:
    """Processes still running with this store on their command line (torchrun and its ranks)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if db_url in (p.info["cmdline"] or []):
            found.append(p)
    return found


def test_two_processes_train_digits_as_well_as_one(runner, events, db_url, tmp_path):
    from engine.training import train

    run_id = runner.submit(digits(distributed={"nproc": 2, "backend": "gloo"}))
    assert runner.wait(run_id, timeout=240) == "completed", runner.store.get_run(run_id).error
    store = runner.store

    # Rank 0 alone streamed and wrote: one Started, each epoch once, each step's point once.
    mine = events.of(run_id)
    assert len([e for e in mine if isinstance(e, Started)]) == 1
    epochs = [e.epoch for e in mine if isinstance(e, Epoch)]
    assert epochs == list(range(1, len(epochs) + 1))
    val_steps = [p.step for e in mine if isinstance(e, Metrics) for p in e.points if p.key == "val/accuracy"]
    assert len(val_steps) == len(set(val_steps)) == len(epochs)
    [curve] = store.get_curves([run_id], ["val/accuracy"], buckets=None)
    assert list(curve.epochs) == epochs
    assert {c.kind for c in store.checkpoints(run_id)} == {"best", "last"}

    # Every rank's system samples are kept; rank 1's under its own keys.
    system = {c.key for c in store.get_system_curves([run_id]) if len(c)}
    assert {"cpu/percent", "proc/rss_mb", "rank1/cpu/percent", "rank1/proc/rss_mb"} <= system
    assert not workers_of(db_url)

    # The same global batch in one process reaches the same validation accuracy (within 1 point).
    single = train(parse_spec(digits()), checkpoint_dir=tmp_path / "single")
    two = store.get_run(run_id).summary["metrics"]["val/accuracy"]["last"]
    one = single.final_metrics["val/accuracy"]
    print(f"digits_mlp val/accuracy: 1 process {one:.4f}, 2 processes {two:.4f}")
    assert abs(two - one) <= 0.01


def test_a_distributed_run_pauses_and_stops_as_one(runner, events, db_url):
    spec = digits(epochs=2000, distributed={"nproc": 2})
    spec["regularization"] = {}
    run_id = runner.submit(spec)
    events.wait_for(lambda e: isinstance(e, Epoch) and e.run_id == run_id, timeout=120)
    assert runner.pause(run_id)
    events.wait_for(lambda e: e == Status(run_id, "paused"))
    steps = len(events.of(run_id, Metrics))
    time.sleep(1.5)
    assert len(events.of(run_id, Metrics)) <= steps + 1  # at most the points sent as it paused
    assert runner.store.get_run(run_id).status == "paused"
    seen = len(events.events)
    assert runner.resume(run_id)
    events.wait_for(lambda e: e == Status(run_id, "running"), after=seen)

    # The recorded pid is rank 0's worker, verified as this run's: a signal stops every rank.
    proc, problem = external.check(runner.store, run_id, "stop")
    assert problem is None and proc is not None
    assert "engine.worker" in proc.cmdline()
    assert external.send(proc, run_id, "stop") is None
    assert runner.wait(run_id, timeout=120) == "stopped"
    last = [c for c in runner.store.checkpoints(run_id) if c.kind == "last"]
    assert last and Path(last[0].path).exists()
    assert any(isinstance(e, Checkpoint) and e.kind == "last" for e in events.of(run_id))
    deadline = time.monotonic() + 10
    while workers_of(db_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not workers_of(db_url)


def test_a_rank_killed_mid_run_fails_the_run_instead_of_hanging(runner, events, db_url):
    import os
    import signal

    spec = digits(epochs=2000, distributed={"nproc": 2})
    spec["regularization"] = {}
    run_id = runner.submit(spec)
    rank0 = events.wait_for(lambda e: isinstance(e, Started) and e.run_id == run_id, timeout=120).pid
    events.wait_for(lambda e: isinstance(e, Epoch) and e.run_id == run_id, timeout=120)
    [rank1] = [p for p in workers_of(db_url)
               if p.pid != rank0 and "torch.distributed.run" not in p.cmdline()]
    os.kill(rank1.pid, signal.SIGKILL)
    assert runner.wait(run_id, timeout=60) == "failed"
    assert "another process of this data-parallel run ended unexpectedly" in runner.store.get_run(run_id).error
