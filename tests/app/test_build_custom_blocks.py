"""A user's custom blocks (the test plugin package, found by its entry point)
appear under "Custom" in the Build page's palette and add like any block."""
from __future__ import annotations

from PySide6.QtCore import Qt

from tests.app.test_build_page import make_page, settle, types
from tests.engine.test_custom_blocks import plugin  # noqa: F401  (the fixture: plugin on sys.path)


def test_custom_blocks_sit_under_custom_and_add_by_name(qtbot, db_url, plugin):  # noqa: F811
    state, page = make_page(qtbot, db_url, [{"type": "Flatten"}])
    tree = page.palette.tree
    custom = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                  if tree.topLevelItem(i).text(0) == "Custom")
    assert sorted(custom.child(j).text(0) for j in range(custom.childCount())) == [
        "GatedLinear", "ScaledTanh", "TopHalf"]
    item = next(i for i in page.palette.items() if i.text(0) == "GatedLinear")
    tree.setCurrentItem(item)
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key_Return)
    settle(qtbot, page)
    assert types(state) == ["Flatten", "GatedLinear"]
    added = state.spec.model.blocks[1].to_dict()
    assert added == {"type": "GatedLinear", "out_features": 16, "package": "layerdeck-testblocks"}
