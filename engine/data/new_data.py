"""New data for a trained run: a CSV, NPZ file or image folder turned into
the inputs its model was trained on, through the run's fitted
`Preprocessing`. A file that does not fit says how: the missing and extra
columns by name, the expected sample shape, a category never seen in
training, the row and line of a bad cell."""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from engine.data.csv_file import MISSING, decode_csv
from engine.data.dataset import DataError
from engine.data.files import IMAGE_SUFFIXES
from engine.data.preprocessing import Preprocessing

TRUE_WORDS = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}  # as the CSV loader reads booleans


@dataclass
class NewData:
    """Model inputs (normalized) with a label per sample; `truth` holds the
    answers when the file carries them (class index, -1 for a label the run
    never saw; or values (N, targets) for regression)."""

    x: np.ndarray
    labels: list[str]  # "row 3 (line 4)", "cats/a.png", "sample 0"
    truth: Optional[np.ndarray] = None
    truth_text: Optional[list[str]] = None  # the answers as the file wrote them
    notes: list[str] = field(default_factory=list)


def read_new_data(pre: Preprocessing, path: str | Path) -> NewData:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p} not found; check the path")
    if p.is_dir():
        if pre.image_size is None:
            raise DataError(f"{p.name} is a folder, but this run was not trained on an image folder; "
                            f"{accepted(pre)}")
        data = _image_folder(pre, p)
    elif p.suffix.lower() == ".npz":
        data = _npz(pre, p)
    elif p.suffix.lower() in (".csv", ".tsv", ".txt") and pre.extras.get("tokenizer"):
        from engine.data.text import read_new_texts  # a text run: its tokenizer reads the text column

        data = read_new_texts(pre, p)
    elif p.suffix.lower() in (".csv", ".tsv", ".txt"):
        if not pre.takes_table:
            raise DataError(f"{p.name} is a CSV table, but this run's {pre.dataset} inputs have shape "
                            f"{_shape(pre.input_shape)}, not named columns; {accepted(pre)}")
        data = _csv(pre, p)
    else:
        raise DataError(f"{p.name}: not a file LayerDeck predicts on; {accepted(pre)}")
    if len(data.x) == 0:
        raise DataError(f"{p.name} holds no samples")
    data.x = pre.normalizer.apply(data.x)
    return data


def accepted(pre: Preprocessing) -> str:
    """Which files this run takes, in words."""
    kinds = [f"an NPZ file with an array x of shape (N, {', '.join(map(str, pre.input_shape))})"]
    if pre.takes_table:
        kinds.insert(0, "a CSV with the columns " + ", ".join(repr(c.name) for c in pre.columns))
    if pre.image_size is not None:
        kinds.insert(0, "a folder of images (optionally one subfolder per class)")
    if pre.extras.get("tokenizer"):
        kinds.insert(0, f"a CSV with a {pre.extras.get('text_column', 'text')!r} column of texts")
    return "give " + " or ".join(kinds)


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape))


# --- CSV ----------------------------------------------------------------------------

def _csv(pre: Preprocessing, path: Path) -> NewData:
    where = f"CSV {path.name}"
    text = decode_csv(path.read_bytes())
    records = [r for r in csv.reader(io.StringIO(text), delimiter=pre.delimiter or ",") if any(c.strip() for c in r)]
    if not records:
        raise DataError(f"{where}: the file is empty; it needs a header line naming the columns")
    header = [c.strip() for c in records[0]]
    rows = records[1:]
    needed = [c.name for c in pre.columns]
    missing = [n for n in needed if n not in header]
    known = set(needed) | set(pre.dropped) | ({pre.target} if pre.target else set())
    extra = [h for h in header if h not in known]
    if missing:
        hint = f"; it has extra column(s) {_names(extra)} (renamed?)" if extra else ""
        raise DataError(f"{where}: missing column(s) {_names(missing)} that the run's model takes{hint}. "
                        f"The run was trained on the columns {_names(needed)}")
    notes = [f"ignored column(s) the run did not train on: {_names(extra)}"] if extra else []
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise DataError(f"{where}: row {i + 1} has {len(r)} fields but the header has {len(header)}; "
                            f"check for a missing or extra {pre.delimiter or ','!r}")
    index = {h: k for k, h in enumerate(header)}
    parts: list[np.ndarray] = []
    for col in pre.columns:
        values = [r[index[col.name]].strip() for r in rows]
        values = [_filled(v, col.fill, col.name, i, where) for i, v in enumerate(values)]
        if col.encoding == "number":
            parts.append(np.asarray([_number(v, col.name, i, where) for i, v in enumerate(values)])[:, None])
        else:
            pos = {c: k for k, c in enumerate(col.categories)}
            onehot = np.zeros((len(values), len(col.categories)))
            for i, v in enumerate(values):
                if v not in pos:
                    raise DataError(f"{where}: value {v!r} in column {col.name!r} at row {i + 1} was never seen "
                                    f"in training (known: {', '.join(col.categories)}); the model has no input for it")
                onehot[i, pos[v]] = 1.0
            parts.append(onehot)
    x = np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((len(rows), 0), np.float32)
    data = NewData(x, [f"row {i + 1}" for i in range(len(rows))], notes=notes)
    if pre.target and pre.target in header:
        _set_truth(pre, data, [r[index[pre.target]].strip() for r in rows])
    return data


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _filled(value: str, fill: Optional[str], column: str, i: int, where: str) -> str:
    if value.lower() not in MISSING:
        return value
    if fill is not None:
        return fill
    raise DataError(f"{where}: missing value in column {column!r} at row {i + 1}; fill it in or remove the row")


