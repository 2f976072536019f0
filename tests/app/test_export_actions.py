"""Export ▸ ONNX / PyTorch program / Python from the window's menu and for a
run: off the UI thread, the check's result in words, kept with the run."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMenuBar, QWidget

from app.export_actions import Exporter, add_export_menu
from engine.export.source import from_spec
from engine.spec import parse_spec
from engine.store import RunStore
from engine.training.checkpoint import save_checkpoint

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning",
                                        "ignore::FutureWarning")

SPEC = {"name": "iris-mlp", "data": {"name": "iris"},
        "model": {"blocks": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                             {"type": "Linear", "out_features": 3}]}}


def test_the_export_menu_offers_the_three_formats(qtbot):
    bar = QMenuBar()
    qtbot.addWidget(bar)
    picked = []
    menu = add_export_menu(bar, picked.append)
    titles = [a.text().replace("&", "") for a in menu.actions()]
    assert titles == ["ONNX…", "PyTorch program…", "Python…"]
    menu.actions()[0].trigger()
    assert picked == ["onnx"]


def test_a_run_exported_to_onnx_says_the_check_and_keeps_it(qtbot, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    spec = parse_spec(SPEC)
    ckpt = save_checkpoint({"model": from_spec(spec).model.state_dict()}, tmp_path / "best.pt")
    with RunStore(url) as store:
        run_id = store.create_run(spec.to_dict(), "iris-mlp")
        store.add_checkpoint(run_id, "best", str(ckpt), 5, 1, 0.4)
        run = store.get_run(run_id)
    window = QWidget()
    qtbot.addWidget(window)
    exporter = Exporter(window, url)
    out = tmp_path / "chosen"  # the dialog's answer, without the suffix a user may leave off
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    said, problems = [], []
    exporter.message.connect(said.append)
    exporter.problem.connect(problems.append)
    with qtbot.waitSignal(exporter.finished, timeout=120_000) as done:
        exporter.run_dialog("onnx", run)
    assert done.args == [True] and not problems
    assert said[0].startswith(f"Exporting run #{run_id} to chosen.onnx")
    assert "check passed: largest difference from PyTorch" in said[-1]
    assert (tmp_path / "chosen.onnx").stat().st_size > 0
    with RunStore(url) as store:
        assert store.get_document(run_id, "export/onnx")["passed"] is True


def test_a_spec_that_cannot_be_built_is_reported_in_words(qtbot, tmp_path):
    window = QWidget()
    qtbot.addWidget(window)
    exporter = Exporter(window, f"sqlite:///{tmp_path / 'runs.db'}")
    problems = []
    exporter.problem.connect(problems.append)
    bad = parse_spec({"data": {"name": "iris"}, "model": {"blocks": [{"type": "Conv2d", "out_channels": 2,
                                                                     "kernel_size": 3}]}})
    with qtbot.waitSignal(exporter.finished, timeout=60_000) as done:
        exporter.export_spec("pt2", bad, str(tmp_path / "x.pt2"))
    assert done.args == [False]
    assert problems[0].startswith("Export failed: ") and "Conv2d" in problems[0]
    assert "Traceback" not in problems[0] and not (tmp_path / "x.pt2").exists()
