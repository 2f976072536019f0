"""Small generated problems for trying blocks quickly. Each is generated from
its own `data_seed` option (not the run seed), so runs that vary the seed
see the same data and differ only in split, initialization and shuffling."""
from __future__ import annotations

from typing import Any

import numpy as np

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
