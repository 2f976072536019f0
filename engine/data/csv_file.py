"""CSV tables: numeric columns as they are, text columns one-hot encoded,
the target column chosen by the user. Every problem is reported with the
column, the row (and file line) and what to do about it, because a CSV is
usually fixed in a spreadsheet, not in code."""
from __future__ import annotations

import csv
import difflib
import io
import math
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np

from engine.data.dataset import DataError, Task
from engine.data.missing import ColumnFill
from engine.data.splits import RawData
from engine.spec import DataSpec

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}
BOOLEAN_WORDS = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}
DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?Z?"
                  r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?")
MAX_CLASSES_FROM_INTEGERS = 20  # more distinct integers than this reads as a quantity (regression)
MAX_CATEGORIES = 100


def load_csv(data: DataSpec, options: dict[str, Any], path: Path) -> RawData:
    where = f"CSV {path.name}"
    header, rows, lines = _read_rows(path, options["delimiter"], where)
    target = _target_column(data.target, header, where)
    drop = _drop_columns(options["drop"], header, target, where)

    columns = {name: [r[i].strip() for r in rows] for i, name in enumerate(header)}
    used = [name for name in header if name != target and name not in drop]
    columns, lines = _handle_missing(columns, lines, used, target, options.get("missing", "error"), where)
    task, y, class_names = _encode_target(columns[target], target, options["task"], lines, where)

    parts: list[np.ndarray] = []
    feature_names: list[str] = []
    fills: list[ColumnFill] = []
    for name in used:
        values = columns[name]
        holes = [is_missing(v) for v in values]
        present = [v for v, hole in zip(values, holes) if not hole]
        start = len(feature_names)
        if is_boolean(present):
            flags = [np.nan if h else BOOLEAN_WORDS[v.lower()] for v, h in zip(values, holes)]
            parts.append(np.asarray(flags)[:, None])
            feature_names.append(name)
            rule = "median"
        else:
            numbers = _parse_numbers(values)
            n_numeric = sum(v is not None for v, h in zip(numbers, holes) if not h)
            if n_numeric == len(present):
                _check_finite(numbers, values, name, lines, where, holes)
                kept = [np.nan if h else v for v, h in zip(numbers, holes)]
                parts.append(np.asarray(kept, dtype=np.float64)[:, None])
                feature_names.append(name)
                rule = "median"
            elif n_numeric > len(present) - n_numeric:
                i = next(i for i, v in enumerate(numbers) if v is None and not holes[i])
                raise DataError(
                    f"{where}: non-numeric value {values[i]!r} in column {name!r} at row {i + 1} "
                    f"(line {lines[i]}); the rest of the column is numbers, so it cannot be encoded. "
                    f"Fix the value, or remove the column with options.drop = {name!r}"
                )
            else:
                cats = _categories(present, name, where)
                index = {c: k for k, c in enumerate(cats)}
                onehot = np.zeros((len(values), len(cats)))
                onehot[[i for i, h in enumerate(holes) if h]] = np.nan
                rows_present = [i for i, h in enumerate(holes) if not h]
                onehot[rows_present, [index[values[i]] for i in rows_present]] = 1.0
                parts.append(onehot)
                feature_names.extend(f"{name}={c}" for c in cats)
                rule = "most_frequent"
                if any(holes):
                    fills.append(ColumnFill(name, start, len(feature_names), "most_frequent", tuple(cats)))
                continue
        if any(holes):
            fills.append(ColumnFill(name, start, len(feature_names), rule))  # type: ignore[arg-type]
    if not parts:
        raise DataError(f"{where}: no feature columns left besides the target {target!r}; "
                        f"the table needs at least one input column")

    if task == "classification":
        _check_single_sample_classes(y, class_names, target, lines, where)
    return RawData(np.concatenate(parts, axis=1), y, task, "tabular", class_names, feature_names,
                   title=path.name, fills=fills)


def is_missing(value: str) -> bool:
    return value.lower() in MISSING


def is_boolean(present: list[str]) -> bool:
    """True/False or yes/no (any case) and nothing else: read as 1/0."""
    return bool(present) and all(v.lower() in BOOLEAN_WORDS for v in present)


def looks_like_dates(present: list[str]) -> bool:
    """Most values are dates or times (2024-01-31, 31/01/2024, 2024-01-31T08:00)."""
    sample = present[:200]
    return bool(sample) and sum(bool(DATE.fullmatch(v)) for v in sample) >= 0.8 * len(sample)