def _number(value: str, column: str, i: int, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        if value.lower() in TRUE_WORDS:
            return TRUE_WORDS[value.lower()]
        raise DataError(f"{where}: non-numeric value {value!r} in column {column!r} at row {i + 1}; "
                        f"the run was trained on numbers in this column") from None


def _set_truth(pre: Preprocessing, data: NewData, values: list[str]) -> None:
    """The file's answers, as class indices (-1: a label the run never saw) or values."""
    data.truth_text = values
    if pre.task == "classification":
        data.truth = np.asarray([class_index(pre, v) for v in values], dtype=np.int64)
        unseen = sorted({v for v, k in zip(values, data.truth) if k < 0})
        if unseen:
            data.notes.append(f"label(s) {_names(unseen[:5])} are not among the run's classes "
                              f"({', '.join(pre.class_names)}); those rows count as wrong")
        return
    out = np.full((len(values), max(len(pre.target_names), 1)), np.nan, dtype=np.float32)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except ValueError:
            pass  # a blank or text answer: no residual for that row
    data.truth = out


def class_index(pre: Preprocessing, label: object) -> int:
    """The class a label names: by name ("setosa", "7"), or 7.0 read as "7"; -1 if none."""
    text = str(label).strip()
    names = list(pre.class_names)
    if text in names:
        return names.index(text)
    try:
        number = float(text)
    except ValueError:
        return -1
    if number.is_integer() and str(int(number)) in names:
        return names.index(str(int(number)))
    return -1


# --- NPZ ----------------------------------------------------------------------------

def _npz(pre: Preprocessing, path: Path) -> NewData:
    where = f"NPZ {path.name}"
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{where}: not a readable NPZ file of numeric arrays ({e}); "
                        f"save it with numpy.savez(path, x=inputs)") from None
    if "x" not in arrays:
        raise DataError(f"{where}: no array named 'x' (found: {', '.join(sorted(arrays)) or 'none'}); "
                        f"save the inputs with numpy.savez(path, x=inputs)")
    x = arrays["x"]
    if x.ndim == 1 and pre.input_shape == (1,):
        x = x[:, None]
    if tuple(x.shape[1:]) != tuple(pre.input_shape):
        raise DataError(f"{where}: x has samples of shape {_shape(tuple(x.shape[1:])) or 'scalar'} "
                        f"but the run's model takes samples of shape {_shape(pre.input_shape)}: "
                        f"x must have shape (N, {', '.join(map(str, pre.input_shape))})")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: x must be numeric, got dtype {x.dtype}")
    x = x.astype(np.int64 if pre.kind == "tokens" else np.float32)
    data = NewData(x, [f"sample {i}" for i in range(len(x))])
    if "y" in arrays:
        y = arrays["y"]
        if len(y) != len(x):
            raise DataError(f"{where}: x has {len(x)} samples but y has {len(y)}")
        if pre.task == "classification":
            _set_truth(pre, data, [str(v) for v in y.reshape(len(y), -1)[:, 0].tolist()])
        else:
            data.truth = y.reshape(len(y), -1).astype(np.float32)
            data.truth_text = [", ".join(f"{v:g}" for v in row) for row in data.truth]
    return data


# --- image folder -------------------------------------------------------------------

def _image_folder(pre: Preprocessing, root: Path) -> NewData:
    from PIL import Image, UnidentifiedImageError

    where = f"image folder {root.name}"
    files: list[tuple[Optional[str], Path]] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            files += [(entry.name, p) for p in sorted(entry.iterdir())
                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            files.append((None, entry))
    if not files:
        raise DataError(f"{where}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder "
                        f"or its subfolders")
    size, mode = int(pre.image_size or 0), pre.image_mode or "L"
    x = np.empty((len(files), 1 if mode == "L" else 3, size, size), dtype=np.float32)
    for i, (_, p) in enumerate(files):
        try:
            with Image.open(p) as img:
                arr = np.asarray(img.convert(mode).resize((size, size), Image.Resampling.BILINEAR), np.float32)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise DataError(f"{where}: cannot read image {p.relative_to(root)} ({e}); "
                            f"remove or replace the file") from None
        x[i] = (arr[None] if mode == "L" else arr.transpose(2, 0, 1)) / 255.0
    data = NewData(x, [str(p.relative_to(root)) for _, p in files])
    if any(c is not None for c, _ in files):
        _set_truth(pre, data, [c or "" for c, _ in files])
    return data
