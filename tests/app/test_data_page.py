"""The Data page, driven as a person would: pick datasets in the list, open
files, edit the split; the preview, the sizes and the run spec follow."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.pages.data import DataPage
from app.pages.data.loader import load_preview
from app.state import AppState
from engine.data import dataset_info
from engine.spec import DataSpec, parse_spec


def make_page(qtbot, db_url, data="iris", blocks=()):
    spec = parse_spec({"name": "t", "data": {"name": data}, "model": {"blocks": list(blocks)}})
    state = AppState(db_url, spec)
    page = DataPage(state)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    qtbot.waitExposed(page)
    settle(qtbot, page)
    return state, page


def settle(qtbot, page):
    """Wait until the form's latest edit is loaded and shown."""
    qtbot.waitUntil(lambda: not page._debounce.isActive() and not page.loader.pending(), timeout=60_000)
    QApplication.processEvents()


def click_dataset(qtbot, page, name):
    lst = page.dataset_list
    lst.scrollTo(lst.index_of(name))
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=lst.visual_rect(name).center())
    settle(qtbot, page)


def sizes_text(info) -> str:
    return f"train {info.sizes['train']} · val {info.sizes['val']} · test {info.sizes['test']}"


def type_value(qtbot, box, text):
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box.lineEdit(), Qt.Key_Return)


def test_choosing_digits_shows_images_class_bars_and_sizes(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="iris")
    changed = []
    state.spec_changed.connect(changed.append)
    lst = page.dataset_list
    lst.scrollTo(lst.index_of("digits"))
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=lst.visual_rect("digits").center())
    assert page.busy_bar.isVisible() and "Digits" in page.busy_label.text()  # loading happens off the UI thread
    settle(qtbot, page)
    assert not page.busy_bar.isVisible()

    assert state.spec.data.name == "digits"
    assert changed and changed[-1].data.name == "digits"  # the Build page hears about it
    assert page.samples.view() == "images"
    labels = page.samples.images.labels()
    assert set(labels) == {str(d) for d in range(10)}  # every class shows up in the grid
    heights = page.bars.heights()
    assert len(heights) == 10 and sum(heights) == 1797
    info = dataset_info(DataSpec(name="digits"), 0)
    assert sizes_text(info) in page.info_label.text()
    assert page.info_label.text().startswith("input 1 × 8 × 8 · classification · 10 classes")
    assert page.dataset_list.stats("digits") == "1797 · 10 cls"
    assert not page.error_label.isVisible()


