"""What a loaded dataset looks like to the rest of LayerDeck.

Everything here is plain data (numpy arrays and frozen dataclasses) so the
GUI, the worker and the CLI share one shape of answer and nothing imports a
heavy library to read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import numpy as np

Task = Literal["classification", "regression"]
# "tokens": integer ids (int64) for an Embedding block; categories, not
# quantities, so they are never cast to float or normalized.
Kind = Literal["image", "tabular", "points", "sequence", "signal", "tokens"]
Source = Literal["bundled", "synthetic", "file"]


class DataError(ValueError):
    """A dataset that cannot be loaded; the message names what is at fault and the fix."""


@dataclass(frozen=True)
class DatasetEntry:
    """A registry row: enough for a picker, without loading anything."""

    name: str
    title: str
    task: Task  # for file sources, the usual case; the real task is detected on load
    kind: Kind
    source: Source
    description: str
    options: dict[str, Any]  # option name -> default (n_samples, noise, ...)
    needs: tuple[str, ...] = ()  # DataSpec fields the user must fill in ("path", "target")
    option_help: dict[str, str] = field(default_factory=dict)  # option name -> one-line tooltip


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    task: Task
    kind: Kind
    input_shape: tuple[int, ...]  # one sample, no batch dimension
    num_classes: Optional[int]  # None for regression
    num_targets: int  # classes for classification, target columns for regression
    class_names: list[str]
    sizes: dict[str, int]  # {"train", "val", "test"}
    feature_names: Optional[list[str]]
    has_own_test_split: bool


@dataclass(frozen=True)
class Normalizer:
    """x_normalized = (x - shift) / scale, fitted on the training split only.

    `shift` and `scale` have shape (1, *input_shape) with size-1 axes where
    the statistic is shared (images share one per channel), so they
    broadcast over a batch and can be stored with a model for inference.
    """

    method: Literal["none", "standard", "minmax"]
    shift: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        if self.method == "none":
            # Token ids stay int64: Embedding indexes with them and rejects floats.
            return x if x.dtype == np.int64 else x.astype(np.float32, copy=False)
        return ((x - self.shift) / self.scale).astype(np.float32)

    def invert(self, x: np.ndarray) -> np.ndarray:
        if self.method == "none":
            return x
        return (x * self.scale + self.shift).astype(np.float32)


@dataclass
class Dataset:
    """Splits as numpy arrays: x float32 (N, *input_shape), or int64 ids for
    kind "tokens"; y int64 (N,) for classification, float32 (N, num_targets)
    for regression."""

    info: DatasetInfo
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    normalizer: Optional[Normalizer] = None
    # Text sets: the tokenizer fitted on the training split, as JSON (engine/data/text.py), saved with the run.
    tokenizer: Optional[str] = None
    # Tables: column -> the cell text that filled its missing cells, fitted on the training split.
    fills: dict[str, str] = field(default_factory=dict)

    def preview(self, n: int = 16) -> list[tuple[np.ndarray, int | np.ndarray]]:
        """A few training samples in their original units, classes taken in turn
        so every class shows up in the GUI's preview strip."""
        count = min(n, len(self.y_train))
        if count <= 0:
            return []
        if self.info.task == "classification":
            by_class = [np.flatnonzero(self.y_train == c) for c in range(self.info.num_classes or 0)]
            order: list[int] = []
            depth = 0
            while len(order) < count:
                for idx in by_class:
                    if depth < len(idx) and len(order) < count:
                        order.append(int(idx[depth]))
                depth += 1
            picks = np.asarray(order)
        else:
            picks = np.arange(count)
        xs = self.x_train[picks]
        if self.normalizer is not None:
            xs = self.normalizer.invert(xs)
        out: list[tuple[np.ndarray, int | np.ndarray]] = []
        for x, i in zip(xs, picks):
            y = self.y_train[i]
            out.append((np.array(x), int(y) if self.info.task == "classification" else np.array(y)))
        return out

    def class_counts(self) -> dict[str, int]:
        """Samples per class over train + val + test (classification only)."""
        if self.info.task != "classification":
            raise DataError(f"{self.info.name} is a regression dataset: it has no classes to count")
        k = self.info.num_classes or 0
        counts = (np.bincount(self.y_train, minlength=k) + np.bincount(self.y_val, minlength=k)
                  + np.bincount(self.y_test, minlength=k))
        return {name: int(c) for name, c in zip(self.info.class_names, counts)}

    def copy(self) -> "Dataset":
        """Fresh arrays, so a caller that edits them in place cannot spoil the cache."""
        return Dataset(
            self.info,
            self.x_train.copy(), self.y_train.copy(),
            self.x_val.copy(), self.y_val.copy(),
            self.x_test.copy(), self.y_test.copy(),
            self.normalizer, self.tokenizer, fills=dict(self.fills),
        )