def _categories(present: list[str], name: str, where: str) -> list[str]:
    """The text values of a one-hot column; dates, free text and identifiers are refused."""
    if looks_like_dates(present):
        raise DataError(f"{where}: column {name!r} holds dates (such as {present[0]!r}), which cannot be used "
                        f"as they are; remove it with options.drop = {name!r} (or add numeric columns "
                        f"derived from it to the file, such as the day of the year)")
    cats = sorted(set(present))
    if len(cats) > MAX_CATEGORIES or (len(cats) > 20 and len(cats) > len(present) / 2):
        words = sum(len(v.split()) for v in present) / len(present)
        what = "free text" if words >= 3 else "an identifier or free text?"
        raise DataError(
            f"{where}: text column {name!r} has {len(cats)} different values in {len(present)} rows "
            f"({what}) and cannot be one-hot encoded; remove it with options.drop = {name!r}"
        )
    return cats


def _handle_missing(columns: dict[str, list[str]], lines: list[int], used: list[str], target: str, mode: str,
                    where: str) -> tuple[dict[str, list[str]], list[int]]:
    """Apply data.options.missing: refuse with the count per column, drop those
    rows, or (fill) keep them for the training-split fill and drop only rows
    without a target, which nothing can fill."""
    holes = {name: [i for i, v in enumerate(columns[name]) if is_missing(v)] for name in [*used, target]}
    holes = {name: rows for name, rows in holes.items() if rows}
    if not holes:
        return columns, lines
    if mode == "error":
        parts = [f"column {name!r} {len(rows)} row{'s' if len(rows) > 1 else ''} "
                 f"({'first: ' if len(rows) > 1 else ''}row {rows[0] + 1}, line {lines[rows[0]]})"
                 for name, rows in holes.items()]
        raise DataError(f"{where}: missing values in {', '.join(parts)}; set data.options.missing to "
                        f"\"drop_rows\" (drop those rows) or \"fill\" (median for numbers, most frequent value "
                        f"for text, fitted on the training split), or fill in the cells")
    gone = set(holes.get(target, []))
    if mode == "drop_rows":
        gone = {i for rows in holes.values() for i in rows}
    if not gone:
        return columns, lines
    keep = [i for i in range(len(lines)) if i not in gone]
    if not keep:
        raise DataError(f"{where}: every row has a missing value, so options.missing = {mode!r} leaves no data; "
                        f"use \"fill\" or remove the emptiest columns with options.drop")
    return {name: [v[i] for i in keep] for name, v in columns.items()}, [lines[i] for i in keep]


def decode_csv(raw: bytes) -> str:
    """A CSV file's text: UTF-8 (a BOM dropped), else Latin-1 (spreadsheet
    exports are often cp1252; every byte decodes)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def csv_delimiter(text: str, delimiter: str = "auto") -> str:
    """`delimiter`, or for "auto" the one csv.Sniffer finds in the first 8 KB (a comma when it finds none)."""
    if delimiter != "auto":
        return delimiter
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


HEADER_BYTES = 65536  # the header line of any sane CSV is in the first 64 KB


def read_header(path: Path, delimiter: str = "auto",
                max_bytes: Optional[int] = HEADER_BYTES) -> tuple[list[str], str]:
    """A CSV's column names and its delimiter, as the loader reads them, from
    the first `max_bytes` of the file (None: all of it)."""
    with open(path, "rb") as fh:
        raw = fh.read(-1 if max_bytes is None else max_bytes)
    if max_bytes is not None and len(raw) == max_bytes:
        raw = raw[:raw.rfind(b"\n") + 1] or raw  # whole lines: a character cut in two would not decode
    text = decode_csv(raw)
    delimiter = csv_delimiter(text, delimiter)
    for record in csv.reader(io.StringIO(text), delimiter=delimiter):
        if any(cell.strip() for cell in record):
            return [c.strip() or f"column {i + 1}" for i, c in enumerate(record)], delimiter
    raise DataError(f"CSV {path.name}: the file is empty; it needs a header line naming the columns")


def _read_rows(path: Path, delimiter: str, where: str) -> tuple[list[str], list[list[str]], list[int]]:
    text = decode_csv(path.read_bytes())
    if not text.strip():
        raise DataError(f"{where}: the file is empty; it needs a header line naming the columns and data rows")
    delimiter = csv_delimiter(text, delimiter)
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


def _check_finite(numbers: list[Optional[float]], values: list[str], name: str,
                  lines: list[int], where: str, holes: Optional[list[bool]] = None) -> None:
    for i, v in enumerate(numbers):
        if holes is not None and holes[i]:
            continue
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
