"""The fitted preprocessing a run keeps with its checkpoints: what turns a
new file into the inputs its model was trained on.

A run fits these on its training split only: the normalization statistics
(splits.fit_normalizer), a CSV's column encodings (which columns are numbers,
which text columns are one-hot and with which categories, which were
dropped), an image folder's size and colour mode, the class names. The worker
stores them as the run document "preprocessing" before training starts
(`record_preprocessing` in engine/evaluation/recording.py), beside the
checkpoints in the store; `engine.data.new_data.read_new_data` applies them
to a CSV, NPZ or image folder for `layerdeck predict` and the app.

Extending it (for example fitted missing-value fills): add a field with a
default (to `CsvColumn` for state per column), set it in `fit_preprocessing`,
and read it in `new_data`. `to_dict` / `from_dict` carry every field by
name, and a document written before the field existed reads back with the
default, so old runs keep predicting. `CsvColumn.fill` is that hook already:
a value (fitted on the training split) that replaces a missing cell; None
means a missing cell is an error.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from engine.data.csv_file import read_header
from engine.data.dataset import DataError, Dataset, Normalizer
from engine.spec import DataSpec

FORMAT = 1
DOCUMENT_KIND = "preprocessing"  # the run document that holds it


@dataclass(frozen=True)
class CsvColumn:
    """One input column of a CSV as the model saw it."""

    name: str
    encoding: Literal["number", "onehot"]
    categories: tuple[str, ...] = ()  # onehot: the training split's values, in feature order
    fill: Optional[str] = None  # replaces a missing cell; None: a missing cell is an error


@dataclass(frozen=True)
class Preprocessing:
    dataset: str  # registry name: digits, iris, csv, npz, image_folder, ...
    kind: str  # image, tabular, points, sequence, signal, tokens
    task: str  # classification | regression
    input_shape: tuple[int, ...]  # one sample, no batch dimension
    class_names: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()  # regression: one name per output
    normalize: str = "none"
    shift: tuple[float, ...] = ()  # flattened; reshaped to stat_shape
    scale: tuple[float, ...] = ()
    stat_shape: tuple[int, ...] = ()  # (1, *input_shape) with size-1 axes where shared
    feature_names: tuple[str, ...] = ()
    # CSV (and bundled tables, whose columns are their feature names)
    target: Optional[str] = None  # the column holding the answer, when a file has it
    columns: tuple[CsvColumn, ...] = ()
    dropped: tuple[str, ...] = ()  # columns the run ignored (options.drop)
    delimiter: Optional[str] = None
    # image folders
    image_size: Optional[int] = None
    image_mode: Optional[str] = None  # "L" or "RGB"
    extras: dict[str, Any] = field(default_factory=dict)  # room for other parts' fitted state

    @property
    def normalizer(self) -> Normalizer:
        shape = self.stat_shape or (1, *self.input_shape)
        if self.normalize == "none" or not self.shift:
            ones = np.ones(shape, np.float32)
            return Normalizer("none", np.zeros_like(ones), ones)
        return Normalizer(self.normalize,  # type: ignore[arg-type]
                          np.asarray(self.shift, np.float32).reshape(shape),
                          np.asarray(self.scale, np.float32).reshape(shape))

    @property
    def takes_table(self) -> bool:
        """True when a CSV can feed this run (its inputs are named columns)."""
        return bool(self.columns)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = FORMAT
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        if d.get("format") != FORMAT:
            raise DataError(f"the run's preprocessing document has format {d.get('format')!r}; "
                            f"this LayerDeck reads format {FORMAT}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["columns"] = tuple(CsvColumn(c["name"], c["encoding"], tuple(c.get("categories", ())), c.get("fill"))
                                  for c in d.get("columns", ()))
        for key in ("input_shape", "class_names", "target_names", "shift", "scale", "stat_shape",
                    "feature_names", "dropped"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def fit_preprocessing(data: DataSpec, dataset: Dataset) -> Preprocessing:
    """What `dataset` (loaded from `data`) fitted, as plain data."""
    info = dataset.info
    norm = dataset.normalizer
    pre: dict[str, Any] = dict(
        dataset=data.name, kind=info.kind, task=info.task, input_shape=tuple(info.input_shape),
        class_names=tuple(info.class_names), feature_names=tuple(info.feature_names or ()))
    if info.task == "regression":
        pre["target_names"] = (tuple([data.target]) if data.name == "csv" and info.num_targets == 1
                               else ("target",) if info.num_targets == 1
                               else tuple(f"target_{i}" for i in range(info.num_targets)))
    if norm is not None and norm.method != "none":
        pre.update(normalize=norm.method, stat_shape=tuple(norm.shift.shape),
                   shift=tuple(float(v) for v in norm.shift.ravel()),
                   scale=tuple(float(v) for v in norm.scale.ravel()))
    if data.name == "csv":
        pre.update(_csv_plan(data, list(info.feature_names or ()), dataset.fills))
    elif info.kind == "tabular" and info.feature_names and len(info.input_shape) == 1:
        # A bundled table (iris, diabetes) takes a CSV with its feature names as columns.
        pre.update(target="target", columns=tuple(CsvColumn(n, "number") for n in info.feature_names))
    if data.name == "image_folder":
        pre.update(image_size=int(info.input_shape[-1]), image_mode="L" if info.input_shape[0] == 1 else "RGB")
    tokenizer = getattr(dataset, "tokenizer", None)  # text sets: the fitted tokenizer as JSON (engine/data/text.py)
    if tokenizer is not None:
        pre["extras"] = {"tokenizer": tokenizer, "text_column": str(data.options.get("text", "text")),
                         "label_column": data.target}
    return Preprocessing(**pre)


def _csv_plan(data: DataSpec, feature_names: list[str], fills: dict[str, str]) -> dict[str, Any]:
    """Columns in file order, read from the header and the features the
    loader made: a column is either one feature of its own name (a number)
    or a run of `name=category` features (one-hot text)."""
    header, delimiter = read_header(Path(data.path or ""), str(data.options.get("delimiter", "auto")))
    drop = {d.strip() for d in str(data.options.get("drop", "")).split(",") if d.strip()}
    columns: list[CsvColumn] = []
    i = 0
    for name in header:
        if name == data.target or name in drop:
            continue
        if i < len(feature_names) and feature_names[i] == name:
            columns.append(CsvColumn(name, "number", fill=fills.get(name)))
            i += 1
            continue
        cats: list[str] = []
        while i < len(feature_names) and feature_names[i].startswith(f"{name}="):
            cats.append(feature_names[i][len(name) + 1:])
            i += 1
        if cats:
            columns.append(CsvColumn(name, "onehot", tuple(cats), fill=fills.get(name)))
        else:
            drop.add(name)  # the loader left it out (a later option may drop columns itself)
    return {"target": data.target, "columns": tuple(columns), "dropped": tuple(sorted(drop)),
            "delimiter": delimiter}