def test_iris_shows_a_table_with_feature_names(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    click_dataset(qtbot, page, "iris")
    assert state.spec.data.name == "iris"
    assert page.samples.view() == "table"
    info = dataset_info(DataSpec(name="iris"), 0)
    assert page.samples.table.headers() == [*info.feature_names, "class"]
    assert page.samples.table.rowCount() > 10
    shown = {page.samples.table.item(r, 4).text() for r in range(page.samples.table.rowCount())}
    assert shown == set(info.class_names)
    assert len(page.bars.heights()) == 3


def test_tokens_show_whole_ids_in_a_table_and_their_options_edit_the_spec(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    click_dataset(qtbot, page, "tokens")
    assert state.spec.data.name == "tokens"
    assert page.samples.view() == "table"
    table = page.samples.table
    assert table.headers() == [f"t{i}" for i in range(1, 21)] + ["class"]
    assert table.rowCount() > 10
    for r in range(table.rowCount()):
        ids = [table.item(r, c).text() for c in range(20)]
        assert all(t.isdigit() for t in ids), ids  # ids as written, not 1.0 or normalized values
        assert ids.count("1") == 1 and ids.count("2") == 1
        expected = "1 before 2" if ids.index("1") < ids.index("2") else "2 before 1"
        assert table.item(r, 20).text() == expected  # the label follows the order rule
    assert sum(page.bars.heights()) == 2000 and len(page.bars.heights()) == 2
    assert page.info_label.text().startswith("input 20 · classification · 2 classes")
    vocab = page.options.option_field("vocab_size")
    assert vocab.isVisible() and vocab.toolTip()
    type_value(qtbot, page.options.option_field("length"), "8")
    settle(qtbot, page)
    assert state.spec.data.options == {"length": 8}
    assert page.samples.table.headers() == [f"t{i}" for i in range(1, 9)] + ["class"]
    assert not page.options.normalize.isEnabled() and "never normalized" in page.options.normalize.toolTip()
    click_dataset(qtbot, page, "sequence")  # real-valued again: normalization applies
    assert page.options.normalize.isEnabled() and "never normalized" not in page.options.normalize.toolTip()


def test_the_arrow_keys_walk_the_list_and_skip_group_captions(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="diabetes")  # the last bundled row
    page.dataset_list.setFocus()
    qtbot.keyClick(page.dataset_list, Qt.Key_Down)
    settle(qtbot, page)
    assert state.spec.data.name == "moons"  # past the "Synthetic" caption
    assert page.samples.view() == "scatter"
    qtbot.keyClick(page.dataset_list, Qt.Key_Up)
    settle(qtbot, page)
    assert state.spec.data.name == "diabetes"
    assert page.bars.heights() and "regression" in page.info_label.text()  # a target histogram


def test_moons_shows_a_scatter_and_its_options_edit_the_spec(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    click_dataset(qtbot, page, "moons")
    assert page.samples.view() == "scatter"
    assert page.samples.scatter.spots == dataset_info(DataSpec(name="moons"), 0).sizes["train"]
    noise = page.options.option_field("noise")
    assert noise.isVisible() and noise.toolTip()
    type_value(qtbot, page.options.option_field("n_samples"), "500")
    settle(qtbot, page)
    assert state.spec.data.options == {"n_samples": 500}
    assert "train 400 · val 100" in page.info_label.text()
    assert page.dataset_list.stats("moons") == "500 · 2 cls"


def test_a_bad_csv_shows_the_problem_on_the_page_and_keeps_the_dataset(qtbot, db_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n4,5,x\n6,7,y\n")
    state, page = make_page(qtbot, db_url, data="digits")
    before = state.spec
    page.open_path(str(bad))
    settle(qtbot, page)

    assert page.error_label.isVisible()
    text = page.error_label.text()
    assert "bad.csv" in text and "'oops'" in text and "'b'" in text
    assert "still uses Digits" in text
    assert state.spec == before  # the run keeps its dataset
    assert page.samples.view() == "empty"
    assert not any(isinstance(w, QMessageBox) for w in QApplication.topLevelWidgets())


def test_a_good_csv_with_a_chosen_target_column_works(qtbot, db_url, tmp_path):
    rng = np.random.default_rng(0)
    rows = ["height,weight,price,species"]
    for i in range(60):
        s = i % 3
        rows.append(f"{rng.normal(10 + 3 * s):.2f},{rng.normal(50 + 5 * s):.1f},{rng.normal(100):.3f},"
                    f"{['ant', 'bee', 'cat'][s]}")
    good = tmp_path / "animals.csv"
    good.write_text("\n".join(rows) + "\n")
    state, page = make_page(qtbot, db_url, data="digits")
    page.open_path(str(good))
    settle(qtbot, page)

    target = page.options.target
    assert [target.itemText(i) for i in range(target.count())] == ["height", "weight", "price", "species"]
    assert target.currentText() == "species"  # the last column, the usual layout
    assert state.spec.data.name == "csv" and state.spec.data.path == str(good)
    assert state.spec.data.target == "species"
    assert page.samples.table.headers() == ["height", "weight", "price", "species"]
    assert "classification · 3 classes" in page.info_label.text()
    assert page.dataset_list.stats("csv") == "animals.csv"

    target.setCurrentIndex(target.findText("price"))  # now predict a number
    settle(qtbot, page)
    assert state.spec.data.target == "price"
    assert "regression · 1 target" in page.info_label.text()
    assert page.bars.heights() and sum(page.bars.heights()) == 60  # a histogram of the target


def test_changing_the_val_fraction_updates_sizes_and_spec(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    type_value(qtbot, page.options.val_fraction, "0.3")
    settle(qtbot, page)
    assert state.spec.data.val_fraction == pytest.approx(0.3)
    info = dataset_info(DataSpec(name="digits", val_fraction=0.3), 0)
    assert sizes_text(info) in page.info_label.text()


def test_fractions_that_leave_no_training_data_are_refused_in_words(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    page.options.val_fraction.setValue(0.6)
    settle(qtbot, page)
    page.options.test_fraction.setValue(0.5)
    settle(qtbot, page)
    assert page.error_label.isVisible()
    assert page.error_label.text() == "data.test_fraction: val_fraction + test_fraction must be < 1 (got 0.6 + 0.5)"
    assert state.spec.data.test_fraction == 0.0


def test_switching_datasets_keeps_the_split_and_each_datasets_options(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="moons")
    page.options.option_field("noise").setValue(0.3)
    settle(qtbot, page)
    page.options.normalize.setCurrentIndex(page.options.normalize.findData("minmax"))
    settle(qtbot, page)
    click_dataset(qtbot, page, "iris")
    assert state.spec.data.normalize == "minmax" and state.spec.data.options == {}
    click_dataset(qtbot, page, "moons")
    assert state.spec.data.options == {"noise": 0.3}


def test_a_dataset_with_its_own_test_split_greys_out_the_test_fraction(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    click_dataset(qtbot, page, "mnist1d")
    assert state.spec.data.name == "mnist1d"
    assert not page.options.test_fraction.isEnabled()
    assert page.options.test_note.isVisible() and "own test set" in page.options.test_note.text()
    assert page.samples.view() == "lines"
    assert "test 1000" in page.info_label.text()
    click_dataset(qtbot, page, "digits")
    assert page.options.test_fraction.isEnabled() and not page.options.test_note.isVisible()


def test_the_page_follows_a_spec_changed_elsewhere(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="digits")
    state.set_spec(state.spec.copy_with(data=DataSpec(name="wine", val_fraction=0.25), seed=3))
    settle(qtbot, page)
    assert page.dataset_list.current_name() == "wine"
    assert page.options.val_fraction.value() == pytest.approx(0.25)
    assert page.options.seed.value() == 3
    assert page.samples.view() == "table"
    assert sizes_text(dataset_info(DataSpec(name="wine", val_fraction=0.25), 3)) in page.info_label.text()


def test_every_option_has_a_tooltip_and_the_list_fills_in_sizes(qtbot, db_url, tmp_path):
    good = tmp_path / "t.csv"
    good.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(20)))
    state, page = make_page(qtbot, db_url, data="iris")
    page.open_path(str(good))
    settle(qtbot, page)
    fields = [w for w in page.options.fields() if w.isVisibleTo(page)]
    assert len(fields) >= 7  # target, task, delimiter, drop, val, test, normalize, seed
    assert all(w.toolTip().strip() for w in fields)
    qtbot.waitUntil(lambda: page.dataset_list.stats("wine") == "178 · 3 cls", timeout=60_000)


def test_a_file_dataset_without_a_file_asks_for_one(qtbot, db_url):
    state, page = make_page(qtbot, db_url, data="iris")
    click_dataset(qtbot, page, "npz")
    assert page.samples.view() == "empty"
    assert "Open CSV / NPZ / folder" in page.samples.empty.text()
    assert state.spec.data.name == "iris"
    assert not page.error_label.isVisible()


def test_load_preview_reports_errors_in_words_without_a_gui():
    result = load_preview(DataSpec(name="csv", path="/nonexistent/file.csv", target="y"), 0)
    assert result.error and "not found" in result.error and result.info is None
    ok = load_preview(DataSpec(name="blobs"), 0)
    assert ok.error is None and ok.points is not None and sum(ok.class_counts.values()) == 1000
