"""A batch of metric points as columns: what add_metrics writes and folds
into runs.summary.

Why columns: a batch is thousands of points and add_metrics must take
200,000 of them a second (docs/BENCHMARKS.md). Points are read with C-level loops
(attrgetter/itemgetter through map, zip), then ordered, de-duplicated and
summarised with numpy; Python only loops over keys, never over points.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

_FIELDS = ("key", "step", "epoch", "value", "wall_time")


@dataclass(frozen=True)
class MetricBatch:
    """Points sorted by (key, step), one per (key, step): the last one given wins,
    as it does across batches. Keys appear in the order first seen."""

    keys: list[str]  # the distinct keys
    bounds: np.ndarray  # int64, len(keys) + 1: key i owns rows bounds[i]:bounds[i+1]
    steps: np.ndarray  # int64
    epochs: np.ndarray  # int64
    values: np.ndarray  # float64; NaN where the point's value was None or NaN
    walls: np.ndarray  # float64

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def key_column(self) -> list[str]:
        return np.repeat(np.array(self.keys, dtype=object), np.diff(self.bounds)).tolist()

    def value_column(self) -> list[Optional[float]]:
        """Values as Python floats, NaN as None (SQLite would store NULL anyway;
        PostgreSQL would store NaN)."""
        out = self.values.tolist()
        for i in np.flatnonzero(np.isnan(self.values)).tolist():
            out[i] = None
        return out

    def rows(self, run_id: int) -> Iterator[tuple]:
        """(run_id, key, step, epoch, value, wall_time) tuples for an executemany."""
        return zip(repeat(run_id), self.key_column(), self.steps.tolist(),
                   self.epochs.tolist(), self.value_column(), self.walls.tolist())


def to_batch(points: Sequence[Any]) -> MetricBatch:
    """Columns from MetricPoints (engine.training.callbacks; not imported here,
    it would drag training in), mappings with those keys, or (key, step,
    epoch, value, wall_time) tuples. The shape is read from the first point.
    A None epoch is 0; a None value is NaN, stored as NULL."""
    first = points[0]
    if hasattr(first, "wall_time"):
        cols = zip(*map(attrgetter(*_FIELDS), points))
    elif isinstance(first, Mapping):
        cols = zip(*map(itemgetter(*_FIELDS), points))
    else:
        cols = zip(*points)
    try:
        keys, steps_, epochs_, values_, walls_ = cols
    except ValueError:
        raise ValueError("a metric point needs 5 fields: key, step, epoch, value, "
                         "wall_time") from None
    steps = np.array(steps_, dtype=np.int64)
    try:
        epochs = np.array(epochs_, dtype=np.int64)
    except TypeError:  # None among them
        epochs = np.array([int(e or 0) for e in epochs_], dtype=np.int64)
    values = np.array(values_, dtype=np.float64)  # None becomes NaN
    walls = np.array(walls_, dtype=np.float64)

    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}  # a loop over distinct keys only
    codes = np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))
    order = np.lexsort((steps, codes))  # stable: a repeated (key, step) keeps batch order
    c, s = codes[order], steps[order]
    repeated = (c[1:] == c[:-1]) & (s[1:] == s[:-1])
    if repeated.any():
        order = order[np.append(~repeated, True)]  # the last of each run of equals
        c = codes[order]
    bounds = np.searchsorted(c, np.arange(len(index) + 1))
    return MetricBatch(list(index), bounds, steps[order], epochs[order], values[order],
                       walls[order])


@dataclass(frozen=True)
class KeyStats:
    """One key's part of a batch, for runs.summary (engine.store.summary)."""

    last_step: int
    last: Optional[float]  # None when the last value is NaN or infinite
    min: Optional[float]  # over finite values; None when there are none
    max: Optional[float]
    argmin: int  # row of the first minimum (lowest step); -1 without finite values
    argmax: int


def key_stats(batch: MetricBatch) -> dict[str, KeyStats]:
    """Last, min and max of every key, vectorised over all keys at once."""
    v = batch.values
    n_keys = len(batch.keys)
    starts, ends = batch.bounds[:-1], batch.bounds[1:]
    finite = np.isfinite(v)
    fv = np.where(finite, v, np.nan)
    with np.errstate(invalid="ignore"):  # an all-NaN key: NaN, handled below
        mins = np.fmin.reduceat(fv, starts)
        maxs = np.fmax.reduceat(fv, starts)
    seg = np.repeat(np.arange(n_keys), ends - starts)
    has = np.logical_or.reduceat(finite, starts)
    argmin = _first_hit(fv == mins[seg], seg, n_keys, has)
    argmax = _first_hit(fv == maxs[seg], seg, n_keys, has)
    last_rows = (ends - 1).tolist()
    out: dict[str, KeyStats] = {}
    for i, key in enumerate(batch.keys):
        r = last_rows[i]
        lv = float(v[r])
        ok = bool(has[i])
        out[key] = KeyStats(int(batch.steps[r]), lv if finite[r] else None,
                            float(mins[i]) if ok else None, float(maxs[i]) if ok else None,
                            int(argmin[i]), int(argmax[i]))
    return out


def _first_hit(hit: np.ndarray, seg: np.ndarray, n_keys: int, has: np.ndarray) -> np.ndarray:
    """Per segment, the first row where `hit` is true (-1 where `has` is false)."""
    rows = np.flatnonzero(hit)
    first = np.searchsorted(seg[rows], np.arange(n_keys))
    out = np.full(n_keys, -1, dtype=np.int64)
    out[has] = rows[first[has]]
    return out
