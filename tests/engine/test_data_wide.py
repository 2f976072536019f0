"""The wide synthetic datasets (regression, classification): chosen width,
seeded, offline, and options refused in words."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data import DataError, load_dataset
from engine.spec import DataSpec


def load(name: str, **options):
    return load_dataset(DataSpec(name=name, options=options), seed=0)


def test_regression_has_the_chosen_width_and_a_unit_scale_target():
    ds = load("regression", n_samples=300, n_features=37, noise=0.0)
    info = ds.info
    assert info.task == "regression" and info.input_shape == (37,) and info.num_targets == 1
    assert sum(info.sizes.values()) == 300 and ds.x_train.shape == (240, 37)
    y = np.concatenate([ds.y_train, ds.y_val])
    assert y.std() == pytest.approx(1.0, abs=1e-3)  # scaled: MSE 1.0 is "predicts the mean"
    # Noise-free, the target is a linear function of the inputs: least squares fits it exactly.
    x = np.concatenate([ds.x_train, ds.x_val])
    coef, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)
    assert np.abs(np.c_[x, np.ones(len(x))] @ coef - y).max() < 1e-3


def test_classification_has_the_chosen_width_and_classes():
    ds = load("classification", n_samples=400, n_features=50, n_informative=6, n_classes=4)
    assert ds.info.input_shape == (50,) and ds.info.num_classes == 4
    assert ds.info.class_names == ["class 0", "class 1", "class 2", "class 3"]
    assert min(ds.class_counts().values()) >= 90  # balanced


def test_generated_data_is_seeded_by_data_seed():
    a, b = load("classification", n_samples=200, n_features=20), load("classification", n_samples=200, n_features=20)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    c = load("classification", n_samples=200, n_features=20, data_seed=1)
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("options, words", [
    ({"n_features": 5, "n_informative": 8}, ["n_informative (8)", "n_features (5)"]),
    ({"n_features": 20, "n_informative": 2, "n_classes": 10}, ["n_classes (10)", "n_informative of at least 4"]),
    ({"n_features": 0}, ["data.options.n_features", "between 2"]),
])
def test_impossible_options_are_refused_in_words(options, words):
    with pytest.raises(DataError) as e:
        load("classification", n_samples=100, **options)
    assert all(w in str(e.value) for w in words), str(e.value)
