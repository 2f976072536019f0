"""Real datasets that ship inside installed packages: scikit-learn's small
sets and MNIST-1D (generated locally; nothing is ever downloaded)."""
from __future__ import annotations

import os
import random
import threading
from typing import Any, Callable

import numpy as np

from engine.data import cache
from engine.data.splits import RawData


def load_digits(options: dict[str, Any]) -> RawData:
    from sklearn.datasets import load_digits as sk

    d = sk()
    # 8x8 grey images with values 0..16, shaped (C, H, W) for Conv2d.
    x = d.images.astype(np.float32)[:, None, :, :]
    return RawData(x, d.target, "classification", "image", [str(c) for c in d.target_names])


def _tabular(loader: Callable[..., Any]) -> Callable[[dict[str, Any]], RawData]:
    def load(options: dict[str, Any]) -> RawData:
        d = loader()
        return RawData(d.data, d.target, "classification", "tabular",
                       [str(c) for c in d.target_names], [str(f) for f in d.feature_names])
    return load


def _iris() -> Any:
    from sklearn.datasets import load_iris
    return load_iris()


def _wine() -> Any:
    from sklearn.datasets import load_wine
    return load_wine()


def _breast_cancer() -> Any:
    from sklearn.datasets import load_breast_cancer
    return load_breast_cancer()


load_iris = _tabular(_iris)
load_wine = _tabular(_wine)
load_breast_cancer = _tabular(_breast_cancer)


def load_diabetes(options: dict[str, Any]) -> RawData:
    from sklearn.datasets import load_diabetes as sk

    # scaled=False: the original units, so our own train-only normalization
    # is the only scaling (sklearn's pre-scaled copy used all 442 rows).
    d = sk(scaled=False)
    return RawData(d.data, d.target.reshape(-1, 1), "regression", "tabular", [],
                   [str(f) for f in d.feature_names])


# --- MNIST-1D --------------------------------------------------------------------

_mnist1d_memory: dict[int, dict[str, np.ndarray]] = {}
_mnist1d_lock = threading.Lock()


def generate_mnist1d(data_seed: int) -> dict[str, np.ndarray]:
    """The package's make_dataset with its published defaults (5,000 signals
    of length 40, 4,000 train / 1,000 test). It seeds the global `random`
    and numpy generators, so their state is put back afterwards."""
    # mnist1d imports matplotlib.pyplot (for its plotting helpers, unused here). Its
    # non-GUI backend, unless the user chose one: this runs on the app's worker
    # threads, where pyplot must never reach for a Qt backend.
    os.environ.setdefault("MPLBACKEND", "Agg")
    from mnist1d.data import get_dataset_args, make_dataset  # imports matplotlib: seconds

    args = get_dataset_args()
    args.seed = data_seed
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {"x": d["x"].astype(np.float32), "y": d["y"].astype(np.int64),
            "x_test": d["x_test"].astype(np.float32), "y_test": d["y_test"].astype(np.int64)}


def mnist1d_arrays(data_seed: int) -> dict[str, np.ndarray]:
    """Memory, then the user cache dir, then generation (written back)."""
    with _mnist1d_lock:
        if data_seed in _mnist1d_memory:
            return _mnist1d_memory[data_seed]
        file = f"mnist1d-{cache.key_digest({'seed': data_seed, 'v': 1})}.npz"
        arrays = cache.read_arrays(file)
        if arrays is None or set(arrays) != {"x", "y", "x_test", "y_test"}:
            arrays = generate_mnist1d(data_seed)
            cache.write_arrays(file, arrays)
        _mnist1d_memory[data_seed] = arrays
        return arrays


def load_mnist1d(options: dict[str, Any]) -> RawData:
    a = mnist1d_arrays(int(options["data_seed"]))
    return RawData(a["x"], a["y"], "classification", "signal", [str(i) for i in range(10)],
                   x_test=a["x_test"], y_test=a["y_test"])
