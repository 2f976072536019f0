"""`layerdeck train` and `layerdeck runs`, as a user runs them in a shell.

Refusals (bad spec, bad resume) are checked in-process; training goes
through real `layerdeck` processes and real workers (iris, a few epochs).
"""
from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.train import Progress, format_eta
from engine.protocol import Epoch, Finished, Metrics, Started
from engine.store import RunStore
from engine.training.callbacks import MetricPoint

LAYERDECK = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]
ROOT = Path(__file__).resolve().parents[2]


def iris_spec(epochs: int = 2, **training) -> dict:
    return {"name": "iris-mlp", "seed": 1, "data": {"name": "iris", "val_fraction": 0.2},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.01},
            "training": {"epochs": epochs, "batch_size": 16, "device": "cpu", **training}}


def write(tmp_path: Path, spec: dict, name: str = "spec.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return str(path)


def layerdeck(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*LAYERDECK, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


# --- refusals: no worker, no row ---------------------------------------------------------

def test_a_bad_spec_exits_2_with_every_problem_and_no_traceback(tmp_path, db_url, capsys):
    spec = iris_spec()
    spec["training"]["epochs"] = 0
    spec["optimizer"]["lr"] = -1
    code = main(["train", write(tmp_path, spec), "--db", db_url])
    err = capsys.readouterr().err
    assert code == 2
    assert "training.epochs: must be >= 1" in err and "optimizer.lr: must be > 0" in err
    assert "Traceback" not in err
    assert RunStore(db_url).list_runs() == []


def test_a_model_that_does_not_fit_the_dataset_is_refused_before_any_worker(tmp_path, db_url, capsys):
    spec = iris_spec()
    spec["model"]["blocks"][-1]["out_features"] = 5  # iris has 3 classes
    code = main(["train", write(tmp_path, spec), "--db", db_url])
    err = capsys.readouterr().err
    assert code == 2 and "3 classes" in err and "out_features" in err
    assert RunStore(db_url).list_runs() == []


def test_a_missing_spec_file_is_named(tmp_path, db_url, capsys):
    assert main(["train", str(tmp_path / "nope.json"), "--db", db_url]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_a_bad_device_is_refused_as_a_spec_error(tmp_path, db_url, capsys):
    assert main(["train", write(tmp_path, iris_spec()), "--db", db_url, "--device", "tpu"]) == 2
    assert "training.device: must be auto, cpu, cuda, cuda:N or mps" in capsys.readouterr().err


@pytest.mark.parametrize("status, words", [("completed", "only a stopped or crashed run can be resumed"),
                                           ("stopped", "has no checkpoint to resume from")])
def test_resume_refuses_runs_it_cannot_continue(db_url, capsys, status, words):
    store = RunStore(db_url)
    run_id = store.create_run(iris_spec(), status=status)
    assert main(["train", "--resume", str(run_id), "--db", db_url]) == 1
    assert words in capsys.readouterr().err
    assert main(["train", "--resume", "99", "--db", db_url]) == 1
    assert "there is no run 99" in capsys.readouterr().err


# --- the progress line -----------------------------------------------------------------

def test_progress_line_shows_bar_epoch_eta_and_latest_metrics():
    out = io.StringIO()
    progress = Progress(out, tty=False)
    progress.handle(Started(1, pid=9, device="cpu", num_params=1234, total_epochs=4, steps_per_epoch=10))
    progress.handle(Metrics(1, [MetricPoint("train/loss_step", 10, 1, 0.9, 0.0)]))
    progress.handle(Epoch(1, epoch=1, total_epochs=4, metrics={"train/loss": 0.8, "val/accuracy": 0.75},
                          eta_s=95.0))
    progress.handle(Finished(1, status="completed"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "training on cpu, 1,234 parameters, 4 epochs"
    assert lines[1].startswith("[######------------------]  25% epoch 1/4 · ETA 1:3")
    assert "train/loss 0.8" in lines[1] and "val/accuracy 0.75" in lines[1]


def test_on_a_terminal_the_line_is_redrawn_in_place_and_names_the_epoch_in_progress():
    out = io.StringIO()
    progress = Progress(out, tty=True)
    progress.handle(Started(1, pid=9, device="cpu", num_params=10, total_epochs=4, steps_per_epoch=10))
    progress.handle(Epoch(1, epoch=1, total_epochs=4, metrics={"val/loss": 0.5}, eta_s=30.0))
    progress.handle(Finished(1, status="completed"))
    text = out.getvalue()
    assert text.count("\n") == 2  # the "training on" note and the line closed at the end
    last_draw = re.findall(r"\r(\[[^\r\n]*)", text)[-1]
    assert last_draw.startswith("[######") and "epoch 2/4" in last_draw and last_draw.endswith("\x1b[K")


def test_eta_reads_as_minutes_and_hours():
    assert [format_eta(s) for s in (None, 5, 95, 3725)] == ["--:--", "0:05", "1:35", "1:02:05"]


# --- training through real processes ---------------------------------------------------------

@pytest.mark.slow
def test_train_prints_the_run_id_and_exits_0_when_completed(tmp_path, db_url):
    out = layerdeck("train", write(tmp_path, iris_spec(2)), "--db", db_url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("run 1: iris-mlp")
    assert [ln for ln in lines if "epoch 2/2" in ln and "100%" in ln]
    assert lines[-1].startswith("run 1 completed")
    run = RunStore(db_url).get_run(1)
    assert run.status == "completed"
    assert {"train/loss", "val/accuracy"} <= set(run.summary["metrics"])

    listed = layerdeck("runs", "list", "--db", db_url)
    assert listed.returncode == 0 and "iris-mlp" in listed.stdout and "completed" in listed.stdout
    csv_file = tmp_path / "metrics.csv"
    exported = layerdeck("runs", "export", "1", "--csv", str(csv_file), "--db", db_url)
    assert exported.returncode == 0
    assert csv_file.read_text().splitlines()[0] == "key,step,epoch,value,wall_time"


@pytest.mark.slow
def test_ctrl_c_stops_with_a_checkpoint_and_resume_continues_the_steps(tmp_path, db_url):
    # batch 1: ~120 steps per epoch, so the run is still training when Ctrl-C arrives.
    long = write(tmp_path, iris_spec(200, batch_size=1, log_every_n_steps=10), "long.json")
    proc = subprocess.Popen([*LAYERDECK, "train", long, "--db", db_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for line in proc.stdout:
        if "epoch 1/200" in line:  # a finished epoch: a checkpoint exists to resume from
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopping run 1" in out and "layerdeck train --resume 1" in err
    store = RunStore(db_url)
    assert store.get_run(1).status == "stopped"
    [last] = [c for c in store.checkpoints(1) if c.kind == "last"]
    assert Path(last.path).exists()

    short = write(tmp_path, iris_spec(last.epoch + 1, batch_size=1, log_every_n_steps=10), "short.json")
    resumed = layerdeck("train", short, "--resume", "1", "--db", db_url)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run 1" in resumed.stdout
    child = store.get_run(2)
    assert (child.status, child.parent_id) == ("completed", 1)
    [curve] = store.get_curves([2], ["train/loss"], buckets=None)
    assert curve.steps.min() > last.step  # the step counter continued
    assert list(curve.epochs) == [last.epoch + 1]


@pytest.mark.slow
def test_runs_delete_removes_the_run_and_its_checkpoints(tmp_path, db_url):
    assert layerdeck("train", write(tmp_path, iris_spec(1)), "--db", db_url).returncode == 0
    store = RunStore(db_url)
    paths = [Path(c.path) for c in store.checkpoints(1)]
    assert paths and all(p.exists() for p in paths)
    refused = layerdeck("runs", "delete", "1", "--db", db_url)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    done = layerdeck("runs", "delete", "1", "--yes", "--db", db_url)
    assert done.returncode == 0 and "deleted run 1" in done.stdout
    assert store.list_runs() == [] and not any(p.exists() for p in paths)
    shown = layerdeck("runs", "show", "1", "--db", db_url)
    assert shown.returncode == 1 and "there is no run 1" in shown.stderr


def test_runs_list_on_an_empty_store_says_what_to_do(db_url, capsys):
    assert main(["runs", "list", "--db", db_url]) == 0
    assert "Train one with `layerdeck train SPEC.json`" in capsys.readouterr().out


def test_runs_reads_layerdeck_db_when_no_db_is_given(monkeypatch, db_url, capsys):
    monkeypatch.setenv("LAYERDECK_DB", db_url)
    RunStore(db_url).create_run(iris_spec(), name="from-env")
    assert main(["runs", "list"]) == 0
    assert "from-env" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--db", "{db}", "runs", "list"], ["runs", "--db", "{db}", "list"],
                                  ["runs", "list", "--db", "{db}"]])
def test_db_is_accepted_before_or_after_the_sub_command(db_url, capsys, argv):
    RunStore(db_url).create_run(iris_spec(), name="here")
    assert main([a.format(db=db_url) for a in argv]) == 0
    assert "here" in capsys.readouterr().out
