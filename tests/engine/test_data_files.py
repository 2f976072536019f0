"""Datasets from files (CSV, NPZ, image folder), written small into tmp_path."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import DataError, load_dataset
from engine.spec import DataSpec

GOOD_CSV = """\
height,weight,color,species
1.0,10,red,cat
1.2,11,blue,cat
1.1,12,red,cat
3.0,30,blue,dog
3.2,31,red,dog
3.1,29,blue,dog
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def csv_spec(path: str, target: str | None = "species", **kw) -> DataSpec:
    kw.setdefault("val_fraction", 0.0)
    return DataSpec(name="csv", path=path, target=target, normalize="none", **kw)


def csv_error(tmp_path: Path, text: str, target: str | None = "species", **kw) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(csv_spec(write(tmp_path, text), target, **kw))
    return str(err.value)


# --- CSV ----------------------------------------------------------------------

def test_csv_numeric_columns_stay_and_text_columns_are_one_hot(tmp_path):
    ds = load_dataset(csv_spec(write(tmp_path, GOOD_CSV)))
    info = ds.info
    assert info.task == "classification" and info.kind == "tabular"
    assert info.class_names == ["cat", "dog"] and info.title == "data.csv"
    assert info.feature_names == ["height", "weight", "color=blue", "color=red"]
    assert info.input_shape == (4,) and info.sizes["train"] == 6
    row = ds.x_train[np.flatnonzero(ds.x_train[:, 0] == np.float32(1.2))[0]]
    np.testing.assert_allclose(row, [1.2, 11, 1, 0], rtol=1e-6)
    assert ds.class_counts() == {"cat": 3, "dog": 3}


def test_csv_task_follows_the_target_values(tmp_path):
    rows = "\n".join(f"{i},{i % 3},{i * 0.37:.2f}" for i in range(30))
    path = write(tmp_path, "a,label,amount\n" + rows + "\n")
    few_ints = load_dataset(csv_spec(path, "label"))
    assert few_ints.info.task == "classification" and few_ints.info.class_names == ["0", "1", "2"]
    floats = load_dataset(csv_spec(path, "amount"))
    assert floats.info.task == "regression" and floats.y_train.shape == (30, 1)
    forced = load_dataset(csv_spec(path, "label", options={"task": "regression"}))
    assert forced.info.task == "regression"


def test_csv_semicolons_and_dropped_columns(tmp_path):
    text = GOOD_CSV.replace(",", ";").replace("height", "id")
    ds = load_dataset(csv_spec(write(tmp_path, text), options={"drop": "id"}))
    assert ds.info.feature_names == ["weight", "color=blue", "color=red"]


