"""Small generated problems for trying blocks quickly. Each is generated from
its own `data_seed` option (not the run seed), so runs that vary the seed
see the same data and differ only in split, initialization and shuffling."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.dataset import DataError
from engine.data.splits import RawData

_POINT_FEATURES = ["x1", "x2"]


def load_moons(o: dict[str, Any]) -> RawData:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=o["n_samples"], noise=o["noise"], random_state=o["data_seed"])
    return RawData(x, y, "classification", "points", ["upper", "lower"], _POINT_FEATURES)


def load_circles(o: dict[str, Any]) -> RawData:
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=o["n_samples"], noise=o["noise"], factor=o["factor"],
                        random_state=o["data_seed"])
    return RawData(x, y, "classification", "points", ["outer", "inner"], _POINT_FEATURES)


def load_blobs(o: dict[str, Any]) -> RawData:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=o["n_samples"], centers=o["centers"], cluster_std=o["noise"],
                      random_state=o["data_seed"])
    return RawData(x, y, "classification", "points",
                   [f"blob {i}" for i in range(o["centers"])], _POINT_FEATURES)


def load_spirals(o: dict[str, Any]) -> RawData:
    """Interleaved arms winding 1.75 turns out from the centre; hard for a
    linear model, easy for a small MLP."""
    rng = np.random.default_rng(o["data_seed"])
    arms, n = o["arms"], o["n_samples"]
    per_arm = np.full(arms, n // arms)
    per_arm[: n % arms] += 1
    xs, ys = [], []
    for k, m in enumerate(per_arm):
        r = np.linspace(0.05, 1.0, m)
        theta = r * 1.75 * 2 * np.pi + 2 * np.pi * k / arms
        pts = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
        xs.append(pts + rng.normal(scale=o["noise"] * 0.1, size=pts.shape))
        ys.append(np.full(m, k))
    return RawData(np.concatenate(xs), np.concatenate(ys), "classification", "points",
                   [f"arm {i}" for i in range(arms)], _POINT_FEATURES)


def load_curve(o: dict[str, Any]) -> RawData:
    """y = sin(x) + noise on x in [-3, 3]: the smallest regression problem."""
    rng = np.random.default_rng(o["data_seed"])
    x = rng.uniform(-3.0, 3.0, size=(o["n_samples"], 1))
    y = np.sin(x) + rng.normal(scale=o["noise"], size=x.shape)
    return RawData(x, y, "regression", "points", [], ["x"])


def load_sequence(o: dict[str, Any]) -> RawData:
    """Does the running sum of a sequence end above zero? The label depends on
    every step, so a recurrent block has to carry a total through time; the
    steps are observed with noise, so a few labels near zero are ambiguous."""
    rng = np.random.default_rng(o["data_seed"])
    n, t = o["n_samples"], o["length"]
    steps = rng.normal(size=(n, t))
    y = (steps.sum(axis=1) > 0).astype(np.int64)
    x = steps + rng.normal(scale=o["noise"], size=steps.shape)
    return RawData(x[:, :, None], y, "classification", "sequence", ["ends negative", "ends positive"])


# Token ids of the "tokens" set: 0 is left unused so it can serve as a padding
# id (Embedding's padding_idx=0), 1 and 2 are the markers, the rest filler.
TOKEN_A, TOKEN_B, FIRST_FILLER = 1, 2, 3


def load_tokens(o: dict[str, Any]) -> RawData:
    """Integer id sequences for Embedding: each has one token 1 and one token 2
    at random places among filler ids; class: does 1 come before 2? Neither a
    count nor any single position tells, so the model has to keep the order in
    its state. `noise` flips that share of labels."""
    rng = np.random.default_rng(o["data_seed"])
    n, t, vocab = o["n_samples"], o["length"], o["vocab_size"]
    x = rng.integers(FIRST_FILLER, vocab, size=(n, t), dtype=np.int64)
    # Two distinct positions per row: the argsort of uniform keys is a random permutation.
    pos = np.argsort(rng.random((n, t)), axis=1)[:, :2]
    rows = np.arange(n)
    x[rows, pos[:, 0]] = TOKEN_A
    x[rows, pos[:, 1]] = TOKEN_B
    y = (pos[:, 0] < pos[:, 1]).astype(np.int64)
    flip = rng.random(n) < o["noise"]
    y[flip] = 1 - y[flip]
    return RawData(x, y, "classification", "tokens", ["2 before 1", "1 before 2"],
                   [f"t{i + 1}" for i in range(t)])


def load_regression(o: dict[str, Any]) -> RawData:
    """scikit-learn's make_regression: a random linear target of `n_features`
    inputs (10 of them informative, or all when fewer) plus Gaussian noise; the
    wide inputs of the classic "big MLP on regression data" recipes.

    The target is divided by its standard deviation: make_regression's comes
    out with a spread of a few hundred, which sends SGD at lr 0.01 to inf on
    the first step; at unit variance an MSE of 1.0 is "predicts the mean" at
    any width, and `noise` is a share of that spread."""
    from sklearn.datasets import make_regression

    n_features = o["n_features"]
    x, y = make_regression(n_samples=o["n_samples"], n_features=n_features,
                           n_informative=min(10, n_features), noise=0.0, random_state=o["data_seed"])
    y = y / max(float(y.std()), 1e-12)
    y = y + np.random.default_rng(o["data_seed"]).normal(scale=o["noise"], size=y.shape)
    return RawData(x, y.reshape(-1, 1), "regression", "tabular", [], _feature_names(n_features))


def load_classification(o: dict[str, Any]) -> RawData:
    """scikit-learn's make_classification: `n_classes` Gaussian clusters on
    `n_informative` dimensions, embedded among `n_features` (the rest are
    redundant combinations and noise)."""
    from sklearn.datasets import make_classification

    n_features, n_informative, k = o["n_features"], o["n_informative"], o["n_classes"]
    if n_informative > n_features:
        raise DataError(f"data.options.n_informative ({n_informative}) is more than n_features ({n_features}); "
                        f"lower n_informative or raise n_features")
    if k > 2 ** n_informative:  # make_classification's own limit: one cluster corner per class
        raise DataError(f"data.options.n_classes ({k}) needs n_informative of at least {(k - 1).bit_length()} "
                        f"(got {n_informative}); raise n_informative")
    x, y = make_classification(n_samples=o["n_samples"], n_features=n_features, n_informative=n_informative,
                               n_redundant=min(n_features - n_informative, n_informative // 2),
                               n_classes=k, n_clusters_per_class=1, random_state=o["data_seed"])
    return RawData(x, y, "classification", "tabular", [f"class {i}" for i in range(k)],
                   _feature_names(n_features))


def _feature_names(n: int) -> list[str]:
    return [f"x{i + 1}" for i in range(n)]
