"""Bundled datasets (scikit-learn, MNIST-1D), splits, normalization and the cache."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine.data import DataError, Dataset, bundled, cache, dataset_info, list_datasets, load_dataset
from engine.spec import DataSpec


def spec(name: str = "digits", **kw) -> DataSpec:
    return DataSpec(name=name, **kw)


@pytest.fixture(scope="session")
def mnist1d(tmp_path_factory) -> Dataset:
    """Generated once per session (seconds); later loads hit the memory cache.
    Session fixtures start before the per-test isolated HOME, so this one
    points the user cache dir at its own folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("mnist1d-cache")))
        return load_dataset(spec("mnist1d"), seed=0)


def test_registry_lists_every_dataset_without_loading_any():
    names = [e.name for e in list_datasets()]
    for expected in ["digits", "iris", "wine", "breast_cancer", "diabetes", "mnist1d", "moons",
                     "circles", "spirals", "blobs", "curve", "sequence", "csv", "npz", "image_folder"]:
        assert expected in names
    moons = next(e for e in list_datasets() if e.name == "moons")
    assert moons.options["n_samples"] == 1000 and "noise" in moons.options
    assert next(e for e in list_datasets() if e.name == "csv").needs == ("path", "target")
    # Listing must stay cheap for the GUI: no sklearn, mnist1d or torch import.
    code = ("import sys, engine.data as d; d.list_datasets(); "
            "print(sorted(m for m in ('sklearn', 'mnist1d', 'torch', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name, shape, classes, total", [
    ("digits", (1, 8, 8), 10, 1797),
    ("iris", (4,), 3, 150),
    ("wine", (13,), 3, 178),
    ("breast_cancer", (30,), 2, 569),
])
def test_sklearn_classification_sets_have_their_shapes_and_sizes(name, shape, classes, total):
    ds = load_dataset(spec(name, val_fraction=0.2, test_fraction=0.1), seed=0)
    info = ds.info
    assert info.task == "classification" and info.input_shape == shape
    assert info.num_classes == classes == info.num_targets == len(info.class_names)
    assert sum(info.sizes.values()) == total
    assert info.sizes["val"] == round(0.2 * total) and info.sizes["test"] == round(0.1 * total)
    for split in ("train", "val", "test"):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert x.dtype == np.float32 and x.shape == (info.sizes[split], *shape)
        assert y.dtype == np.int64 and y.shape == (info.sizes[split],)
    assert not info.has_own_test_split
    if info.kind == "tabular":
        assert len(info.feature_names) == shape[0]


def test_digits_keeps_its_pixel_values_and_counts_every_class():
    ds = load_dataset(spec("digits", normalize="none"))
    assert ds.x_train.min() == 0 and ds.x_train.max() == 16
    counts = ds.class_counts()
    assert list(counts) == [str(i) for i in range(10)]
    assert sum(counts.values()) == 1797 and counts["0"] == 178


def test_diabetes_is_regression_with_one_float_target():
    ds = load_dataset(spec("diabetes"))
    assert ds.info.task == "regression" and ds.info.input_shape == (10,)
    assert ds.info.num_classes is None and ds.info.num_targets == 1 and ds.info.class_names == []
    assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (ds.info.sizes["train"], 1)
    assert sum(ds.info.sizes.values()) == 442
    assert ds.y_train.max() > 100  # targets stay in their units (25..346)
    with pytest.raises(DataError, match="regression"):
        ds.class_counts()


def test_splits_are_stratified():
    ds = load_dataset(spec("digits", val_fraction=0.2, test_fraction=0.2), seed=3)
    total = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test]))
    for y in (ds.y_val, ds.y_test):
        # Each class keeps its share: within one sample of 20 % of its count.
        assert np.all(np.abs(np.bincount(y, minlength=10) - 0.2 * total) <= 1)


def test_seed_reproduces_the_split_and_another_seed_changes_it():
    a = load_dataset(spec("iris"), seed=1)
    cache.clear_memory()  # the same split must come from the seed, not from the cache
    b = load_dataset(spec("iris"), seed=1)
    c = load_dataset(spec("iris"), seed=2)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_val, c.x_val)


