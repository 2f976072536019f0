"""Branching models in the Build page: wrap in a Branch, add branches, move
blocks between them, unwrap; the diagram's side-by-side branches and merge
node; undo and redo to the exact spec; numbers per branch through nesting."""
from __future__ import annotations

from PySide6.QtCore import Qt

from app.pages.build import format as fmt
from app.pages.build import tree_ops as ops
from app.pages.build.block_model import COL_BLOCK, COL_MACS, COL_PARAMS
from engine.model import summarize_spec
from tests.app.test_build_page import make_page, settle


def conv(out: int, k: int = 3, **kw) -> dict:
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


HEAD = [{"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


def blocks(state) -> list[dict]:
    return state.spec.to_dict()["model"]["blocks"]


def step(qtbot, page, action) -> None:
    action.trigger()
    settle(qtbot, page)


def test_two_branch_model_by_wrap_and_add_with_exact_undo_and_redo(qtbot, db_url):
    state, page = make_page(qtbot, db_url, [conv(8, padding=1), *HEAD])
    specs = [blocks(state)]
    page.select([(0,)])
    step(qtbot, page, page.wrap_branch_action)
    assert blocks(state)[0] == {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [conv(8, padding=1)]}
    specs.append(blocks(state))
    assert page.selected_paths() == [(0,)] and page.add_branch_action.isEnabled()
    step(qtbot, page, page.add_branch_action)
    assert blocks(state)[0]["blocks"][1] == {"type": "Sequential", "blocks": []}  # an identity branch
    assert page.selected_paths() == [(0, 1)]
    specs.append(blocks(state))
    # With the empty branch selected, a palette block goes into it.
    page.add_block("Conv2d")
    settle(qtbot, page)
    assert page.selected_paths() == [(0, 1, 0)]
    specs.append(blocks(state))
    for name, value in (("out_channels", 4), ("kernel_size", 1)):
        page.set_param((0, 1, 0), name, value)
        specs.append(blocks(state))
    settle(qtbot, page)
    final = [{"type": "Branch", "merge": "concat", "dim": 0,
              "blocks": [conv(8, padding=1), {"type": "Sequential", "blocks": [conv(4, 1)]}]}, *HEAD]
    assert blocks(state) == final

    # Two branches side by side, joined at a "concat" merge node; the model is valid.
    summary = page._result.summary
    assert summary.valid, summary.errors
    assert {r.number: r.out_shape for r in summary.rows}["1"] == (12, 8, 8)  # 8 + 4 channels
    [merge] = page.diagram.items("merge")
    assert merge.text == "concat" and merge.path == (0,)
    first, second = page.diagram.items("box")[:2]
    assert first.path == (0, 0) and second.path == (0, 1, 0)
    assert first.rect.top() == second.rect.top() and first.rect.right() < second.rect.left()  # side by side
    assert merge.rect.top() > max(first.rect.bottom(), second.rect.bottom())  # below both branches
    assert page.model.index_for((0,)).siblingAtColumn(COL_BLOCK).data() == "Branch · concat · 2 branches"

    # Undo walks back through every spec exactly; redo comes forward again.
    for want in reversed(specs[:-1]):
        page.undo_action.trigger()
        assert blocks(state) == want
    assert not page.undo_stack.canUndo()
    for want in specs[1:]:
        page.redo_action.trigger()
        assert blocks(state) == want
    settle(qtbot, page)
    assert len(page.diagram.items("merge")) == 1


def test_move_blocks_between_branches_and_unwrap(qtbot, db_url):
    branch = {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [
        {"type": "Sequential", "blocks": [conv(4, 1), {"type": "ReLU"}]},
        conv(4, 1, padding=0),
    ]}
    start = [conv(8, padding=1), branch, *HEAD]
    state, page = make_page(qtbot, db_url, start)
    page.select([(1, 0, 1)])  # the ReLU of branch 1
    assert page.branch_right_action.isEnabled() and not page.branch_left_action.isEnabled()
    step(qtbot, page, page.branch_right_action)
    moved = blocks(state)[1]["blocks"]
    assert moved == [{"type": "Sequential", "blocks": [conv(4, 1)]},
                     {"type": "Sequential", "blocks": [conv(4, 1, padding=0), {"type": "ReLU"}]}]
    assert page.selected_paths() == [(1, 1, 1)]

    # A whole single-block branch moves too, leaving an identity branch in its place.
    page.select([(1, 0)])
    step(qtbot, page, page.branch_right_action)
    assert blocks(state)[1]["blocks"] == [
        {"type": "Sequential", "blocks": []},
        {"type": "Sequential", "blocks": [conv(4, 1, padding=0), {"type": "ReLU"},
                                          {"type": "Sequential", "blocks": [conv(4, 1)]}]}]
    assert [i.text for i in page.diagram.items("note")] == ["identity"]

    # Dragging works as anywhere: onto a branch puts the block inside it.
    page.move_blocks([(1, 1, 1)], (1, 0), 0)
    settle(qtbot, page)
    assert blocks(state)[1]["blocks"][0] == {"type": "Sequential", "blocks": [{"type": "ReLU"}]}

    # Unwrap lays the branches' blocks out one after another.
    page.select([(1,)])
    step(qtbot, page, page.unwrap_action)
    assert [b["type"] for b in blocks(state)] == ["Conv2d", "ReLU", "Conv2d", "Sequential", "ReLU", "Flatten",
                                                   "Linear"]
    for _ in range(4):
        page.undo_action.trigger()
    assert blocks(state) == start


def test_merge_node_names_the_merge_and_shows_a_mismatch(qtbot, db_url):
    branch = {"type": "Branch", "merge": "add", "dim": 0, "blocks": [
        {"type": "Sequential", "blocks": [conv(8, padding=1), {"type": "ReLU"}, conv(8, padding=1)]},
        {"type": "Sequential", "blocks": []},
    ]}
    state, page = make_page(qtbot, db_url, [conv(8, padding=1), branch, *HEAD])
    [merge] = page.diagram.items("merge")
    assert merge.text == "add" and not merge.error
    assert page._result.summary.valid

    page.set_param((1,), "merge", "multiply")
    settle(qtbot, page)
    assert page.diagram.items("merge")[0].text == "multiply"

    page.set_param((1, 0, 2), "out_channels", 6)  # branch 1 now gives 6 channels, the identity 8
    settle(qtbot, page)
    [merge] = page.diagram.items("merge")
    assert merge.error
    assert "branch 2 outputs (8, 8, 8) but branch 1 outputs (6, 8, 8)" in page.message_label.text()
    assert page.model.error_of((1,))

    # Clicking the merge node selects the Branch, so its merge can be changed in the inspector.
    qtbot.mouseClick(page.diagram, Qt.LeftButton, pos=merge.rect.center().toPoint())
    assert page.selected_paths() == [(1,)] and page.inspector.title.text().startswith("Branch")


def test_params_and_macs_per_branch_through_nesting(qtbot, db_url):
    inner = {"type": "Branch", "merge": "add", "dim": 0, "blocks": [conv(4, 1), conv(4, padding=1)]}
    outer = {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [
        {"type": "Sequential", "blocks": [conv(4, 1), inner]},
        {"type": "Sequential", "blocks": [{"type": "MaxPool2d", "kernel_size": 3, "stride": 1, "padding": 1},
                                          conv(2, 1)]},
    ]}
    state, page = make_page(qtbot, db_url, [conv(8, padding=1), outer, *HEAD])
    summary, _ = summarize_spec(state.spec)
    assert summary.valid, summary.errors
    by_number = {r.number: r for r in summary.rows}
    assert by_number["2"].params == by_number["2.1"].params + by_number["2.2"].params
    assert by_number["2.1.2"].params == by_number["2.1.2.1"].params + by_number["2.1.2.2"].params
    for row in summary.rows:  # every row, at every depth, shows the engine's numbers
        index = page.model.index_for(row.path)
        assert index.data() == row.number
        assert index.siblingAtColumn(COL_PARAMS).data() == fmt.count(row.params)
        assert index.siblingAtColumn(COL_MACS).data() == fmt.macs_cell(row.macs)
    assert len(page.diagram.items("merge")) == 2
    boxes = {i.path for i in page.diagram.items("box")}
    assert {p for p, b in ops.walk(blocks(state)) if b.get("blocks") is None} == boxes  # every leaf drawn


def test_the_list_s_context_menu_offers_the_branch_edits(qtbot, db_url):
    state, page = make_page(qtbot, db_url, [conv(8, padding=1), *HEAD])
    page.select([(0,)])
    names = [a.text().replace("&", "") for a in page.context_menu().actions() if not a.isSeparator()]
    assert {"Wrap in Branch", "Add Branch", "Move to Branch Left", "Move to Branch Right", "Unwrap"} <= set(names)
    assert "Undo" not in names


def test_a_residual_draws_its_skip_into_a_plus(qtbot, db_url):
    residual = {"type": "Residual", "blocks": [conv(8, padding=1), {"type": "ReLU"}]}
    state, page = make_page(qtbot, db_url, [conv(8, padding=1), residual, *HEAD])
    [frame] = [i for i in page.diagram.items("frame") if i.path == (1,)]
    [plus] = [i for i in page.diagram.items("note") if i.path == (1,)]
    assert plus.text == "+" and frame.rect.contains(plus.rect)
    inner = [i for i in page.diagram.items("box") if i.path[:1] == (1,)]
    assert plus.rect.top() >= max(i.rect.bottom() for i in inner)  # added after the blocks inside
    skip = [i for i in page.diagram.items("line") if i.rect.right() > max(b.rect.right() for b in inner)]
    assert skip and skip[0].points[-1].y() == plus.rect.center().y()  # the skip runs beside them into the +