def test_csv_missing_file_and_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"CSV file not found: .*nope\.csv \(data\.path\); check the path"):
        load_dataset(csv_spec(str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match=r"csv needs data.path: choose the CSV file"):
        load_dataset(DataSpec(name="csv"))


def test_csv_unknown_target_lists_the_columns(tmp_path):
    msg = csv_error(tmp_path, GOOD_CSV, target="specie")
    assert "target column 'specie' not found (did you mean 'species'?)" in msg
    assert "columns: height, weight, color, species" in msg
    assert "choose the column to predict (data.target)" in csv_error(tmp_path, GOOD_CSV, target=None)


def test_csv_non_numeric_value_in_a_numeric_column(tmp_path):
    msg = csv_error(tmp_path, GOOD_CSV.replace("3.0,30", "3.0,30kg"))
    assert "non-numeric value '30kg' in column 'weight' at row 4 (line 5)" in msg
    assert "cannot be encoded" in msg and "options.drop = 'weight'" in msg


def test_csv_missing_value_names_column_and_row(tmp_path):
    msg = csv_error(tmp_path, GOOD_CSV.replace("1.1,12", "1.1,").replace("3.2,31", "3.2,NA"))
    assert "missing values in column 'weight' 2 rows (first: row 3, line 4);" in msg
    assert 'set data.options.missing to "drop_rows"' in msg and '"fill"' in msg
    assert "missing values in column 'species' 1 row (row 4, line 5);" in csv_error(
        tmp_path, GOOD_CSV.replace("3.0,30,blue,dog", "3.0,30,blue,"))


def test_csv_class_with_a_single_sample(tmp_path):
    msg = csv_error(tmp_path, GOOD_CSV + "2.0,20,red,bird\n")
    assert "class 'bird' of target column 'species' has a single sample (row 7, line 8)" in msg
    assert "at least 2 per class" in msg


def test_csv_structure_errors(tmp_path):
    assert "line 3 has 3 fields but the header has 4" in csv_error(
        tmp_path, GOOD_CSV.replace("1.2,11,blue,cat", "1.2,11,blue"))
    assert "the file is empty" in csv_error(tmp_path, "")
    assert "has a header but no data rows" in csv_error(tmp_path, "height,species\n")
    assert "the first line is all numbers; it should name the columns" in csv_error(tmp_path, "1,2\n3,4\n")
    names = "\n".join(f"person{i},{i % 2}" for i in range(60))
    msg = csv_error(tmp_path, "name,label\n" + names + "\n", target="label")
    assert "text column 'name' has 60 different values" in msg and "options.drop = 'name'" in msg
    assert "value 'inf' in column 'height' at row 1 (line 2) is not a finite number" in csv_error(
        tmp_path, GOOD_CSV.replace("1.0,10", "inf,10"))


def test_csv_cache_sees_a_changed_file(tmp_path):
    path = write(tmp_path, GOOD_CSV)
    assert load_dataset(csv_spec(path)).info.sizes["train"] == 6
    Path(path).write_text(GOOD_CSV + "3.3,33,red,dog\n", encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse file-system clocks
    assert load_dataset(csv_spec(path)).info.sizes["train"] == 7


# --- NPZ ----------------------------------------------------------------------

def test_npz_classification_regression_and_images(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "tab.npz"
    np.savez(p, x=rng.normal(size=(40, 5)), y=np.arange(40) % 2 + 7,
             class_names=np.array(["no", "yes"]))
    # y labels 7/8 are not 0..K-1, so class_names cannot name them: an error says so.
    with pytest.raises(DataError, match="class_names needs one name per label 0..K-1"):
        load_dataset(DataSpec(name="npz", path=str(p)))
    np.savez(p, x=rng.normal(size=(40, 5)), y=np.arange(40) % 2, class_names=np.array(["no", "yes"]))
    ds = load_dataset(DataSpec(name="npz", path=str(p), test_fraction=0.25))
    assert ds.info.task == "classification" and ds.info.class_names == ["no", "yes"]
    assert ds.info.input_shape == (5,) and ds.info.sizes == {"train": 22, "val": 8, "test": 10}

    np.savez(p, x=rng.normal(size=(30, 3)), y=rng.normal(size=(30, 2)))
    reg = load_dataset(DataSpec(name="npz", path=str(p)))
    assert reg.info.task == "regression" and reg.info.num_targets == 2 and reg.y_train.shape[1] == 2

    img = tmp_path / "img.npz"
    np.savez(img, x=rng.random((20, 1, 6, 6)), y=np.array(["a", "b"] * 10))
    ds = load_dataset(DataSpec(name="npz", path=str(img)))
    assert ds.info.kind == "image" and ds.info.input_shape == (1, 6, 6) and ds.info.class_names == ["a", "b"]


def test_npz_errors_name_the_arrays(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(p, inputs=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match=r"no array named 'x' \(found: inputs, y\); save them with "
                                        r"numpy.savez\(path, x=inputs, y=targets\)"):
        load_dataset(DataSpec(name="npz", path=str(p)))
    np.savez(p, x=np.zeros((4, 2)), y=np.zeros(3, dtype=int))
    with pytest.raises(DataError, match="x has 4 samples but y has 3"):
        load_dataset(DataSpec(name="npz", path=str(p)))
    np.savez(p, x=np.array([[1.0, np.nan]] * 4), y=np.arange(4) % 2)
    with pytest.raises(DataError, match=r"x has NaN or infinite values \(first in sample 0\)"):
        load_dataset(DataSpec(name="npz", path=str(p)))
    np.savez(p, x=np.zeros((4, 2)), y=np.array([{"a": 1}] * 4, dtype=object))
    with pytest.raises(DataError, match="holds Python objects, which are not loaded for safety"):
        load_dataset(DataSpec(name="npz", path=str(p)))
    (tmp_path / "text.npz").write_text("not numpy")
    with pytest.raises(DataError, match="text.npz: not a readable NPZ file"):
        load_dataset(DataSpec(name="npz", path=str(tmp_path / "text.npz")))
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DataError, match="is a single .npy array, not named arrays"):
        load_dataset(DataSpec(name="npz", path=str(tmp_path / "single.npy")))


# --- image folder ---------------------------------------------------------------

def make_images(root: Path, mode: str = "L", per_class: int = 4) -> None:
    for k, cls in enumerate(["circle", "square"]):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = (10 + i, 12)  # mixed sizes: every image is resized
            color = (200 * k + i) if mode == "L" else (255 * k, 20 * i, 0)
            Image.new(mode, size, color).save(root / cls / f"{i}.png")


def test_image_folder_loads_grayscale_and_rgb_as_channels_first(tmp_path):
    make_images(tmp_path / "grey")
    ds = load_dataset(DataSpec(name="image_folder", path=str(tmp_path / "grey"), val_fraction=0.25,
                               normalize="none"))
    info = ds.info
    assert info.kind == "image" and info.input_shape == (1, 28, 28)
    assert info.class_names == ["circle", "square"] and info.sizes == {"train": 6, "val": 2, "test": 0}
    assert ds.x_train.max() <= 1.0 and ds.x_train.min() >= 0.0
    square = ds.x_train[ds.y_train == 1][0]
    assert square.mean() > 0.75  # grey 200..203 of 255

    make_images(tmp_path / "rgb", mode="RGB")
    rgb = load_dataset(DataSpec(name="image_folder", path=str(tmp_path / "rgb"), image_size=16,
                                normalize="none"))
    assert rgb.info.input_shape == (3, 16, 16)
    red = rgb.x_train[rgb.y_train == 1][0]
    np.testing.assert_allclose(red[0], 1.0)  # channel 0 is red
    forced = load_dataset(DataSpec(name="image_folder", path=str(tmp_path / "rgb"), image_size=8,
                                   options={"color": "grayscale"}))
    assert forced.info.input_shape == (1, 8, 8)


def test_image_folder_errors(tmp_path):
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    with pytest.raises(DataError, match=r"needs one subfolder per class, at least 2 \(found: only\)"):
        load_dataset(DataSpec(name="image_folder", path=str(one)))
    make_images(tmp_path / "imgs")
    (tmp_path / "imgs" / "empty").mkdir()
    with pytest.raises(DataError, match="class folder 'empty' has no images"):
        load_dataset(DataSpec(name="image_folder", path=str(tmp_path / "imgs")))
    (tmp_path / "imgs" / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image empty/broken.png .*remove or replace the file"):
        load_dataset(DataSpec(name="image_folder", path=str(tmp_path / "imgs")))
    with pytest.raises(DataError, match="image folder not found"):
        load_dataset(DataSpec(name="image_folder", path=str(tmp_path / "missing")))


def test_image_folder_cache_sees_a_replaced_image(tmp_path):
    make_images(tmp_path / "imgs")
    spec = DataSpec(name="image_folder", path=str(tmp_path / "imgs"), val_fraction=0.0, normalize="none")
    before = load_dataset(spec)
    target = tmp_path / "imgs" / "circle" / "0.png"
    Image.new("L", (10, 12), 255).save(target)  # same name, new content
    st = os.stat(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = load_dataset(spec)
    assert after.x_train.max() == 1.0 and before.x_train.max() < 1.0
