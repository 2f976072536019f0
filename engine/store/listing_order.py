"""Orders a run listing can be sorted by in the database: a run column, or a
value inside the spec or summary JSON.

Why in SQL: a table of 100,000 runs shows its first screen long before every
listing is read (~2 s); sorted by a metric, that first screen has to be the
true top of all 100,000, which only the database can say without reading
them all (ORDER BY ... LIMIT, ~0.2 s on SQLite). The meaning follows the
Runs table's own sort (app/pages/runs/table_model.py), so the rows it later
sorts in Python come out in the same order:

- runs without the value come last in either direction;
- numbers only count as numbers (a string or a boolean where a number
  belongs is "no value"), text compares case-insensitively;
- ties keep newest first.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Numeric, and_, case, cast, func
from sqlalchemy.dialects.postgresql import JSONB

from engine.store.models import RunRow, table

RUNS = table(RunRow)
R = RUNS.c

# Run columns a listing sorts by, beside the JSON values.
_COLUMNS = ("id", "name", "status", "created_at", "started_at", "finished_at", "starred", "tags",
            "started", "duration")
_DOCUMENTS = ("spec", "summary")
_NEVER_NULL = ("name", "status", "created_at", "starred", "tags")


class NotInSQL(Exception):
    """This database has no SQL here for a JSON sort: sort_listings does it in Python."""


@dataclass(frozen=True)
class SortKey:
    """A listing's sort: `column` (one of the run columns above; `started` is
    started_at or else created_at, `duration` finished minus started), or the
    first of `paths` in `document` ("spec" or "summary") that holds a value
    (a path is a tuple of keys: ("metrics", "val/accuracy", "best")).
    `numeric`: only numbers count; otherwise text, compared case-insensitively."""

    column: str | None = None
    document: str | None = None
    paths: tuple[tuple[str, ...], ...] = ()
    numeric: bool = False

    def __post_init__(self) -> None:
        if self.column is not None:
            if self.column not in _COLUMNS:
                raise ValueError(f"cannot sort runs by column {self.column!r}: use one of {', '.join(_COLUMNS)}")
        elif self.document not in _DOCUMENTS or not self.paths or not all(self.paths):
            raise ValueError("a sort key needs a run column, or a document ('spec' or 'summary') and "
                             "at least one path inside it")


def order_terms(key: SortKey, descending: bool, dialect: str) -> list[Any]:
    """ORDER BY terms for `key` on the `runs` table: missing values last, then
    the value, then the id (newest first on ties)."""
    if key.column == "id":  # the primary key alone: the database walks its index
        return [R.id.desc() if descending else R.id.asc()]
    value = _value(key, dialect)
    ordered = value.desc() if descending else value.asc()
    if key.column in _NEVER_NULL:
        return [ordered, R.id.desc()]
    return [case((value.is_(None), 1), else_=0), ordered, R.id.desc()]


def _value(key: SortKey, dialect: str) -> Any:
    if key.column == "started":
        return func.coalesce(R.started_at, R.created_at)
    if key.column == "duration":  # as Run.duration_s: to now while unfinished; milliseconds, as listed
        seconds = _seconds(R.finished_at, dialect) - _seconds(R.started_at, dialect)
        if dialect == "sqlite":
            return case((R.started_at.is_(None), None), else_=func.round(func.max(0.0, seconds), 3))
        return case((R.started_at.is_(None), None), else_=func.round(cast(func.greatest(0.0, seconds), Numeric), 3))
    if key.column == "name":
        return func.lower(R.name)
    if key.column == "tags":  # the JSON list's text: '' for none, as the table's "a, b" sorts first
        return case((R.tags == "[]", ""), else_=func.lower(R.tags))
    if key.column == "starred":  # starred first when descending, as the table's star column
        return case((R.starred.is_(True), 1), else_=0)
    if key.column is not None:
        return R[key.column]
    values = [_json_value(R[key.document or "spec"], path, key.numeric, dialect) for path in key.paths]
    return values[0] if len(values) == 1 else func.coalesce(*values)


def _seconds(col: Any, dialect: str) -> Any:
    """Seconds of a naive-UTC datetime column; now where it is NULL."""
    if dialect == "sqlite":
        return func.julianday(func.coalesce(col, "now")) * 86400.0
    return func.extract("epoch", func.coalesce(col, func.timezone("UTC", func.now())))


def _json_value(doc: Any, path: tuple[str, ...], numeric: bool, dialect: str) -> Any:
    """The value at `path` in a JSON text column; None where it is absent, of
    the wrong kind, or the document is not valid JSON."""
    if dialect == "sqlite":
        where = "$" + "".join(f'."{part}"' for part in path)  # quoted: keys like "val/accuracy"
        found = func.json_extract(doc, where)
        if numeric:
            kind = func.json_type(doc, where)
            return case((and_(func.json_valid(doc) == 1, kind.in_(("integer", "real"))), found), else_=None)
        return case((and_(func.json_valid(doc) == 1, func.json_type(doc, where) == "text"), func.lower(found)),
                    else_=None)
    if dialect == "postgresql":
        # pg_input_is_valid (PostgreSQL 16+) is not everywhere: a malformed
        # document must not fail the listing, so test the text's shape first.
        node = cast(case((func.left(func.ltrim(doc), 1) == "{", doc), else_=None), JSONB)[list(path)]
        if numeric:
            return case((func.jsonb_typeof(node) == "number", cast(node.astext, Float)), else_=None)
        return case((func.jsonb_typeof(node) == "string", func.lower(node.astext)), else_=None)
    raise NotInSQL(f"no JSON sort for {dialect}")


def sort_listings(listings: list[Any], key: SortKey, descending: bool) -> list[Any]:
    """The same order in Python, over RunListings (or Runs) already read: for
    a database whose SQL could not compute it (a malformed document on
    PostgreSQL fails the whole statement)."""
    def value(run: Any) -> Any:
        if key.column == "started":
            v = run.started_at or run.created_at
        elif key.column == "duration":
            v = run.duration_s
        elif key.column == "tags":
            v = json.dumps(run.tags).lower() if run.tags else ""
        elif key.column == "starred":
            v = int(bool(run.starred))
        elif key.column is not None:
            v = getattr(run, key.column)
            v = v.lower() if isinstance(v, str) else v
        else:
            v = next((found for found in (_walk(getattr(run, key.document or "spec"), p, key.numeric)
                                          for p in key.paths) if found is not None), None)
        return v

    by_id = sorted(listings, key=lambda r: r.id, reverse=True)  # ties: newest first
    keyed = [(value(r), r) for r in by_id]
    present = [kr for kr in keyed if kr[0] is not None]
    present.sort(key=lambda kr: kr[0], reverse=descending)
    return [r for _, r in present] + [r for v, r in keyed if v is None]


def _walk(doc: Any, path: tuple[str, ...], numeric: bool) -> Any:
    node = doc
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if numeric:
        ok = isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node)
        return node if ok else None
    return node.lower() if isinstance(node, str) else None
