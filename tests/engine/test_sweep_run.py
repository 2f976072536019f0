"""Sweeps with real trials: every trial a real worker process training iris
for a few epochs (or a few hundred where a trial must still be running when
something happens to it), recorded in a real SQLite store."""
from __future__ import annotations

import itertools
import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.runner.paths import log_path
from engine.store import RunStore
from engine.sweeps import parse_sweep
from engine.sweeps.control import request
from engine.sweeps.supervisor import SweepSupervisor, TrialResult, start_sweep
from engine.sweeps.trials import list_trials

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LAYERDECK = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]


def iris(epochs: int = 1) -> dict:
    return {"name": "iris-mlp", "seed": 1, "data": {"name": "iris", "val_fraction": 0.3},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.01},
            "training": {"epochs": epochs, "batch_size": 16, "device": "cpu"}}


def grid_lr(values: list[float], epochs: int, **changes) -> dict:
    return {"name": "lr", "base": iris(epochs), "method": "grid", "metric": "val/accuracy", "parallel": 1,
            "parameters": {"optimizer.lr": {"values": values}}, **changes}


def grid_epochs(values: list[int]) -> dict:
    """Trials that differ in length: a long one to pause, stop or kill, short ones around it."""
    return {"name": "epochs", "base": iris(1), "method": "grid", "metric": "val/accuracy", "parallel": 1,
            "parameters": {"training.epochs": {"values": values}}}


def run_sweep(db_url: str, document: dict) -> tuple[int, str, list[TrialResult]]:
    with RunStore(db_url) as store:
        sweep_id = start_sweep(store, parse_sweep(document))
    results: list[TrialResult] = []
    status = SweepSupervisor(db_url, sweep_id, on_trial=results.append).run()
    return sweep_id, status, results


def wait_for(what, timeout: float = 120.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what.__doc__ or what}")


def test_a_2x2_grid_runs_exactly_its_four_combinations_as_runs_of_the_sweep(tmp_path, capsys):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    lrs, widths = [0.05, 0.005], [8, 16]
    sweep_id, status, results = run_sweep(db_url, {
        "name": "grid", "base": iris(2), "method": "grid", "metric": "val/accuracy", "parallel": 2,
        "parameters": {"optimizer.lr": {"values": lrs}, "model.blocks.0.out_features": {"values": widths}}})
    assert status == "completed"
    with RunStore(db_url) as store:
        runs = store.list_runs(sweep_id=sweep_id)
        sweep = store.get_sweep(sweep_id)
        trials = list_trials(store, sweep_id)
    assert len(runs) == 4 and len(store.list_runs()) == 4
    assert sorted(r.trial_number for r in runs) == [1, 2, 3, 4]
    assert {(t.params["optimizer.lr"], t.params["model.blocks.0.out_features"]) for t in trials} \
        == set(itertools.product(lrs, widths))
    assert all(r.status == "completed" for r in runs)
    for t in trials:  # each run trained what its parameters say
        run = next(r for r in runs if r.id == t.run_id)
        assert run.spec["optimizer"]["lr"] == t.params["optimizer.lr"]
        assert run.spec["model"]["blocks"][0]["out_features"] == t.params["model.blocks.0.out_features"]
    best = max(trials, key=lambda t: t.value or -1)
    assert sweep.status == "completed" and sweep.best_run_id == best.run_id
    assert sweep.state["finished"] == 4 and sweep.state["best_value"] == pytest.approx(best.value)
    assert sorted(r.number for r in results) == [1, 2, 3, 4] and all(r.status == "completed" for r in results)
    # Two trials at once on this machine: each worker took half the cores, not all of them.
    assert "shared by 2 (the runner's CPU concurrency)" in log_path(db_url, runs[0].id).read_text()

    assert main(["runs", "list", "--sweep", str(sweep_id), "--db", db_url]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:2] == ["ID", "TRIAL"] and len(listed) == 5
    assert main(["sweeps", "show", str(sweep_id), "--db", db_url]) == 0
    shown = capsys.readouterr().out
    table = shown[shown.index("TRIAL"):].splitlines()
    assert table[1].split()[1] == str(best.run_id)  # the best trial first


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_random_and_tpe_run_as_many_trials_as_asked_within_the_ranges(tmp_path, method):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    sweep_id, status, results = run_sweep(db_url, {
        "name": method, "base": iris(1), "method": method, "metric": "val/loss", "trials": 2, "parallel": 2,
        "seed": 7, "parameters": {"optimizer.lr": {"log_uniform": [0.001, 0.1]},
                                  "training.batch_size": {"int": [8, 32]}}})
    assert status == "completed"
    with RunStore(db_url) as store:
        runs = store.list_runs(sweep_id=sweep_id)
        assert store.get_sweep(sweep_id).goal == "minimize"  # a loss: lower is better
    assert sorted(r.trial_number for r in runs) == [1, 2]
    for r in runs:
        assert 0.001 <= r.spec["optimizer"]["lr"] <= 0.1 and 8 <= r.spec["training"]["batch_size"] <= 32
    assert len({r.spec["optimizer"]["lr"] for r in runs}) == 2  # sampled, not one value repeated
    assert all(r.status == "completed" and r.value is not None for r in results)


