"""CSV tables: numeric columns as they are, text columns one-hot encoded,
the target column chosen by the user. Every problem is reported with the
column, the row (and file line) and what to do about it, because a CSV is
usually fixed in a spreadsheet, not in code."""
from __future__ import annotations

import csv
import difflib
import io
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from engine.data.dataset import DataError, Task
from engine.data.splits import RawData
from engine.spec import DataSpec

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}
MAX_CLASSES_FROM_INTEGERS = 20  # more distinct integers than this reads as a quantity (regression)
MAX_CATEGORIES = 100


def load_csv(data: DataSpec, options: dict[str, Any], path: Path) -> RawData:
    where = f"CSV {path.name}"
    header, rows, lines = _read_rows(path, options["delimiter"], where)
    target = _target_column(data.target, header, where)
    drop = _drop_columns(options["drop"], header, target, where)

    columns = {name: [r[i].strip() for r in rows] for i, name in enumerate(header)}
    task, y, class_names = _encode_target(columns[target], target, options["task"], lines, where)

    parts: list[np.ndarray] = []
    feature_names: list[str] = []
    for name in header:
        if name == target or name in drop:
            continue
        values = columns[name]
        _check_missing(values, name, lines, where)
        numbers = _parse_numbers(values)
        n_numeric = sum(v is not None for v in numbers)
        if n_numeric == len(values):
            _check_finite(numbers, values, name, lines, where)
            parts.append(np.asarray(numbers, dtype=np.float64)[:, None])
            feature_names.append(name)
        elif n_numeric > len(values) - n_numeric:
            i = next(i for i, v in enumerate(numbers) if v is None)
            raise DataError(
                f"{where}: non-numeric value {values[i]!r} in column {name!r} at row {i + 1} "
                f"(line {lines[i]}); the rest of the column is numbers, so it cannot be encoded. "
                f"Fix the value, or remove the column with options.drop = {name!r}"
            )
        else:
            cats = sorted(set(values))
            if len(cats) > MAX_CATEGORIES or (len(cats) > 20 and len(cats) > len(values) / 2):
                raise DataError(
                    f"{where}: text column {name!r} has {len(cats)} different values in {len(values)} rows "
                    f"(an identifier or free text?) and cannot be one-hot encoded; "
                    f"remove it with options.drop = {name!r}"
                )
            index = {c: k for k, c in enumerate(cats)}
            onehot = np.zeros((len(values), len(cats)))
            onehot[np.arange(len(values)), [index[v] for v in values]] = 1.0
            parts.append(onehot)
            feature_names.extend(f"{name}={c}" for c in cats)
    if not parts:
        raise DataError(f"{where}: no feature columns left besides the target {target!r}; "
                        f"the table needs at least one input column")

    if task == "classification":
        _check_single_sample_classes(y, class_names, target, lines, where)
    return RawData(np.concatenate(parts, axis=1), y, task, "tabular", class_names, feature_names,
                   title=path.name)


