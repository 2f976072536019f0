"""`layerdeck sweep SWEEP.json --executor ray` end to end: a local Ray cluster
of 2 CPUs started in this process, the `layerdeck sweep` command in a process
of its own joining it by its address (as a user's terminal would), every
trial a real worker started by a Ray task, and a real PostgreSQL store
(LAYERDECK_TEST_PG_URL: a server URL; this module gets a fresh database on it).

Ray joins one cluster per process: the cluster here is this module's own, or
the one this process has joined already (another module's, still up), which
it then leaves running."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.runner.paths import log_path
from engine.runner.ray_executor import node_log_path
from engine.store import RunStore
from engine.sweeps.trials import list_trials
from tests.engine.conftest import fresh_pg_database, pg_admin_url

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LAYERDECK = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def pg_url():
    with fresh_pg_database(pg_admin_url()) as url:
        yield url


@dataclass(frozen=True)
class Cluster:
    address: str  # host:port of its GCS, what --ray-address takes
    node_data: Path  # the node's user data dir (XDG_DATA_HOME): where its workers keep run files


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local 2-CPU Ray cluster. Its node's processes get a user data dir of
    their own (they inherit the environment of the moment it starts), so its
    workers' checkpoints and node logs stay out of the user's."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install layerdeck[ray])")
    node_data = tmp_path_factory.mktemp("ray-node") / "data"
    ours = not ray.is_initialized()
    if ours:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("XDG_DATA_HOME", str(node_data))
            ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
    try:
        yield Cluster(ray.get_runtime_context().gcs_address, node_data if ours else Path(os.environ.get(
            "XDG_DATA_HOME", Path.home() / ".local" / "share")))
    finally:
        if ours:
            ray.shutdown()


def cluster_token_env() -> dict[str, str]:
    """RAY_AUTH_TOKEN for a process joining the cluster. Ray 2.5x+ starts a local
    cluster with token authentication, its token in ~/.ray/auth_token; each test
    here has a HOME of its own, so a joining process is handed the token a user
    would have in that file."""
    try:
        from ray._raylet import AuthenticationTokenLoader

        token = AuthenticationTokenLoader.instance().get_raw_token()
    except (ImportError, AttributeError, RuntimeError):  # an older Ray: no token authentication
        return {}
    return {"RAY_AUTH_TOKEN": token} if token else {}


def iris(epochs: int) -> dict:
    return {"name": "iris-mlp", "seed": 1, "data": {"name": "iris", "val_fraction": 0.3},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.01},
            "training": {"epochs": epochs, "batch_size": 16, "device": "cpu"}}


def test_a_grid_sweep_runs_its_trials_two_at_a_time_on_the_ray_cluster(tmp_path, pg_url, cluster, monkeypatch):
    lrs = [0.05, 0.0005]
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"name": "lr-on-ray", "base": iris(30), "method": "grid", "metric": "val/accuracy",
                                "goal": "maximize", "parallel": 2,
                                "parameters": {"optimizer.lr": {"values": lrs}}}))
    done = subprocess.run([*LAYERDECK, "sweep", str(path), "--db", pg_url, "--executor", "ray",
                           "--ray-address", cluster.address], cwd=ROOT, capture_output=True, text=True, timeout=420,
                          env={**os.environ, **cluster_token_env()})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    sweep_id = int(re.search(r"^sweep (\d+): starting 'lr-on-ray', grid, 2 trials, 2 at a time", out, re.M)[1])

    with RunStore(pg_url) as store:
        runs = store.list_runs(sweep_id=sweep_id)
        sweep = store.get_sweep(sweep_id)
        trials = list_trials(store, sweep_id)
        checkpoints = {r.id: store.checkpoints(r.id) for r in runs}
    assert sorted(r.trial_number for r in runs) == [1, 2]
    assert [r.status for r in runs] == ["completed", "completed"]
    assert sorted(t.params["optimizer.lr"] for t in trials) == sorted(lrs)
    for t in trials:  # one finished-trial line each, with its run and metric
        assert re.search(rf"^trial +{t.number} +completed +val/accuracy \S+ .*run {t.run_id}$", out, re.M), out
    here = {run.id: log_path(pg_url, run.id) for run in runs}  # this machine's run files (this test's HOME)
    monkeypatch.setenv("XDG_DATA_HOME", str(cluster.node_data))  # the node's
    for run in runs:
        # Trained on the cluster: the Ray task's body (run_worker) started the worker on the node,
        # which wrote its log and checkpoints in the node's data dir; its lines come back to a
        # log file here, the one `layerdeck runs show` reads.
        node_log = node_log_path(pg_url, run.id)
        assert node_log.exists() and "evaluation on the" in node_log.read_text()
        assert here[run.id].exists()
        assert checkpoints[run.id] and all(Path(c.path).is_relative_to(cluster.node_data) for c in checkpoints[run.id])
        assert run.spec["optimizer"]["lr"] in lrs
    assert all(t.value is not None and 0.0 <= t.value <= 1.0 for t in trials)
    first, second = runs  # two at a time: each trained while the other did
    assert first.started_at < second.finished_at and second.started_at < first.finished_at
    best = max(trials, key=lambda t: t.value)
    assert sweep.status == "completed" and sweep.best_run_id == best.run_id
    assert sweep.state["finished"] == 2 and sweep.state["failures"] == 0
    assert re.search(rf"^sweep {sweep_id} completed: 2 of 2 trials, 0 failed; best run {best.run_id}: "
                     r"val/accuracy ", out, re.M), out


def test_the_median_pruner_stops_a_hopeless_trial_on_the_cluster(tmp_path, pg_url, cluster):
    """The pruner hears each epoch of a trial on the cluster (from the store's rows, not a pipe)
    and stops it there through the store: it ends pruned, with its checkpoint. 300 epochs: the stop
    reaches a worker through the store within about 2 s, and iris trains some 35 epochs a second."""
    epochs = 300
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"name": "prune-on-ray", "base": iris(epochs), "method": "grid",
                                "metric": "val/accuracy", "goal": "maximize", "parallel": 1,
                                "pruner": {"type": "median", "startup_trials": 1, "warmup_epochs": 5},
                                "parameters": {"optimizer.lr": {"values": [0.05, 1e-7]}}}))
    done = subprocess.run([*LAYERDECK, "sweep", str(path), "--db", pg_url, "--executor", "ray",
                           "--ray-address", cluster.address], cwd=ROOT, capture_output=True, text=True, timeout=420,
                          env={**os.environ, **cluster_token_env()})
    assert done.returncode == 0, done.stdout + done.stderr
    sweep_id = int(re.search(r"^sweep (\d+): starting 'prune-on-ray'", done.stdout, re.M)[1])
    with RunStore(pg_url) as store:
        good, bad = sorted(store.list_runs(sweep_id=sweep_id), key=lambda r: r.trial_number)
        [curve] = store.get_curves([bad.id], ["val/accuracy"], buckets=None)
        checkpoints = {c.kind for c in store.checkpoints(bad.id)}
        sweep = store.get_sweep(sweep_id)
    assert good.status == "completed" and bad.status == "pruned", done.stdout
    assert 5 <= int(curve.epochs.max()) < epochs  # judged after its warm-up, stopped long before the end
    assert "last" in checkpoints
    assert re.search(rf"^  trial 2: pruned at epoch \d+ .*stopping run {bad.id} with a checkpoint$", done.stdout, re.M)
    assert sweep.status == "completed" and sweep.best_run_id == good.id
