"""Missing cells in a table, filled with values fitted on the training split.

A loader that keeps missing cells (`data.options.missing = "fill"`) leaves
them as NaN and hands back one `ColumnFill` per column that has any: a
number column (one feature) is filled with its training median, a text
column (a run of one-hot features) with its most frequent training value.
`build_dataset` fits the fills after the split, like normalization, so no
statistic of the validation or test rows leaks into training, and keeps the
fitted values (as the text a cell would hold) for predictions on new files.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.data.dataset import DataError


@dataclass(frozen=True)
class ColumnFill:
    column: str
    start: int  # its features: x[:, start:stop]
    stop: int
    rule: Literal["median", "most_frequent"]
    categories: tuple[str, ...] = ()  # most_frequent: the one-hot features' values, in order


def fit_fills(plan: list[ColumnFill], x_train: np.ndarray) -> dict[str, str]:
    """Column -> fill value (as cell text), from the training rows that have one."""
    fitted: dict[str, str] = {}
    for f in plan:
        block = x_train[:, f.start:f.stop]
        present = block[~np.isnan(block).any(axis=1)]
        if len(present) == 0:
            raise DataError(f"column {f.column!r} has no value in any training row, so there is nothing to fill "
                            f"it with; remove it with options.drop = {f.column!r}")
        if f.rule == "median":
            fitted[f.column] = repr(float(np.median(present[:, 0])))
        else:
            counts = present.sum(axis=0)
            fitted[f.column] = f.categories[int(np.argmax(counts))]  # ties: the first in sorted order
    return fitted


def apply_fills(plan: list[ColumnFill], fitted: dict[str, str], x: np.ndarray) -> np.ndarray:
    """x with every missing cell replaced by its column's fitted value (a copy)."""
    x = x.copy()
    for f in plan:
        block = x[:, f.start:f.stop]
        holes = np.isnan(block).any(axis=1)
        if not holes.any():
            continue
        if f.rule == "median":
            block[holes, 0] = float(fitted[f.column])
        else:
            row = np.zeros(f.stop - f.start)
            row[f.categories.index(fitted[f.column])] = 1.0
            block[holes] = row
    return x
