"""From raw arrays to a Dataset: seeded (stratified) splits, then
normalization fitted on the training split only, so no statistic of the
validation or test data leaks into training."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.data.dataset import DataError, Dataset, DatasetInfo, Kind, Normalizer, Task
from engine.data.missing import ColumnFill, apply_fills, fit_fills
from engine.spec import DataSpec


@dataclass
class RawData:
    """What a loader hands back before splitting.

    y holds int64 class indices (0..K-1) for classification and float32
    (N, num_targets) for regression. x_test/y_test are set only when the
    dataset ships its own test split (mnist1d).
    """

    x: np.ndarray
    y: np.ndarray
    task: Task
    kind: Kind
    class_names: list[str]
    feature_names: Optional[list[str]] = None
    x_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None
    title: Optional[str] = None  # file datasets are titled after their file
    # Columns with missing cells (NaN in x) to fill from the training split (engine/data/missing.py).
    fills: list[ColumnFill] = field(default_factory=list)


def build_dataset(raw: RawData, data: DataSpec, seed: int, name: str, title: str) -> Dataset:
    # The kind says how x is stored, so no extra flag travels with the data:
    # token ids stay int64 (fit_normalizer leaves them unscaled), the rest is float32.
    x_dtype = np.int64 if raw.kind == "tokens" else np.float32
    x = np.ascontiguousarray(raw.x, dtype=x_dtype)
    y = _labels(raw.y, raw.task)
    classification = raw.task == "classification"
    k = len(raw.class_names) if classification else None

    own_test = raw.x_test is not None
    if own_test:
        assert raw.y_test is not None
        pool_x, pool_y = x, y
        x_test = np.ascontiguousarray(raw.x_test, dtype=x_dtype)
        y_test = _labels(raw.y_test, raw.task)
        total = len(pool_y)  # val_fraction is a share of the training part
    else:
        total = len(y)
        n_test = _count(data.test_fraction, total, k)
        pool_idx, test_idx = _split(np.arange(total), y, n_test, seed, k, "test", raw.class_names)
        pool_x, pool_y = x[pool_idx], y[pool_idx]
        x_test, y_test = x[test_idx], y[test_idx]

    n_val = _count(data.val_fraction, total, k)
    train_idx, val_idx = _split(np.arange(len(pool_y)), pool_y, n_val, seed, k, "validation", raw.class_names)
    x_train, y_train = pool_x[train_idx], pool_y[train_idx]
    x_val, y_val = pool_x[val_idx], pool_y[val_idx]

    fills = fit_fills(raw.fills, x_train) if raw.fills else {}
    if fills:
        x_train, x_val, x_test = (apply_fills(raw.fills, fills, a) for a in (x_train, x_val, x_test))
    norm = fit_normalizer(x_train, data.normalize, raw.kind)
    info = DatasetInfo(
        name=name,
        title=raw.title or title,
        task=raw.task,
        kind=raw.kind,
        input_shape=tuple(int(s) for s in x.shape[1:]),
        num_classes=k,
        num_targets=k if k is not None else int(y.shape[1]),
        class_names=list(raw.class_names) if classification else [],
        sizes={"train": len(y_train), "val": len(y_val), "test": len(y_test)},
        feature_names=list(raw.feature_names) if raw.feature_names is not None else None,
        has_own_test_split=own_test,
    )
    return Dataset(info, norm.apply(x_train), y_train, norm.apply(x_val), y_val,
                   norm.apply(x_test), y_test, norm, fills=fills)


def fit_normalizer(x_train: np.ndarray, method: str, kind: Kind) -> Normalizer:
    """Statistics per feature; images share one per channel (axis 1) and
    sequences one per input feature (last axis), as torchvision and RNN
    practice do, so a translated digit is scaled like any other."""
    shape = (1,) + x_train.shape[1:]
    # Token ids name categories: id 7 scaled to 0.3 is no id at all, so any
    # method leaves them as they are (the spec's default is "standard").
    if method == "none" or kind == "tokens":
        return Normalizer("none", np.zeros(shape, np.float32), np.ones(shape, np.float32))
    if kind == "image" and x_train.ndim == 4:
        axes: tuple[int, ...] = (0, 2, 3)
    elif kind == "sequence" and x_train.ndim == 3:
        axes = (0, 1)
    else:
        axes = (0,)
    xt = x_train.astype(np.float64)
    if method == "standard":
        shift = xt.mean(axis=axes, keepdims=True)
        scale = xt.std(axis=axes, keepdims=True)
    elif method == "minmax":
        shift = xt.min(axis=axes, keepdims=True)
        scale = xt.max(axis=axes, keepdims=True) - shift
    else:
        raise DataError(f"data.normalize: unknown method {method!r}; use none, standard or minmax")
    # A constant feature (a blank border pixel) would divide by zero; leave it centred instead.
    scale = np.where(scale > 1e-12, scale, 1.0)
    return Normalizer(method, shift.astype(np.float32), scale.astype(np.float32))  # type: ignore[arg-type]


def _labels(y: np.ndarray, task: Task) -> np.ndarray:
    if task == "classification":
        return np.asarray(y, dtype=np.int64).reshape(-1)
    y = np.asarray(y, dtype=np.float32)
    return y.reshape(len(y), -1)


def _count(fraction: float, total: int, num_classes: Optional[int]) -> int:
    """Samples for a held-out split; a stratified split needs one per class."""
    if fraction <= 0:
        return 0
    n = int(round(fraction * total))
    return max(n, num_classes or 1)


def _split(idx: np.ndarray, y: np.ndarray, n_out: int, seed: int, num_classes: Optional[int],
           what: str, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held_out) indices; stratified for classification."""
    if n_out == 0:
        return idx, idx[:0]
    need = (num_classes or 1)
    if len(idx) - n_out < need:
        raise DataError(
            f"the {what} split would take {n_out} of {len(idx)} samples and leave too few to train on; "
            f"lower data.val_fraction / data.test_fraction or add data"
        )
    from sklearn.model_selection import train_test_split  # sklearn is slow to import; load on demand

    stratify = None
    if num_classes is not None:
        counts = np.bincount(y, minlength=num_classes)
        for c, n in enumerate(counts):
            if 0 < n < 2:
                raise DataError(
                    f"class {class_names[c]!r} has a single sample left for the {what} split; "
                    f"a stratified split needs at least 2 per class: add samples of that class, "
                    f"remove it, or set data.test_fraction to 0"
                )
        stratify = y
    kept, out = train_test_split(idx, test_size=n_out, random_state=seed, shuffle=True, stratify=stratify)
    return np.asarray(kept), np.asarray(out)