def _read_rows(path: Path, delimiter: str, where: str) -> tuple[list[str], list[list[str]], list[int]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # spreadsheet exports are often cp1252; every byte decodes
    if not text.strip():
        raise DataError(f"{where}: the file is empty; it needs a header line naming the columns and data rows")
    if delimiter == "auto":
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: Optional[list[str]] = None
    rows: list[list[str]] = []
    lines: list[int] = []  # file line of each data row (quoted fields may span lines)
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [c.strip() or f"column {i + 1}" for i, c in enumerate(record)]
            if all(v is not None for v in _parse_numbers(header)):
                raise DataError(f"{where}: the first line is all numbers; it should name the columns "
                                f"(add a header line such as {','.join(f'x{i + 1}' for i in range(len(header)))})")
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes:
                raise DataError(f"{where}: column name(s) {', '.join(map(repr, dupes))} appear more than once "
                                f"in the header; give each column its own name")
            continue
        if len(record) != len(header):
            raise DataError(f"{where}: line {reader.line_num} has {len(record)} fields but the header has "
                            f"{len(header)}; check for a missing or extra {delimiter!r} on that line")
        rows.append(record)
        lines.append(reader.line_num)
    assert header is not None
    if not rows:
        raise DataError(f"{where}: the file has a header but no data rows")
    return header, rows, lines


def _target_column(target: Optional[str], header: list[str], where: str) -> str:
    listing = ", ".join(header)
    if not target:
        raise DataError(f"{where}: choose the column to predict (data.target); columns: {listing}")
    if target in header:
        return target
    close = difflib.get_close_matches(target, header, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(f"{where}: target column {target!r} not found{hint}; columns: {listing}")


def _drop_columns(drop: str, header: list[str], target: str, where: str) -> set[str]:
    names = {d.strip() for d in drop.split(",") if d.strip()}
    unknown = sorted(names - set(header))
    if unknown:
        raise DataError(f"{where}: options.drop names unknown column(s) {', '.join(map(repr, unknown))}; "
                        f"columns: {', '.join(header)}")
    if target in names:
        raise DataError(f"{where}: options.drop removes the target column {target!r}; take it out of drop")
    return names


def _encode_target(values: list[str], name: str, task: str, lines: list[int],
                   where: str) -> tuple[Task, np.ndarray, list[str]]:
    _check_missing(values, name, lines, where)
    numbers = _parse_numbers(values)
    numeric = all(v is not None for v in numbers)
    if task == "regression" or (task == "auto" and numeric and not _few_integers(numbers)):
        if not numeric:
            i = next(i for i, v in enumerate(numbers) if v is None)
            raise DataError(f"{where}: target column {name!r} has the text value {values[i]!r} at row {i + 1} "
                            f"(line {lines[i]}); regression needs numbers (or set options.task to classification)")
        _check_finite(numbers, values, name, lines, where)
        return "regression", np.asarray(numbers, dtype=np.float32)[:, None], []
    if numeric:
        # Integer labels sort as numbers (2 before 10), and print without ".0".
        labels = [v for v in numbers if v is not None]  # all of them: numeric
        keys = sorted(set(labels), key=float)
        names = [str(int(k)) if float(k).is_integer() else str(k) for k in keys]
        by_number = {k: i for i, k in enumerate(keys)}
        return "classification", np.asarray([by_number[v] for v in labels], dtype=np.int64), names
    names = sorted(set(values))
    index = {k: i for i, k in enumerate(names)}
    return "classification", np.asarray([index[v] for v in values], dtype=np.int64), names


def _few_integers(numbers: list[Optional[float]]) -> bool:
    return (all(float(v).is_integer() for v in numbers)  # type: ignore[arg-type]
            and len(set(numbers)) <= MAX_CLASSES_FROM_INTEGERS)


def _parse_numbers(values: list[str]) -> list[Optional[float]]:
    out: list[Optional[float]] = []
    for v in values:
        try:
            out.append(float(v))
        except ValueError:
            out.append(None)
    return out


def _check_missing(values: list[str], name: str, lines: list[int], where: str) -> None:
    holes = [i for i, v in enumerate(values) if v.lower() in MISSING]
    if holes:
        i = holes[0]
        more = f" and {len(holes) - 1} more row(s)" if len(holes) > 1 else ""
        raise DataError(f"{where}: missing value in column {name!r} at row {i + 1} (line {lines[i]}){more}; "
                        f"fill in the value or remove the row")


def _check_finite(numbers: list[Optional[float]], values: list[str], name: str,
                  lines: list[int], where: str) -> None:
    for i, v in enumerate(numbers):
        if v is None or not math.isfinite(v):
            raise DataError(f"{where}: value {values[i]!r} in column {name!r} at row {i + 1} (line {lines[i]}) "
                            f"is not a finite number; replace it")


def _check_single_sample_classes(y: np.ndarray, class_names: list[str], target: str,
                                 lines: list[int], where: str) -> None:
    counts = np.bincount(y, minlength=len(class_names))
    lonely = [c for c, n in enumerate(counts) if n == 1]
    if lonely:
        c = lonely[0]
        i = int(np.flatnonzero(y == c)[0])
        others = f" (also: {', '.join(repr(class_names[k]) for k in lonely[1:])})" if len(lonely) > 1 else ""
        raise DataError(
            f"{where}: class {class_names[c]!r} of target column {target!r} has a single sample "
            f"(row {i + 1}, line {lines[i]}){others}; splitting needs at least 2 per class: "
            f"add samples of that class or remove the row"
        )
