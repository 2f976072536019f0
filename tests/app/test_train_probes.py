"""The Train page's LR finder and check before training: the real range test
in its own process draws its curve, marks both suggestions and "Use this LR"
writes the rate into the spec; the checklist shows each check's outcome and
advice."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from app.pages.train.probes import ProbeButtons
from engine.training.sanity import CheckItem, SanityReport
from tests.app.test_train_page import digits_mlp, make_page  # noqa: F401 - the fixture


@pytest.mark.slow
def test_lr_finder_runs_in_its_own_process_and_use_writes_the_lr(qtbot, make_page):  # noqa: F811
    page, state, _ = make_page()
    before = state.spec
    qtbot.mouseClick(page.probes.lr_button, Qt.MouseButton.LeftButton)
    dialog = page.probes.lr_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.result is not None or "could not run" in dialog.status.text(), timeout=240_000)
    r = dialog.result
    assert r is not None, dialog.status.text()
    xs, ys = dialog.curve.getData()
    assert len(xs) == len(r.lrs) >= 20 and ys[0] == pytest.approx(r.smoothed[0])
    assert dialog.markers["valley"].isVisible() and dialog.markers["valley"].value() == pytest.approx(
        math.log10(r.valley))
    assert dialog.choice.currentText().startswith("valley: ")
    assert state.spec.to_dict() == before.to_dict()  # the range test changed nothing
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert state.spec.optimizer.lr == pytest.approx(r.valley, rel=1e-2)
    assert 1e-4 <= state.spec.optimizer.lr <= 1
    others = {k: v for k, v in state.spec.to_dict().items() if k != "optimizer"}
    assert others == {k: v for k, v in before.to_dict().items() if k != "optimizer"}
    dialog.close()


def test_checklist_shows_each_outcome_with_its_advice(qtbot, make_page):  # noqa: F811
    report = SanityReport([
        CheckItem("Initial loss", "pass", "2.327 on 512 training samples; ln(10) = 2.303"),
        CheckItem("Overfit one batch (32 samples, 200 steps)", "fail", "loss 2.33 → 2.17 (93.2% of its start)",
                  "the loss hardly moved: optimizer.lr 10 is too high"),
        CheckItem("Loss with inputs zeroed", "skip", "not measured", "fix the overfit check first"),
    ], "digits", [2.33, 2.2, 2.17])
    asked = []

    def run(task, spec, on_progress=None, cancel=None):  # stands in for the probe process
        asked.append((task, spec.optimizer.lr))
        on_progress({"step": 20, "loss": 2.2})
        return report.to_dict()

    page, state, _ = make_page()
    page.probes = ProbeButtons(page, run=run)
    dialog = page.probes.open_sanity()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10_000)
    assert asked == [("sanity", state.spec.optimizer.lr)]
    assert dialog.items_text()[1].startswith("✗ Overfit one batch")
    assert "1 check failed" in dialog.status.text()
    rows = dialog.checklist.findChildren(type(dialog.checklist))
    names = sorted(w.objectName() for w in rows if w.objectName().startswith("sanity_item_"))
    assert names == ["sanity_item_fail", "sanity_item_pass", "sanity_item_skip"]
    assert "optimizer.lr 10 is too high" in " ".join(
        lbl.text() for lbl in dialog.checklist.findChildren(type(dialog.status)))
    dialog.close()


def test_run_menu_opens_the_check_on_the_train_page(qtbot, db_url, monkeypatch):
    from app.main_window import MainWindow
    from app.state import AppState

    report = SanityReport([CheckItem("Initial loss", "pass", "2.31; ln(10) = 2.303")], "digits", [2.31])
    monkeypatch.setattr("engine.training.probe_process.run_probe",  # stands in for the probe process
                        lambda task, spec, on_progress=None, cancel=None: report.to_dict())
    state = AppState(db_url, digits_mlp(device="cpu"))
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    run_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Run")
    actions = {a.text(): a for a in run_menu.actions()}
    assert "Find Learning &Rate…" in actions
    actions["&Check Before Training…"].trigger()
    page = window.page("train")
    assert window.stack.currentWidget() is page
    qtbot.waitUntil(lambda: page.probes.sanity_dialog is not None and page.probes.sanity_dialog.report is not None,
                    timeout=20_000)
    assert page.probes.sanity_dialog.items_text() == ["✓ Initial loss: 2.31; ln(10) = 2.303"]
    page.probes.sanity_dialog.close()
    state.set_dirty(False)
    window.close()
