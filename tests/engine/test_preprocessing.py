"""The fitted preprocessing a run keeps, and new files turned into model
inputs through it: round trips, and every mismatch named (no training)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.data import load_dataset
from engine.data.dataset import DataError
from engine.data.new_data import read_new_data
from engine.data.preprocessing import CsvColumn, Preprocessing, fit_preprocessing
from engine.spec import DataSpec


def roundtrip(pre: Preprocessing) -> Preprocessing:
    return Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())))


def test_a_bundled_image_set_round_trips_and_normalizes_new_samples_like_training():
    spec = DataSpec(name="digits", val_fraction=0.2)
    data = load_dataset(spec, seed=0)
    pre = roundtrip(fit_preprocessing(spec, data))
    assert pre.input_shape == (1, 8, 8) and pre.class_names == tuple(str(i) for i in range(10))
    assert not pre.takes_table and pre.image_size is None
    raw = data.normalizer.invert(data.x_val[:5])
    assert pre.normalizer.apply(raw) == pytest.approx(data.x_val[:5], abs=1e-5)


def test_a_csv_plan_follows_the_header_with_one_hot_categories(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["id,size,color,label"] + [f"{i},{i % 7}.5,{['red', 'blue'][i % 2]},{'ab'[i % 2]}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    spec = DataSpec(name="csv", path=str(path), target="label", options={"drop": "id"})
    pre = roundtrip(fit_preprocessing(spec, load_dataset(spec, seed=0)))
    assert pre.columns == (CsvColumn("size", "number"), CsvColumn("color", "onehot", ("blue", "red")))
    assert pre.dropped == ("id",) and pre.target == "label" and pre.class_names == ("a", "b")


def table_pre(**kw) -> Preprocessing:
    base = dict(dataset="csv", kind="tabular", task="classification", input_shape=(3,), class_names=("no", "yes"),
                target="label", columns=(CsvColumn("a", "number", fill="0.5"), CsvColumn("c", "onehot", ("x", "y"))),
                delimiter=",")
    return Preprocessing(**{**base, **kw})


def test_a_fitted_fill_replaces_a_missing_cell_and_booleans_read_as_numbers(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("c,a,label\nx,,yes\ny,true,no\ny,2,maybe\n")
    data = read_new_data(roundtrip(table_pre()), path)
    assert data.x.tolist() == [[0.5, 1, 0], [1.0, 0, 1], [2.0, 0, 1]]
    assert data.truth.tolist() == [1, 0, -1] and "'maybe'" in data.notes[0]


def test_a_missing_cell_without_a_fill_names_column_and_row(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("a,c\n1,x\n2,\n")
    with pytest.raises(DataError, match=r"missing value in column 'c' at row 2"):
        read_new_data(table_pre(), path)


def test_npz_shapes_and_labels(tmp_path):
    pre = Preprocessing(dataset="npz", kind="image", task="classification", input_shape=(1, 4, 4),
                        class_names=("cat", "dog"))
    good = tmp_path / "good.npz"
    np.savez(good, x=np.ones((3, 1, 4, 4)), y=np.array(["dog", "cat", "cow"]))
    data = read_new_data(pre, good)
    assert data.x.shape == (3, 1, 4, 4) and data.x.dtype == np.float32
    assert data.truth.tolist() == [1, 0, -1]
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones((3, 16)))
    expected = r"x has samples of shape 16 .* shape 1 × 4 × 4: x must have shape \(N, 1, 4, 4\)"
    with pytest.raises(DataError, match=expected):
        read_new_data(pre, bad)
    with pytest.raises(DataError, match="is a CSV table, but .* not named columns; give an NPZ file"):
        (tmp_path / "t.csv").write_text("a\n1\n")
        read_new_data(pre, tmp_path / "t.csv")
    with pytest.raises(DataError, match="not trained on an image folder"):
        read_new_data(pre, tmp_path)


def test_an_older_document_without_newer_fields_still_reads():
    doc = table_pre().to_dict()
    for c in doc["columns"]:
        del c["fill"]
    del doc["extras"], doc["image_mode"]
    pre = Preprocessing.from_dict(doc)
    assert pre.columns[0].fill is None and pre.extras == {}
    with pytest.raises(DataError, match="format"):
        Preprocessing.from_dict({**doc, "format": 99})
