"""Synthetic datasets: shapes, options, and option errors."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data import DataError, dataset_options, load_dataset
from engine.spec import DataSpec


def load(name: str, seed: int = 0, **options):
    return load_dataset(DataSpec(name=name, normalize="none", options=options), seed=seed)


@pytest.mark.parametrize("name, classes", [("moons", 2), ("circles", 2), ("spirals", 2), ("blobs", 3)])
def test_point_sets_are_2d_classification_with_the_requested_size(name, classes):
    ds = load(name, n_samples=300)
    info = ds.info
    assert info.task == "classification" and info.kind == "points"
    assert info.input_shape == (2,) and info.num_classes == classes
    assert sum(info.sizes.values()) == 300 and info.sizes["val"] == 60
    assert ds.x_train.shape == (240, 2) and ds.x_train.dtype == np.float32
    assert info.feature_names == ["x1", "x2"]
    assert all(c >= 300 // classes - 1 for c in ds.class_counts().values())  # balanced


def test_noise_and_class_options_change_the_data():
    calm, noisy = load("moons", noise=0.0), load("moons", noise=0.5)
    # Noise-free moons lie on unit half circles; noise moves points off them.
    r = np.hypot(calm.x_train[:, 0] - np.where(calm.y_train == 0, 0.0, 1.0),
                 calm.x_train[:, 1] - np.where(calm.y_train == 0, 0.0, 0.5))
    np.testing.assert_allclose(r, 1.0, atol=1e-5)
    assert noisy.x_train.std() > calm.x_train.std()
    assert load("blobs", centers=5).info.num_classes == 5
    assert load("spirals", arms=4).info.class_names == ["arm 0", "arm 1", "arm 2", "arm 3"]


def test_generated_data_follows_data_seed_not_the_run_seed():
    a, b = load("moons", seed=0), load("moons", seed=1)
    pool = lambda d: np.sort(np.concatenate([d.x_train, d.x_val]), axis=0)  # noqa: E731
    np.testing.assert_array_equal(pool(a), pool(b))  # same points, split differently
    assert not np.array_equal(a.x_val, b.x_val)
    c = load("moons", data_seed=1)
    assert not np.array_equal(pool(a), pool(c))


def test_curve_is_one_input_one_target_regression():
    ds = load("curve", n_samples=200, noise=0.0)
    assert ds.info.task == "regression" and ds.info.input_shape == (1,) and ds.info.num_targets == 1
    assert ds.y_train.shape == (160, 1) and ds.y_train.dtype == np.float32
    np.testing.assert_allclose(ds.y_train, np.sin(ds.x_train), atol=1e-6)


def test_sequence_task_is_time_by_feature_with_labels_from_the_running_sum():
    ds = load("sequence", noise=0.0)
    info = ds.info
    assert info.kind == "sequence" and info.input_shape == (20, 1) and info.num_classes == 2
    assert ds.x_train.shape == (1600, 20, 1)
    np.testing.assert_array_equal(ds.y_train, (ds.x_train.sum(axis=(1, 2)) > 0).astype(np.int64))
    assert 0.4 < ds.y_train.mean() < 0.6
    assert load("sequence", length=7, n_samples=100).info.input_shape == (7, 1)
    # Sequences share one statistic per input feature across time steps.
    std = load_dataset(DataSpec(name="sequence"))
    assert std.normalizer.shift.shape == (1, 1, 1)


@pytest.mark.parametrize("options, words", [
    ({"n_samples": "many"}, "data.options.n_samples: must be a number"),
    ({"n_samples": 10.5}, "data.options.n_samples: must be a whole number"),
    ({"n_samples": 5}, "data.options.n_samples: must be between 20 and 1,000,000"),
    ({"noise": -0.1}, "data.options.noise: must be between 0 and 100"),
    ({"n_samples": True}, "must be a number"),
    ({"centers": 3}, "data.options.centers: moons has no such option (its options: n_samples, noise, data_seed)"),
])
def test_bad_options_name_the_option_and_the_rule(options, words):
    with pytest.raises(DataError) as err:
        load("moons", **options)
    assert words in str(err.value)


def test_options_carry_ranges_and_help_for_forms():
    opts = dataset_options("blobs")
    assert opts["centers"].default == 3 and (opts["centers"].low, opts["centers"].high) == (2, 50)
    assert opts["noise"].help
    assert dataset_options("csv")["task"].choices == ("auto", "classification", "regression")


def first_before(x: np.ndarray) -> np.ndarray:
    """The rule, computed from the ids: does token 1 come before token 2?"""
    return (np.argmax(x == 1, axis=1) < np.argmax(x == 2, axis=1)).astype(np.int64)


def test_tokens_are_int64_ids_labelled_by_which_marker_comes_first():
    # normalize="standard" is the spec's default; ids must come through it untouched.
    ds = load_dataset(DataSpec(name="tokens", normalize="standard", test_fraction=0.1), seed=0)
    info = ds.info
    assert info.kind == "tokens" and info.input_shape == (20,) and info.num_classes == 2
    assert info.sizes == {"train": 1400, "val": 400, "test": 200}
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.int64 and x.shape[1:] == (20,)
        assert x.min() >= 1 and x.max() < 30  # 0 is left free for padding
        assert ((x == 1).sum(axis=1) == 1).all() and ((x == 2).sum(axis=1) == 1).all()
    assert ds.normalizer.method == "none"
    np.testing.assert_array_equal(ds.y_train, first_before(ds.x_train))
    np.testing.assert_array_equal(ds.y_test, first_before(ds.x_test))
    counts = ds.class_counts()
    assert set(counts) == {"2 before 1", "1 before 2"}
    assert all(800 <= c <= 1200 for c in counts.values())  # not degenerate: about half each
    preview = ds.preview(4)
    assert preview[0][0].dtype == np.int64 and {y for _, y in preview} == {0, 1}


def test_tokens_options_shape_vocabulary_noise_and_follow_data_seed():
    ds = load("tokens", length=7, vocab_size=5, n_samples=100)
    assert ds.info.input_shape == (7,) and ds.x_train.shape == (80, 7)
    assert ds.x_train.max() <= 4
    noisy = load("tokens", noise=0.3)
    wrong = (noisy.y_train != first_before(noisy.x_train)).mean()
    assert 0.2 < wrong < 0.4
    pool = lambda d: np.sort(np.concatenate([d.x_train, d.x_val]), axis=0)  # noqa: E731
    np.testing.assert_array_equal(pool(load("tokens", seed=0)), pool(load("tokens", seed=3)))
    assert not np.array_equal(pool(load("tokens")), pool(load("tokens", data_seed=1)))
    with pytest.raises(DataError, match="data.options.vocab_size: must be between 4"):
        load("tokens", vocab_size=3)
    with pytest.raises(DataError, match="data.options.noise: must be between 0 and 0.5"):
        load("tokens", noise=0.6)
