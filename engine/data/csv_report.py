"""What a CSV holds, column by column, before a run uses it: missing cells,
booleans, dates, identifier-like columns and leaks (a feature that gives the
target away). `layerdeck check` prints the warnings; the Data page shows the
table and the warnings beside the options that fix them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from engine.data.csv_file import _parse_numbers, _read_rows, is_boolean, is_missing, looks_like_dates
from engine.data.dataset import DataError
from engine.spec import DataSpec

ID_NAMES = {"id", "index", "key", "row", "uuid"}


@dataclass(frozen=True)
class ColumnReport:
    name: str
    kind: str  # number | boolean | text | dates | empty
    missing: int
    distinct: int
    role: str = "feature"  # feature | target | dropped
    flag: str = ""  # "identifier" | "leak" | ""


@dataclass(frozen=True)
class CsvReport:
    rows: int
    columns: tuple[ColumnReport, ...]
    warnings: tuple[str, ...]

    @property
    def missing(self) -> dict[str, int]:
        """Column -> missing cells, for the columns that have any."""
        return {c.name: c.missing for c in self.columns if c.missing}


def inspect_csv(data: DataSpec) -> CsvReport:
    """Raises DataError when the file cannot be read as a table."""
    path = Path(data.path or "")
    options = data.options
    where = f"CSV {path.name}"
    try:
        header, rows, _ = _read_rows(path, str(options.get("delimiter", "auto")), where)
    except OSError as e:
        raise DataError(f"{where}: cannot read {path} ({e.strerror or e})") from None
    drop = {d.strip() for d in str(options.get("drop", "")).split(",") if d.strip()}
    columns = {name: [r[i].strip() for r in rows] for i, name in enumerate(header)}
    target = data.target if data.target in columns else None
    reports, warnings = [], []
    for name in header:
        values = columns[name]
        role = "target" if name == target else "dropped" if name in drop else "feature"
        present = [v for v in values if not is_missing(v)]
        kind = _kind(present)
        flag = ""
        if role == "feature" and _identifier_like(name, present, kind):
            flag = "identifier"
            warnings.append(f"column {name!r} looks like an identifier (a different value in every row): it says "
                            f"nothing about new rows; remove it with options.drop = {name!r}")
        elif role == "feature" and target is not None and _leaks(values, columns[target], kind):
            flag = "leak"
            warnings.append(f"column {name!r} determines the target {target!r} exactly (a leak, such as a copy "
                            f"of the label?): a model would learn it instead of the task and fail on data without "
                            f"it; remove it with options.drop = {name!r}")
        reports.append(ColumnReport(name, kind, len(values) - len(present), len(set(present)), role, flag))
    missing = {r.name: r.missing for r in reports if r.missing and r.role != "dropped"}
    if missing and options.get("missing", "error") == "error":
        listed = ", ".join(f"{n!r} {k}" for n, k in missing.items())
        warnings.append(f"missing cells in {listed}: set options.missing to drop_rows or fill, or the run "
                        f"refuses the file")
    return CsvReport(len(rows), tuple(reports), tuple(warnings))


def _kind(present: list[str]) -> str:
    if not present:
        return "empty"
    if is_boolean(present):
        return "boolean"
    numbers = _parse_numbers(present)
    if sum(v is not None for v in numbers) > len(present) / 2:
        return "number"
    return "dates" if looks_like_dates(present) else "text"


def _identifier_like(name: str, present: list[str], kind: str) -> bool:
    """Every row its own value, and either text or whole numbers that count up or are named like an id."""
    if len(present) < 10 or len(set(present)) < len(present) or kind not in ("number", "text"):
        return False
    if kind == "text":
        return len(" ".join(present).split()) <= len(present)  # single words, not free text
    numbers = _parse_numbers(present)
    if any(v is None or not float(v).is_integer() for v in numbers):
        return False
    steps = np.diff(np.asarray(numbers, dtype=float))
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    named = lowered in ID_NAMES or lowered.endswith("_id") or lowered.endswith("id") and len(lowered) <= 4
    return bool(named or (steps > 0).all())


def _leaks(values: list[str], target: list[str], kind: str) -> bool:
    """Each value of the column goes with a single target value, over rows that
    repeat values (so an identifier is not a leak), or a number column follows
    a numeric target exactly."""
    pairs = [(v, t) for v, t in zip(values, target) if not is_missing(v) and not is_missing(t)]
    if len(pairs) < 10:
        return False
    seen: dict[str, set[str]] = {}
    for v, t in pairs:
        seen.setdefault(v, set()).add(t)
    if len(seen) <= len(pairs) / 2 and all(len(ts) == 1 for ts in seen.values()) and len(set(target)) > 1:
        return True
    if kind != "number":
        return False
    xs, ys = _parse_numbers([v for v, _ in pairs]), _parse_numbers([t for _, t in pairs])
    if any(v is None for v in xs) or any(v is None for v in ys):
        return False
    corr = _correlation(np.asarray(xs, float), np.asarray(ys, float))
    return corr is not None and abs(corr) > 0.9999


def _correlation(x: np.ndarray, y: np.ndarray) -> Optional[float]:
    if x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def data_warnings(data: DataSpec) -> list[str]:
    """Warnings about a spec's data that do not stop a run (CSV files only)."""
    if data.name != "csv" or not data.path:
        return []
    try:
        return list(inspect_csv(data).warnings)
    except DataError:
        return []  # loading the dataset reports the problem itself
