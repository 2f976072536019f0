"""The Data page's Augmentation and Columns tabs as a person uses them: check a
transform and set its range, the spec's data.augment follows and the preview
grid redraws the same samples; a CSV's missing cells and a leak show, and
choosing options.missing = fill makes it load."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from app.pages.data.augment_form import AugmentForm
from tests.app.test_data_page import make_page, settle, type_value


def augment_tab(qtbot, page):
    page.tabs.setCurrentWidget(page.augment)
    preview = page.augment.preview
    qtbot.waitUntil(lambda: not preview.worker.pending(), timeout=30_000)
    return page.augment.form, preview


def pixels(label) -> np.ndarray:
    img = label.pixmap().toImage()
    return np.array([[img.pixelColor(x, y).lightness() for x in range(0, img.width(), 4)]
                     for y in range(0, img.height(), 4)])


def test_checking_a_transform_edits_the_spec_and_redraws_the_preview(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    form, preview = augment_tab(qtbot, page)
    assert form.rows["hflip"].check.isVisible() and not form.rows["time_shift"].check.isVisible()
    assert "Check a transform" in preview.caption.text()
    original = pixels(preview.cells[0][0])
    assert np.array_equal(pixels(preview.cells[0][1]), original)  # nothing checked: draws are the sample

    with qtbot.waitSignal(preview.drawn, timeout=30_000):
        check = form.rows["rotation"].check
        qtbot.mouseClick(check, Qt.LeftButton, pos=QPoint(8, check.height() // 2))
    assert [t.type for t in state.spec.data.augment] == ["rotation"]
    assert state.spec.data.augment[0].degrees == (-15.0, 15.0)
    assert "each drawn 6 times through: rotation" in preview.caption.text()
    draws = [pixels(preview.cells[0][c]) for c in range(1, 7)]
    assert not np.array_equal(draws[0], original) and not np.array_equal(draws[0], draws[1])

    low = form.rows["rotation"].fields["degrees"][0]
    with qtbot.waitSignal(preview.drawn, timeout=30_000):
        type_value(qtbot, low, "-40")
    assert state.spec.data.augment[0].degrees == (-40.0, 15.0)


def test_a_range_upside_down_is_said_on_its_row_and_kept_out_of_the_spec(qtbot):
    form = AugmentForm()
    qtbot.addWidget(form)
    form.set_kind("image")
    seen = []
    form.changed.connect(seen.append)
    form.rows["affine"].check.setChecked(True)
    assert seen[-1][0]["type"] == "affine"
    form.rows["affine"].fields["scale"][0].setValue(1.5)  # low 1.5 > high 1.1
    assert seen[-1] == []
    assert "the range's low end 1.5 is above its high end 1.1" in form.rows["affine"].problem.text()


def test_tables_offer_noise_and_masking_but_not_flips(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="iris")
    form, preview = augment_tab(qtbot, page)
    visible = [k for k, row in form.rows.items() if row.check.isVisible()]
    assert visible == ["gaussian_noise", "feature_mask", "mixup"]
    with qtbot.waitSignal(preview.drawn, timeout=30_000):
        form.rows["gaussian_noise"].check.setChecked(True)
    assert [t.type for t in state.spec.data.augment] == ["gaussian_noise"]


def test_changing_the_split_keeps_the_augmentation(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    form, _ = augment_tab(qtbot, page)
    form.rows["hflip"].check.setChecked(True)
    type_value(qtbot, page.options.val_fraction, "0.3")
    settle(qtbot, page)
    assert state.spec.data.val_fraction == 0.3
    assert [t.type for t in state.spec.data.augment] == ["hflip"]


def test_columns_tab_counts_missing_cells_and_fill_makes_the_csv_load(qtbot, db_url, tmp_path):
    path = tmp_path / "t.csv"
    rows = ["size,leak,colour,label"] + [
        f"{'' if i % 6 == 1 else i % 9},{i % 2},{'' if i % 10 == 3 else ('red' if i % 3 else 'blue')},"
        f"{'a' if i % 2 else 'b'}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    state, page = make_page(qtbot, db_url, data="iris")
    page.open_path(str(path))
    settle(qtbot, page)
    assert "options.missing" in page.error_label.text()  # refused: the default is "error"
    page.tabs.setCurrentWidget(page.columns)
    qtbot.waitUntil(lambda: page.columns.table.rowCount() == 4, timeout=30_000)
    table = page.columns.table
    cells = {table.item(r, 0).text(): (table.item(r, 2).text(), table.item(r, 3).text()) for r in range(4)}
    assert cells["size"] == ("7", "") and cells["colour"][0] == "4"
    assert cells["leak"] == ("–", "leak: gives the target away")
    assert "column 'leak' determines the target 'label' exactly" in page.columns.warnings.text()

    combo = page.options.option_field("missing")
    combo.setCurrentIndex(combo.findText("fill"))
    settle(qtbot, page)
    assert not page.error_label.isVisible()
    assert state.spec.data.options["missing"] == "fill" and state.spec.data.path == str(path)