def test_standard_normalization_uses_training_statistics_only():
    raw = load_dataset(spec("wine", normalize="none", test_fraction=0.2), seed=0)
    ds = load_dataset(spec("wine", normalize="standard", test_fraction=0.2), seed=0)
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(ds.x_val, (raw.x_val - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std, rtol=1e-4, atol=1e-4)
    # Statistics over all the data would have centred val+test too; training-only ones do not.
    assert np.abs(ds.x_val.mean(axis=0)).max() > 0.05


def test_minmax_maps_train_to_unit_range_and_images_share_stats_per_channel():
    raw = load_dataset(spec("digits", normalize="none"))
    ds = load_dataset(spec("digits", normalize="minmax"))
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    np.testing.assert_allclose(ds.x_val, raw.x_val / raw.x_train.max(), atol=1e-6)
    std = load_dataset(spec("digits", normalize="standard"))
    # One mean/std for the single channel, not one per pixel.
    assert std.normalizer.shift.shape == (1, 1, 1, 1)
    assert abs(float(std.x_train.mean())) < 1e-4 and abs(float(std.x_train.std()) - 1) < 1e-3


def test_preview_shows_original_values_and_every_class():
    ds = load_dataset(spec("digits", normalize="standard"))
    pv = ds.preview(20)
    assert len(pv) == 20
    assert {y for _, y in pv} == set(range(10))
    x0, _ = pv[0]
    assert x0.shape == (1, 8, 8) and x0.min() >= -1e-4 and x0.max() <= 16 + 1e-4


def test_zero_val_fraction_gives_empty_val_arrays_with_the_sample_shape():
    ds = load_dataset(spec("digits", val_fraction=0.0))
    assert ds.x_val.shape == (0, 1, 8, 8) and ds.y_val.shape == (0,)
    assert ds.info.sizes == {"train": 1797, "val": 0, "test": 0}
    reg = load_dataset(spec("diabetes", val_fraction=0.0))
    assert reg.y_val.shape == (0, 1)


def test_second_load_is_a_cache_hit_and_returns_independent_arrays():
    cache.clear_memory()
    first = load_dataset(spec("breast_cancer"), seed=5)
    assert (cache.stats.hits, cache.stats.misses) == (0, 1)
    first.x_train[:] = 123.0  # a caller editing its arrays must not spoil the cache
    second = load_dataset(spec("breast_cancer"), seed=5)
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)
    assert not np.any(second.x_train == 123.0)
    assert dataset_info(spec("breast_cancer"), seed=5) == second.info
    load_dataset(spec("breast_cancer"), seed=6)  # another seed is another entry
    assert cache.stats.misses == 2


def test_mnist1d_keeps_its_own_test_split_and_takes_val_from_train(mnist1d):
    info = mnist1d.info
    assert info.input_shape == (40,) and info.num_classes == 10 and info.kind == "signal"
    assert info.has_own_test_split
    assert info.sizes == {"train": 3200, "val": 800, "test": 1000}
    assert mnist1d.x_train.dtype == np.float32
    other = load_dataset(spec("mnist1d", test_fraction=0.3), seed=7)
    assert other.info.sizes["test"] == 1000  # test_fraction does not apply to an own test set
    raw_test = load_dataset(spec("mnist1d", normalize="none"), seed=0).x_test
    raw_test_7 = load_dataset(spec("mnist1d", normalize="none"), seed=7).x_test
    assert np.array_equal(raw_test, raw_test_7)  # the seed only moves the val split
    all_train = load_dataset(spec("mnist1d", val_fraction=0.0, normalize="none")).info.sizes
    assert all_train == {"train": 4000, "val": 0, "test": 1000}


def test_mnist1d_generation_is_cached_on_disk(mnist1d, monkeypatch):
    arrays = bundled.mnist1d_arrays(42)  # from memory: the session fixture generated it
    calls = []

    def fake_generate(seed):
        calls.append(seed)
        return arrays

    monkeypatch.setattr(bundled, "generate_mnist1d", fake_generate)
    monkeypatch.setattr(bundled, "_mnist1d_memory", {})
    cache.clear_memory()
    load_dataset(spec("mnist1d"))
    assert calls == [42]
    assert len(list(cache.cache_dir().glob("mnist1d-*.npz"))) == 1

    # A new process (simulated: memory caches emptied) reads the file instead of generating.
    monkeypatch.setattr(bundled, "_mnist1d_memory", {})
    cache.clear_memory()
    again = load_dataset(spec("mnist1d"))
    assert calls == [42]
    np.testing.assert_array_equal(again.x_test, mnist1d.x_test)


def test_unknown_dataset_and_option_are_named():
    with pytest.raises(DataError, match=r"unknown dataset 'digit'.*did you mean 'digits'"):
        load_dataset(spec("digit"))
    with pytest.raises(DataError, match=r"data.options.n_sample: digits has no such option"):
        load_dataset(spec("digits", options={"n_sample": 3}))


def test_a_split_too_small_for_every_class_is_enlarged_and_too_large_is_refused():
    ds = load_dataset(spec("iris", val_fraction=0.01))
    assert ds.info.sizes["val"] == 3  # one per class, so stratification still works
    assert set(ds.y_val.tolist()) == {0, 1, 2}
    with pytest.raises(DataError, match="too few to train on"):
        load_dataset(spec("moons", val_fraction=0.5, test_fraction=0.49, options={"n_samples": 20}))


def test_mnist1d_generation_leaves_the_global_random_state_alone(mnist1d, monkeypatch):
    import random

    import mnist1d.data

    def fake_make_dataset(args):  # the real one seeds both global generators first
        random.seed(args.seed)
        np.random.seed(args.seed)
        z = np.zeros((2, 40))
        return {"x": z, "y": np.zeros(2, int), "x_test": z, "y_test": np.zeros(2, int)}

    monkeypatch.setattr(mnist1d.data, "make_dataset", fake_make_dataset)
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.get_state()[1].copy(), random.getstate())
    out = bundled.generate_mnist1d(7)
    assert out["x"].dtype == np.float32 and out["y"].dtype == np.int64
    assert np.array_equal(np.random.get_state()[1], expected[0]) and random.getstate() == expected[1]
