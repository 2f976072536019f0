"""The Ray executor end to end: a local Ray cluster started here, real workers
started by Ray tasks, a real PostgreSQL store (LAYERDECK_TEST_PG_URL: a server
URL; this module gets a fresh database on it). The SQLite refusal needs
neither."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from engine.protocol import Epoch, Finished, Metrics, Started, Status
from engine.runner import Runner
from engine.runner.ray_executor import RemoteStoreError, check_shared_store, ray_executor, resources_for
from tests.e2e.test_train_e2e import iris
from tests.engine.conftest import fresh_pg_database, pg_admin_url
from tests.events import EventRecorder

ROOT = Path(__file__).resolve().parents[2]


# --- no Ray, no PostgreSQL --------------------------------------------------------------
def test_a_sqlite_store_is_refused_for_a_remote_run_with_what_to_use_instead(tmp_path):
    with pytest.raises(RemoteStoreError, match="cannot be shared across machines.*PostgreSQL.*--db or LAYERDECK_DB"):
        check_shared_store(f"sqlite:///{tmp_path / 'runs.db'}")
    check_shared_store("postgresql+psycopg://u:p@host/db")  # no error


def test_the_cli_refuses_a_ray_run_on_sqlite_before_any_row_exists(tmp_path, capsys):
    from engine.cli import main

    db = tmp_path / "runs.db"
    code = main(["train", str(Path(__file__).parents[2] / "resources/templates/wine_mlp.json"), "--db", f"sqlite:///{db}",
                 "--executor", "ray", "--ray-address", "127.0.0.1:1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot be shared across machines" in err and "PostgreSQL" in err
    assert not db.exists()  # refused before the store was even opened


def test_resources_follow_the_specs_device():
    assert resources_for("cuda") == ({"num_cpus": 1, "num_gpus": 1}, "cuda")
    assert resources_for("cuda:1")[0]["num_gpus"] == 1
    assert resources_for("cpu") == ({"num_cpus": 1}, "cpu")
    assert resources_for("auto", cluster_gpus=0) == ({"num_cpus": 1}, "cpu")
    assert resources_for("auto", cluster_gpus=2)[0]["num_gpus"] == 1
    assert resources_for("cpu", nproc=2) == ({"num_cpus": 2}, "cpu")  # a data-parallel run: a CPU per process
    assert resources_for("auto", cluster_gpus=1, nproc=2) == ({"num_cpus": 2}, "cpu")  # not enough GPUs


# --- a real cluster and store ---------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_url():
    """A fresh PostgreSQL database for this module (the store tests' helper)."""
    with fresh_pg_database(pg_admin_url()) as url:
        yield url


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs, its own (not the machine's)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install layerdeck[ray])")
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def runner(pg_url, cluster):
    r = Runner(pg_url, executor=ray_executor(), follow_interval_s=0.2)
    yield r
    r.shutdown(stop_runs=True, timeout=60)


def digits(epochs: int) -> dict:
    """The digits MLP template, trained for `epochs` on the CPU."""
    spec = json.loads((ROOT / "resources" / "templates" / "digits_mlp.json").read_text())
    spec["training"].update(epochs=epochs, device="cpu")
    return spec


@pytest.mark.slow
def test_two_digits_runs_on_the_cluster_complete_with_their_curves_and_system_metrics(runner, events):
    ids = [runner.submit(digits(epochs=2)), runner.submit(digits(epochs=3))]
    assert [runner.wait(i, timeout=240) for i in ids] == ["completed", "completed"]
    for run_id, epochs in zip(ids, (2, 3)):
        run = runner.store.get_run(run_id)
        assert run.status == "completed" and run.error is None and run.pid is not None
        [val] = runner.store.get_curves([run_id], ["val/loss"], buckets=None)
        assert list(val.epochs) == list(range(1, epochs + 1))
        assert {"test/loss", "test/accuracy"} <= set(runner.store.metric_keys([run_id])[run_id])
        system = {c.key for c in runner.store.get_system_curves([run_id]) if len(c)}
        assert {"cpu/percent", "ram/used_mb", "proc/rss_mb"} <= system

        mine = events.of(run_id)
        assert [e.KIND for e in mine[:2]] == ["owned", "status"] and mine[1] == Status(run_id, "queued")
        assert sum(isinstance(e, Finished) for e in mine) == 1 and mine[-1].status == "completed"
        kinds = [type(e) for e in mine]
        assert kinds.index(Started) < kinds.index(Metrics)
        assert [e.epoch for e in mine if isinstance(e, Epoch)][-1] == epochs


@pytest.mark.slow
def test_pause_resume_and_stop_a_ray_run(runner, events):
    run_id = runner.submit(iris(epochs=500, batch_size=1))
    events.wait_for(lambda e: isinstance(e, Epoch) and e.run_id == run_id)
    assert runner.pause(run_id)
    events.wait_for(lambda e: e == Status(run_id, "paused"))
    seen = len(events.events)
    assert runner.resume(run_id)
    events.wait_for(lambda e: e == Status(run_id, "running"), after=seen)
    assert runner.stop(run_id)
    assert runner.wait(run_id, timeout=120) == "stopped"
    assert [c for c in runner.store.checkpoints(run_id) if c.kind == "last"]
    assert sum(isinstance(e, Finished) for e in events.of(run_id)) == 1


@pytest.mark.slow
def test_a_killed_ray_worker_leaves_its_run_crashed_with_its_metrics(runner, events):
    run_id = runner.submit(iris(epochs=500, batch_size=1))
    pid = events.wait_for(lambda e: isinstance(e, Started) and e.run_id == run_id).pid
    events.wait_for(lambda e: isinstance(e, Epoch) and e.run_id == run_id and e.epoch >= 2)
    os.kill(pid, signal.SIGKILL)
    assert runner.wait(run_id, timeout=120) == "crashed"
    run = runner.store.get_run(run_id)
    assert "killed by SIGKILL" in run.error
    [val] = runner.store.get_curves([run_id], ["val/loss"], buckets=None)
    assert 1 in list(val.epochs)


@pytest.mark.slow
def test_cancel_kills_the_ray_task_and_its_worker(runner, events):
    import psutil

    from engine.worker.commands import CANCELLED

    run_id = runner.submit(iris(epochs=500, batch_size=1))
    pid = events.wait_for(lambda e: isinstance(e, Started) and e.run_id == run_id).pid
    assert runner.cancel(run_id)
    assert runner.wait(run_id, timeout=120) == "stopped"
    assert runner.store.get_run(run_id).error == CANCELLED
    try:
        psutil.Process(pid).wait(timeout=30)  # the worker died with its task
    except psutil.NoSuchProcess:
        pass


@pytest.mark.slow
def test_a_runner_runs_on_the_cluster_beside_this_machine(pg_url, cluster):
    """The app's way: its runner's own executor is local; a cluster is one more place (submit(on=...))."""
    runner = Runner(pg_url, follow_interval_s=0.2)
    try:
        runner.add_executor("ray:local", ray_executor())
        events = EventRecorder()
        runner.subscribe(events)
        run_id = runner.submit(iris(epochs=1), on="ray:local")
        assert runner.active_runs() == [run_id]
        assert runner.wait(run_id, timeout=240) == "completed"
        assert sum(isinstance(e, Finished) for e in events.of(run_id)) == 1
        assert runner.active_runs() == []
        with pytest.raises(ValueError, match="no place to run called 'elsewhere'"):
            runner.submit(iris(epochs=1), on="elsewhere")
    finally:
        runner.shutdown(stop_runs=True, timeout=60)


@pytest.mark.slow
def test_a_run_that_does_not_stop_in_its_grace_period_is_stopped_through_ray(pg_url, cluster):
    """A worker that cannot read its stop (here frozen with SIGSTOP) never stays `running`."""
    runner = Runner(pg_url, executor=ray_executor(stop_grace_s=3), follow_interval_s=0.2)
    try:
        events = EventRecorder()
        runner.subscribe(events)
        run_id = runner.submit(iris(epochs=500, batch_size=1))
        pid = events.wait_for(lambda e: isinstance(e, Started) and e.run_id == run_id).pid
        os.kill(pid, signal.SIGSTOP)
        assert runner.stop(run_id)
        assert runner.wait(run_id, timeout=120) == "stopped"
        assert "did not stop within 3 s" in runner.store.get_run(run_id).error
    finally:
        runner.shutdown(stop_runs=True, timeout=60)


@pytest.mark.slow
def test_an_unreachable_cluster_fails_the_run_without_blocking_submit(pg_url):
    """Joining a cluster happens off the caller's thread: submit returns with the row queued.
    In its own process: Ray joins one cluster per process, and this one has joined the test cluster."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import json, time
        from engine.runner import Runner
        from engine.runner.ray_executor import ray_executor
        from tests.e2e.test_train_e2e import iris
        runner = Runner({pg_url!r}, executor=ray_executor("127.0.0.1:1"), follow_interval_s=0.2)
        t0 = time.monotonic()
        run_id = runner.submit(iris(epochs=1))
        took = time.monotonic() - t0
        queued = runner.store.get_run(run_id).status
        status = runner.wait(run_id, timeout=120)
        print(json.dumps({{"took": took, "queued": queued, "status": status,
                          "error": runner.store.get_run(run_id).error}}))
        runner.shutdown(stop_runs=True, timeout=30)
        """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["queued"] in ("queued", "failed") and result["status"] == "failed"
    assert "could not start the run on the Ray cluster at 127.0.0.1:1" in result["error"]
    assert "nothing answers at 127.0.0.1:1" in result["error"] and "Run on" in result["error"]


@pytest.mark.slow
def test_a_data_parallel_run_trains_on_the_cluster_under_torchrun(runner, events):
    spec = digits(epochs=1)
    spec["training"]["distributed"] = {"nproc": 2, "backend": "gloo"}
    run_id = runner.submit(spec)
    assert runner.wait(run_id, timeout=300) == "completed", runner.store.get_run(run_id).error
    system = {c.key for c in runner.store.get_system_curves([run_id]) if len(c)}
    assert any(k.startswith("rank1/") for k in system)  # the second process ran and kept its samples


@pytest.mark.slow
def test_a_ray_runs_stderr_comes_back_to_its_log_file_here(runner, events):
    """The worker writes its stderr on its node (a file of the node's own); the
    lines reach this machine's log file, which the Train page's log pane and
    `layerdeck runs show` read, through Ray."""
    from engine.runner.paths import log_path

    run_id = runner.submit(iris(epochs=2))
    assert runner.wait(run_id, timeout=240) == "completed"
    # Shut down at once, as `layerdeck train` or `layerdeck sweep` does before it exits: the
    # relay's last lines must be in the file by the time shutdown returns.
    runner.shutdown(stop_runs=True, timeout=60)
    here = log_path(runner.db_url, run_id)
    assert here.exists() and b"evaluation on the" in here.read_bytes()  # the worker's last line
    assert here.read_text().count("evaluation on the") == 1  # once: the node writes its own file, not this one