def test_the_median_pruner_stops_a_hopeless_trial_early_and_keeps_its_checkpoint(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    epochs = 25
    sweep_id, status, results = run_sweep(db_url, grid_lr(
        [0.05, 1e-7], epochs, pruner={"type": "median", "startup_trials": 1, "warmup_epochs": 5}))
    assert status == "completed"
    good, bad = sorted(results, key=lambda r: r.number)
    assert good.status == "completed" and bad.status == "pruned", results
    with RunStore(db_url) as store:
        run = store.get_run(bad.run_id)
        curve = store.get_curves([bad.run_id], ["val/accuracy"], buckets=None)[0]
        checkpoints = {c.kind for c in store.checkpoints(bad.run_id)}
        sweep = store.get_sweep(sweep_id)
    assert run.status == "pruned" and run.error is None
    assert 5 <= int(curve.epochs.max()) < epochs  # judged after its warm-up, stopped long before the end
    assert "last" in checkpoints
    assert sweep.best_run_id == good.run_id and sweep.state["failures"] == 0


def test_a_sweep_pauses_resumes_and_stops_as_a_whole_then_resumes_without_repeating(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    store = RunStore(db_url)
    long = 400  # still training after a pause, a resume and a stop on a quiet machine (40 ended first in CI)
    sweep_id = start_sweep(store, parse_sweep(grid_epochs([long, 2])))
    ended: list[str] = []
    thread = threading.Thread(target=lambda: ended.append(SweepSupervisor(db_url, sweep_id).run()), daemon=True)
    thread.start()

    def first_running():
        """trial 1 training"""
        runs = store.list_runs(sweep_id=sweep_id)
        return runs and runs[0].status == "running" and (runs[0].summary.get("metrics") or {}) and runs[0]

    first = wait_for(first_running)
    assert "pause requested" in request(store, sweep_id, "pause")
    wait_for(lambda: store.get_run(first.id).status == "paused", timeout=30)
    time.sleep(1.0)
    assert len(store.list_runs(sweep_id=sweep_id)) == 1  # paused: no new trial starts
    assert request(store, sweep_id, "resume").endswith("resumed")
    wait_for(lambda: store.get_run(first.id).status != "paused", timeout=30)
    assert "stop requested" in request(store, sweep_id, "stop")
    thread.join(timeout=60)
    assert ended == ["stopped"]
    assert store.get_run(first.id).status == "stopped" and store.get_sweep(sweep_id).status == "stopped"
    assert any(c.kind == "last" for c in store.checkpoints(first.id))

    assert SweepSupervisor(db_url, sweep_id).run() == "completed"
    runs = {r.trial_number: r for r in store.list_runs(sweep_id=sweep_id)}
    assert sorted(runs) == [1, 2, 3]  # the stopped trial keeps its number; a new one continues it
    assert runs[1].status == "stopped" and runs[2].status == runs[3].status == "completed"
    continuation = next(r for r in runs.values() if r.parent_id == first.id)
    assert continuation.trial_number > 1 and continuation.spec["training"]["epochs"] == long
    assert {r.spec["training"]["epochs"] for r in runs.values() if r.status == "completed"} == {long, 2}
    stopped_at = int(store.get_curves([first.id], ["val/accuracy"], buckets=None)[0].epochs.max())
    continued = store.get_curves([continuation.id], ["val/accuracy"], buckets=None)[0]
    assert int(continued.epochs.min()) == stopped_at + 1 and int(continued.epochs.max()) == long
    assert store.get_sweep(sweep_id).state["finished"] == 2
    store.close()


def test_killing_layerdeck_sweep_and_resuming_finishes_without_duplicate_trial_numbers(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(grid_epochs([2, 40, 3])))
    sweep = subprocess.Popen([*LAYERDECK, "sweep", str(path), "--db", db_url], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = RunStore(db_url)

    def second_trial_training():
        """trial 2 training"""
        return any(r.trial_number == 2 and r.status == "running" and (r.summary.get("metrics") or {})
                   for r in store.list_runs())

    try:
        wait_for(second_trial_training, timeout=180)
    finally:
        sweep.send_signal(signal.SIGKILL)
        out, _ = sweep.communicate(timeout=30)
    assert "trial   1  completed" in out
    resumed = subprocess.run([*LAYERDECK, "sweep", "--resume", "1", "--db", db_url], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed: 1 of 3 trials finished; 1 cut short" in resumed.stdout, resumed.stdout
    runs = store.list_runs(sweep_id=1)
    numbers = [r.trial_number for r in runs]
    assert len(numbers) == len(set(numbers)) == 4
    killed = next(r for r in runs if r.trial_number == 2)
    assert killed.status == "stopped"  # its worker saw the supervisor gone and stopped with a checkpoint
    assert any(c.kind == "last" for c in store.checkpoints(killed.id))
    completed = [r for r in runs if r.status == "completed"]
    assert sorted(r.spec["training"]["epochs"] for r in completed) == [2, 3, 40]  # every grid point once
    assert next(r for r in completed if r.spec["training"]["epochs"] == 40).parent_id == killed.id
    sweep_row = store.get_sweep(1)
    assert sweep_row.status == "completed" and sweep_row.pid is None
    assert sweep_row.best_run_id in {r.id for r in runs if r.status == "completed"}
    assert not math.isnan(sweep_row.state["best_value"])
    store.close()


def test_failed_trials_are_told_as_failed_and_max_failures_ends_the_sweep(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    path = tmp_path / "sweep.json"
    doc = grid_lr([1e12, 1e13, 0.01], 3, max_failures=0)
    doc["base"]["optimizer"] = {"type": "SGD", "lr": 0.01}  # an lr of 1e12 sends the loss to inf at once
    path.write_text(json.dumps(doc))
    out = subprocess.run([*LAYERDECK, "sweep", str(path), "--db", db_url], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "trial   1  failed" in out.stdout and "more than max_failures 0: stopping the sweep" in out.stdout
    assert "Traceback" not in out.stderr
    with RunStore(db_url) as store:
        runs = store.list_runs(sweep_id=1)
        sweep = store.get_sweep(1)
    assert [r.status for r in runs] == ["failed"]  # the sweep stopped before the next trial
    assert sweep.status == "failed" and sweep.state["failures"] == 1 and sweep.best_run_id is None


def test_a_sweep_whose_every_trial_failed_exits_non_zero(tmp_path):
    """No max_failures: the sweep runs every trial, but with no value to show
    for it `layerdeck sweep` must not exit 0 (scripts read that as success)."""
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    path = tmp_path / "sweep.json"
    doc = grid_lr([1e12, 1e13], 3, parallel=2)
    doc["base"]["optimizer"] = {"type": "SGD", "lr": 0.01}  # the loss goes to inf at once
    path.write_text(json.dumps(doc))
    out = subprocess.run([*LAYERDECK, "sweep", str(path), "--db", db_url], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2 of 2 trials, 2 failed; no trial completed with a value" in out.stdout
    assert "no trial of sweep 1 reported val/accuracy" in out.stderr and "Traceback" not in out.stderr
    with RunStore(db_url) as store:
        assert [r.status for r in store.list_runs(sweep_id=1)] == ["failed", "failed"]
