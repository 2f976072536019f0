"""The Build page's summary side: one-click fixes beside the problems, MACs per
block, trainable and frozen parameters, memory at the run's precision."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QStyle, QStyleOptionViewItem, QWidget

from app.pages.build import format as fmt
from app.pages.build.block_model import COL_MACS, COL_TRAIN
from engine.model import summarize_spec
from engine.spec import parse_spec
from tests.app.test_build_page import make_page, rows, settle

CONV = {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}


def fix_buttons(page) -> list[QPushButton]:
    return [b for b in page.problems.fix_buttons() if b.isVisible()]


def blocks(state) -> list[dict]:
    return state.spec.to_dict()["model"]["blocks"]


def click_train_box(qtbot, page, path) -> None:
    """Click the check box in the train column of block `path`, where the style draws it."""
    index = page.model.index_for(path).siblingAtColumn(COL_TRAIN)
    option = QStyleOptionViewItem()
    option.rect = page.view.visualRect(index)
    option.features |= QStyleOptionViewItem.HasCheckIndicator
    box = page.view.style().subElementRect(QStyle.SE_ItemViewItemCheckIndicator, option, page.view)
    qtbot.mouseClick(page.view.viewport(), Qt.LeftButton, pos=box.center())


def test_one_click_fix_applies_and_undoes(qtbot, db_url):
    before = [CONV, {"type": "ReLU"}, {"type": "Linear", "out_features": 10}]
    state, page = make_page(qtbot, db_url, before)
    [button] = fix_buttons(page)
    assert button.text() == "Fix: Insert Flatten before block 3"
    assert "block 3 (Linear)" in page.message_label.text()  # beside the problem it fixes
    qtbot.mouseClick(button, Qt.LeftButton)
    settle(qtbot, page)
    assert blocks(state) == [CONV, {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    assert page.selected_paths() == [(2,)]  # the new block is selected
    assert not page.problems.isVisible() and "invalid" not in page.totals.text()
    assert page.undo_stack.undoText() == "fix: insert Flatten before block 3"

    page.undo_action.trigger()
    settle(qtbot, page)
    assert blocks(state) == before
    assert [b.text() for b in fix_buttons(page)] == ["Fix: Insert Flatten before block 3"]
    page.redo_action.trigger()
    settle(qtbot, page)
    assert [b["type"] for b in blocks(state)] == ["Conv2d", "ReLU", "Flatten", "Linear"]


def test_fix_sets_a_parameter_and_advice_has_no_button(qtbot, db_url):
    state, page = make_page(qtbot, db_url, [{"type": "Flatten"}, {"type": "Linear", "out_features": 7}])
    [button] = fix_buttons(page)
    assert button.text() == "Fix: Set out_features to 10"
    button.click()
    settle(qtbot, page)
    assert blocks(state)[1] == {"type": "Linear", "out_features": 10}
    assert not fix_buttons(page)

    # Advice the engine cannot carry out by itself is said, with no button.
    page.add_block("MaxPool2d", (), 0)
    page.set_param((0,), "padding", 2)
    settle(qtbot, page)
    assert "lower padding" in page.message_label.text() and not fix_buttons(page)


def test_fix_buttons_wait_for_the_summary_of_the_current_blocks(qtbot, db_url):
    state, page = make_page(qtbot, db_url, [{"type": "Flatten"}, {"type": "Linear", "out_features": 7}])
    [button] = fix_buttons(page)
    page.add_block("ReLU", (), 0)  # the fix's "block 2" is now block 3
    assert not button.isEnabled()
    settle(qtbot, page)
    [button] = fix_buttons(page)
    assert button.isEnabled() and button.text() == "Fix: Set out_features to 10"
    button.click()
    settle(qtbot, page)
    assert blocks(state)[2] == {"type": "Linear", "out_features": 10}


def test_macs_column_shows_the_engine_numbers(qtbot, db_url):
    model = [CONV, {"type": "ReLU"}, {"type": "Residual", "blocks": [CONV]}, {"type": "Flatten"},
             {"type": "Linear", "out_features": 10}]
    state, page = make_page(qtbot, db_url, model)
    summary, _ = summarize_spec(state.spec)
    shown = rows(page)
    assert len(shown) == len(summary.rows) == 6
    for row in summary.rows:
        cell = page.model.index_for(row.path).siblingAtColumn(COL_MACS)
        assert cell.data() == fmt.macs_cell(row.macs)
        assert cell.data(Qt.ToolTipRole).startswith(f"{row.macs:,} multiply")
    conv = page.model.index_for((0,)).siblingAtColumn(COL_MACS)
    assert conv.data() == "4.61 k" and summary.rows[0].macs == 8 * 8 * 8 * 9  # 8 channels × 8×8 × 3×3×1
    assert page.model.index_for((1,)).siblingAtColumn(COL_MACS).data() == fmt.macs_cell(8 * 8 * 8)
    assert page.model.headerData(COL_MACS, Qt.Horizontal) == "MACs"


def test_freezing_a_block_splits_trainable_and_frozen(qtbot, db_url):
    model = [CONV, {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    state, page = make_page(qtbot, db_url, model)
    assert "(all trainable)" in page.totals.text()
    box = page.model.index_for((0,)).siblingAtColumn(COL_TRAIN)
    assert box.data(Qt.CheckStateRole) == Qt.Checked
    assert page.model.index_for((1,)).siblingAtColumn(COL_TRAIN).data(Qt.CheckStateRole) is None  # no weights

    click_train_box(qtbot, page, (0,))
    qtbot.waitUntil(lambda: blocks(state)[0].get("trainable") is False)
    settle(qtbot, page)
    conv, linear = 8 * 9 + 8, 512 * 10 + 10
    assert f"params {conv + linear:,} (trainable {linear:,} · frozen {conv:,})" in page.totals.text()
    assert page.model.index_for((0,)).siblingAtColumn(COL_TRAIN).data(Qt.CheckStateRole) == Qt.Unchecked

    page.undo_action.trigger()  # one step back to the exact spec: the key is gone, not `true`
    settle(qtbot, page)
    assert blocks(state) == model and "(all trainable)" in page.totals.text()

    # The inspector offers the per-block options only where there are weights to freeze or initialize.
    page.select([(0,)])
    assert page.inspector.findChild(QWidget, "param_trainable") and page.inspector.findChild(QWidget, "param_init")
    page.select([(1,)])
    assert page.inspector.findChild(QWidget, "param_trainable") is None


def test_a_frozen_container_freezes_its_blocks(qtbot, db_url):
    model = [CONV, {"type": "Residual", "trainable": False, "blocks": [CONV]}, {"type": "Flatten"},
             {"type": "Linear", "out_features": 10}]
    state, page = make_page(qtbot, db_url, model)
    inner = page.model.index_for((1, 0)).siblingAtColumn(COL_TRAIN)
    assert inner.data(Qt.CheckStateRole) == Qt.Unchecked
    assert not inner.flags() & Qt.ItemIsUserCheckable  # frozen by the container: change it there
    assert "Frozen with block 2" in inner.data(Qt.ToolTipRole)
    assert "frozen 584" in page.totals.text()


def test_memory_estimate_follows_the_precision(qtbot, db_url):
    model = [CONV, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    state, page = make_page(qtbot, db_url, model)
    fp32 = page._result.summary.memory_bytes
    d = state.spec.to_dict()
    d["training"]["precision"] = "bf16"
    state.set_spec(parse_spec(d))
    settle(qtbot, page)
    bf16 = page._result.summary.memory_bytes
    batch = state.spec.training.batch_size
    assert fp32 - bf16 == 2 * batch * (64 + 512 + 512 + 10)  # the input and each block's output, 2 bytes less
    assert "bf16" in page.totals.text() and fmt.nbytes(bf16) in page.totals.text()



def test_inspector_options_write_only_what_differs_from_the_default(qtbot, db_url):
    state, page = make_page(qtbot, db_url, [CONV, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}])
    page.select([(0,)])
    assert page.inspector.findChild(QWidget, "param_package") is None  # custom blocks' option: not here
    page.set_param((0,), "init", "orthogonal")
    page.set_param((0,), "trainable", False)
    assert blocks(state)[0] == {**CONV, "init": "orthogonal", "trainable": False}
    page.set_param((0,), "trainable", True)
    page.set_param((0,), "init", "default")
    assert blocks(state)[0] == CONV
