"""Real-world CSVs: missing cells (error with counts, drop_rows, fill fitted on
the training split), booleans, dates and free text refused with the fix, an
identifier flagged, a leak warned about in `layerdeck check`; the fitted fills
reach the run's preprocessing so predictions fill new files the same way."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import check
from engine.data import DataError, load_dataset
from engine.data.csv_report import inspect_csv
from engine.data.preprocessing import fit_preprocessing
from engine.spec import DataSpec
from tests.engine.test_cli_check import run_cmd


def table(rows: int = 40, *, hole_every: int = 0, text_hole_every: int = 0) -> str:
    """size (number), colour (text), member (yes/no), label (a or b) — label depends on size."""
    lines = ["size,colour,member,label"]
    for i in range(rows):
        size = "" if hole_every and i % hole_every == 1 else f"{i % 10}.5"
        colour = "" if text_hole_every and i % text_hole_every == 2 else ("red" if i % 3 else "blue")
        lines.append(f"{size},{colour},{'yes' if i % 2 else 'No'},{'a' if i % 10 < 5 else 'b'}")
    return "\n".join(lines) + "\n"


def spec(tmp_path, text: str, **options) -> DataSpec:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return DataSpec(name="csv", path=str(path), target="label", val_fraction=0.25, normalize="none",
                    options=options)


def test_missing_cells_are_refused_by_default_with_the_option_and_counts(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(spec(tmp_path, table(hole_every=5, text_hole_every=10)))
    msg = str(e.value)
    assert "missing values in column 'size' 8 rows (first: row 2, line 3), column 'colour' 4 rows" in msg
    assert 'data.options.missing to "drop_rows"' in msg and '"fill"' in msg


def test_drop_rows_drops_every_row_with_a_hole(tmp_path):
    ds = load_dataset(spec(tmp_path, table(hole_every=5, text_hole_every=10), missing="drop_rows"))
    rows = ds.info.sizes["train"] + ds.info.sizes["val"]
    assert rows == 40 - 8 - 4 + 0  # no row has both holes (rows 1, 6, ... and 2, 12, ...)
    assert not np.isnan(ds.x_train).any()


def test_fill_uses_the_training_median_and_most_frequent_text_and_is_kept_for_predictions(tmp_path, monkeypatch):
    import engine.data.splits as splits

    fitted_on: list[np.ndarray] = []
    real_fit = splits.fit_fills
    monkeypatch.setattr(splits, "fit_fills", lambda plan, x: fitted_on.append(x.copy()) or real_fit(plan, x))
    data = spec(tmp_path, table(hole_every=5, text_hole_every=10), missing="fill")
    ds = load_dataset(data)
    sizes = ds.info.sizes
    assert sizes["train"] + sizes["val"] == 40  # nothing dropped
    assert not np.isnan(ds.x_train).any() and not np.isnan(ds.x_val).any()
    assert ds.info.feature_names == ["size", "colour=blue", "colour=red", "member"]
    # Fitted on the training rows alone (not the 40), as their median and most frequent colour.
    (x_fit,) = fitted_on
    assert len(x_fit) == sizes["train"] < 40
    assert float(ds.fills["size"]) == pytest.approx(float(np.nanmedian(x_fit[:, 0])))
    colours = x_fit[~np.isnan(x_fit[:, 1]), 1:3].sum(axis=0)
    assert ds.fills["colour"] == ("red" if colours[1] > colours[0] else "blue") == "red"
    filled_rows = np.isnan(x_fit[:, 0])
    assert (ds.x_train[:, 0] == float(ds.fills["size"])).sum() >= filled_rows.sum() > 0
    # Kept with the run's preprocessing, so `layerdeck predict` fills a new file the same way.
    pre = fit_preprocessing(data, ds)
    assert {c.name: c.fill for c in pre.columns} == {"size": ds.fills["size"], "colour": "red", "member": None}


def test_booleans_read_as_one_and_zero(tmp_path):
    ds = load_dataset(spec(tmp_path, table()))
    member = np.concatenate([ds.x_train[:, 3], ds.x_val[:, 3]])
    assert set(member.tolist()) == {0.0, 1.0}
    assert member.sum() == 20  # yes in every other row


def test_dates_and_free_text_are_refused_naming_the_column_and_options_drop(tmp_path):
    lines = ["day,size,label"] + [f"2024-01-{i % 28 + 1:02d},{i},{'a' if i % 2 else 'b'}" for i in range(30)]
    with pytest.raises(DataError, match=r"column 'day' holds dates \(such as '2024-01-01'\).*options.drop = 'day'"):
        load_dataset(spec(tmp_path, "\n".join(lines) + "\n"))
    notes = ["note,size,label"] + [f"the sample number {i} was fine,{i},{'a' if i % 2 else 'b'}" for i in range(30)]
    with pytest.raises(DataError, match=r"text column 'note' has 30 different values in 30 rows \(free text\)"):
        load_dataset(spec(tmp_path, "\n".join(notes) + "\n"))


def test_an_identifier_is_flagged_and_a_copy_of_the_label_is_a_leak(tmp_path):
    lines = ["id,size,label_copy,label"] + [f"{i + 1},{i % 7}.5,{'A' if i % 2 else 'B'},{'a' if i % 2 else 'b'}"
                                            for i in range(30)]
    report = inspect_csv(spec(tmp_path, "\n".join(lines) + "\n"))
    flags = {c.name: c.flag for c in report.columns}
    assert flags == {"id": "identifier", "size": "", "label_copy": "leak", "label": ""}
    assert any("column 'label_copy' determines the target 'label' exactly" in w for w in report.warnings)
    assert any("column 'id' looks like an identifier" in w and "options.drop = 'id'" in w for w in report.warnings)


def test_layerdeck_check_warns_about_a_leak_and_still_validates(tmp_path, capsys):
    lines = ["size,leak,label"] + [f"{i % 7}.5,{i % 2},{'a' if i % 2 else 'b'}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"data": {"name": "csv", "path": str(tmp_path / "t.csv"), "target": "label"},
                                "model": {"blocks": [{"type": "Linear", "out_features": 2}]}}))
    assert run_cmd(check, str(path)) == 0
    out = capsys.readouterr().out
    assert "warning: column 'leak' determines the target 'label' exactly" in out


def test_the_report_counts_missing_cells_per_column(tmp_path):
    report = inspect_csv(spec(tmp_path, table(hole_every=5, text_hole_every=10)))
    assert report.missing == {"size": 8, "colour": 4}
    kinds = {c.name: c.kind for c in report.columns}
    assert kinds == {"size": "number", "colour": "text", "member": "boolean", "label": "text"}
    assert any("set options.missing to drop_rows or fill" in w for w in report.warnings)


def test_a_new_file_for_predictions_is_filled_with_the_training_fills(tmp_path):
    from engine.data.new_data import read_new_data

    data = spec(tmp_path, table(hole_every=5, text_hole_every=10), missing="fill")
    ds = load_dataset(data)
    pre = fit_preprocessing(data, ds)
    new = tmp_path / "new.csv"
    new.write_text("size,colour,member\n,,yes\n2.5,blue,no\n")
    got = read_new_data(pre, new)
    # Row 1: both holes filled as in training (median size, most frequent colour), then one-hot.
    assert got.x[0].tolist() == [float(ds.fills["size"]), 0.0, 1.0, 1.0]
    assert got.x[1].tolist() == [2.5, 1.0, 0.0, 0.0]


def test_a_run_on_a_csv_with_a_leak_says_so_in_its_log(tmp_path):
    from engine.spec import parse_spec
    from engine.training import train
    from tests.engine.test_training_loop import Recorder

    lines = ["size,leak,label"] + [f"{i % 7}.5,{i % 2},{'a' if i % 2 else 'b'}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    spec = parse_spec({"data": {"name": "csv", "path": str(tmp_path / "t.csv"), "target": "label"},
                       "model": {"blocks": [{"type": "Linear", "out_features": 2}]},
                       "training": {"epochs": 1, "batch_size": 8}})
    rec = Recorder()
    assert train(spec, callbacks=[rec], checkpoint_dir=tmp_path / "ck").status == "completed"
    assert any(level == "warning" and "column 'leak' determines the target 'label' exactly" in message
               for level, message in rec.logs)


def test_a_header_read_from_the_first_bytes_keeps_its_accents_where_the_cut_splits_a_character(tmp_path):
    """The Data page and the run's preprocessing read only a CSV's first 64 KB
    for its header: a cut in the middle of a two-byte character must not turn
    the names into Latin-1 noise."""
    from engine.data.csv_file import HEADER_BYTES, read_header

    header = "durée;qualité;étiquette\n".encode()
    rows = b"1;2;x\n" * ((HEADER_BYTES - len(header)) // 6 - 1)
    pad = b"1;2;" + b"x" * (HEADER_BYTES - 1 - len(header) - len(rows) - 4)
    body = header + rows + pad + "é\n".encode() + b"3;4;y\n"
    assert body[HEADER_BYTES - 1:HEADER_BYTES] == b"\xc3"  # the first 64 KB end inside the é
    path = tmp_path / "accents.csv"
    path.write_bytes(body)
    assert read_header(path) == (["durée", "qualité", "étiquette"], ";")
