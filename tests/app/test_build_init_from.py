"""'Load Weights from Run…' on the Build page: the dialog lists finished runs
with a checkpoint, the choice lands in model.init_from (undoable, kept
through block edits), and the panel says which weights are copied and why
the rest are not, from a real checkpoint file."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel

from app.pages.build.init_weights import InitFromDialog, source_runs
from engine.model import build_model
from engine.store import RunStore
from engine.training.checkpoint import save_checkpoint
from tests.app.test_build_page import make_page, settle

CNN = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
       {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


def finished_run(db_url, tmp_path, blocks=CNN, status="completed", name="pretrain") -> int:
    """A run as the worker leaves it: finished, its best checkpoint on disk."""
    with RunStore(db_url) as store:
        run_id = store.create_run({"name": name, "data": {"name": "digits"}, "model": {"blocks": blocks}},
                                  name, status=status)
        path = tmp_path / f"run{run_id}-best.pt"
        save_checkpoint({"model": build_model(blocks, (1, 8, 8)).state_dict()}, path)
        store.add_checkpoint(run_id, "best", str(path), 10, 1, 0.9)
    return run_id


def wait_panel(qtbot, page):
    qtbot.waitUntil(lambda: not page.init_from.pending(), timeout=60_000)


def test_dialog_lists_finished_runs_with_a_checkpoint(qtbot, db_url, tmp_path):
    done = finished_run(db_url, tmp_path)
    finished_run(db_url, tmp_path, status="failed", name="broken")  # not finished: not offered
    with RunStore(db_url) as store:
        store.create_run({"name": "x", "data": {"name": "digits"}, "model": {"blocks": CNN}}, "no-ckpt",
                         status="completed")  # no checkpoint: nothing to copy
    runs = source_runs(db_url)
    assert [(r.id, r.kinds) for r in runs] == [(done, ("best",))]
    dialog = InitFromDialog(runs)
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 1 and "pretrain" in dialog.list.item(0).text()
    assert dialog.choice() == {"run": done, "checkpoint": "best"}
    assert not dialog.checkpoint.model().item(1).isEnabled()  # no last checkpoint on disk
    empty = InitFromDialog([])
    qtbot.addWidget(empty)
    assert not empty.ok.isEnabled() and empty.choice() is None


def test_weights_from_a_run_are_reported_kept_and_undone(qtbot, db_url, tmp_path):
    source = finished_run(db_url, tmp_path)
    state, page = make_page(qtbot, db_url, CNN[:3] + [{"type": "Linear", "out_features": 10, "bias": False}])
    assert not page.init_from.isVisible()

    page.set_init_from({"run": source, "checkpoint": "best"})
    assert state.spec.model.init_from.run == source
    wait_panel(qtbot, page)
    summary = page.findChild(QLabel, "init_from_summary").text()
    assert summary.startswith(f"Weights from run #{source} 'pretrain' (best checkpoint): 3 of 3 tensors copied")
    page.init_from.toggle.click()
    details = page.init_from.details.text()
    assert "copied   block 1 (Conv2d) 0.weight (4, 1, 3, 3)" in details
    assert "copied   block 4 (Linear) 3.weight (10, 256)" in details
    assert f"unused   3.bias (only in run #{source})" in details  # the run's Linear had a bias; this one has none

    # A block edit keeps init_from (the model is more than its blocks) and re-checks.
    page.set_param((0,), "out_channels", 8)
    settle(qtbot, page)
    assert state.spec.model.init_from.run == source
    wait_panel(qtbot, page)
    assert "0 of 3 tensors copied" in page.init_from.summary.text()  # the wider conv widens the Linear too
    assert f"not      block 1 (Conv2d) 0.weight: shape (4, 1, 3, 3) in run #{source}, (8, 1, 3, 3) here" \
        in page.init_from.details.text()

    page.undo_action.trigger()  # the edit
    page.undo_action.trigger()  # the choice of run
    assert state.spec.model.init_from is None
    wait_panel(qtbot, page)
    assert not page.init_from.isVisible()
    page.redo_action.trigger()
    assert state.spec.model.init_from.run == source
    wait_panel(qtbot, page)
    assert page.init_from.isVisible()
    page.init_from.remove_requested.emit()
    assert state.spec.model.init_from is None


def test_a_run_that_cannot_be_used_is_said_in_the_panel(qtbot, db_url, tmp_path):
    state, page = make_page(qtbot, db_url, CNN)
    page.set_init_from({"run": 99, "checkpoint": "best"})
    wait_panel(qtbot, page)
    text = page.init_from.summary.text()
    assert text.startswith("⚠ Weights from a run cannot be loaded: model.init_from.run: there is no run #99")
