"""Filter expressions over runs: `val/accuracy > 0.9 and optimizer.type == "AdamW"`.

A tiny tokenizer and a recursive-descent parser turn the text into a tree of
closures; nothing is ever passed to `eval`, so a filter typed into the Runs
page (or read from saved settings) can only compare values.

Grammar (keywords are case-insensitive):

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" expr ")" | operand [op operand]
    op         := == | != | < | <= | > | >= | contains
    operand    := field | number | "string" | 'string' | true | false | null

Fields:
- metrics: any key with a slash (`val/accuracy`, `test/loss`) or one of the
  slash-less keys (`throughput`, `epoch_time`, `lr.last`); the value is the run
  summary's best, or `.last`, `.best`, `.min`, `.max`, `.best_step`,
  `.last_step` (`val/loss.last`).
- run columns: id, name, status, tags, starred, device, notes, error,
  params, duration (seconds), dataset (= data.name), parent_id.
- short names: lr (= optimizer.lr), optimizer (= optimizer.type),
  batch_size, epochs, seed.
- spec paths: `optimizer.type`, `training.batch_size`,
  `model.blocks[1].out_channels`, `regularization.early_stopping.patience`.

A field a run does not have (an Adam run's `optimizer.momentum`, a metric it
never logged) is null: ordering comparisons with null are false, `== null`
is true. Strings compare case-insensitively, so `optimizer.type == "adamw"`
finds AdamW runs; `tags contains "demo"` tests list membership and
`name contains "cnn"` a substring.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

if TYPE_CHECKING:
    from engine.store import Run
    from engine.store.listing import RunListing

# What a filter reads: a store Run, a light RunListing, or a dict with the same keys.
RunLike = Union["Run", "RunListing", dict[str, Any]]
R = TypeVar("R", bound=RunLike)
Pred = Callable[[RunLike], bool]
Getter = Callable[[RunLike], Any]

__all__ = ["QueryError", "Query", "parse_query", "looks_like_query", "field_value", "FIELDS_HELP"]

FIELDS_HELP = (
    "Fields: metrics such as val/accuracy (best value; add .last/.min/.max), "
    "name, status, tags, starred, dataset, params, duration, lr, optimizer, batch_size, epochs, "
    "and spec paths such as optimizer.momentum, training.batch_size, model.blocks[0].out_channels. "
    "Operators: == != < <= > >= contains, and/or/not, parentheses."
)

# Run attributes a filter may name directly (the store's Run entity fields,
# plus a few derived ones).
RUN_FIELDS = ("id", "name", "status", "tags", "starred", "device", "notes", "error",
              "params", "duration", "dataset", "parent_id", "pid")
SPEC_SECTIONS = ("seed", "data", "model", "optimizer", "scheduler", "regularization", "training")
# Logged metric keys without a slash (docs/ARCHITECTURE.md, "The store") are metrics too.
PLAIN_METRICS = ("lr", "throughput", "epoch_time")
METRIC_STATS = ("best", "last", "min", "max", "best_step", "last_step")
# Short names for the settings people filter by most. A bare `lr` means the
# optimizer's setting; the logged lr curve is still `lr.last`, `lr.min`, ...
ALIASES = {"lr": "optimizer.lr", "optimizer": "optimizer.type", "batch_size": "training.batch_size",
           "epochs": "training.epochs", "seed": "seed"}


class QueryError(ValueError):
    """A filter that cannot be parsed; `column` is 1-based."""

    def __init__(self, message: str, column: int, hint: str = ""):
        self.message = message
        self.column = column
        self.hint = hint
        super().__init__(f"{message} at column {column}" + (f"; {hint}" if hint else ""))


# --- tokens ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Tok:
    kind: str  # field, number, string, op, kw, lparen, rparen, end
    text: str
    value: Any
    col: int  # 1-based


_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_/]*(?:\.[A-Za-z_][A-Za-z0-9_/]*|\[\d+\])*")
_NUMBER_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPS = ("==", "!=", "<=", ">=", "<", ">", "=")
_KEYWORDS = {"and", "or", "not", "contains", "true", "false", "null", "none"}


def _negative_allowed(toks: list[_Tok]) -> bool:
    """A '-' starts a negative number only where a value may begin (`lr > -1`)."""
    return not toks or toks[-1].kind in ("op", "lparen") or toks[-1].kind == "kw" and toks[-1].value in (
        "and", "or", "not", "contains")


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok("lparen" if c == "(" else "rparen", c, None, col))
            i += 1
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise QueryError("unclosed string", col, f"add a closing {c}")
            toks.append(_Tok("string", text[i:j + 1], "".join(buf), col))
            i = j + 1
        elif _NUMBER_RE.match(text, i + (c == "-")) and (c != "-" or _negative_allowed(toks)):
            m = _NUMBER_RE.match(text, i + (c == "-"))
            assert m is not None
            raw = text[i:m.end()]
            toks.append(_Tok("number", raw, float(raw) if any(ch in raw for ch in ".eE") else int(raw), col))
            i = m.end()
        elif _FIELD_RE.match(text, i):  # ASCII names only: 'é' is an unexpected character
            m = _FIELD_RE.match(text, i)
            assert m is not None
            word = m.group(0)
            low = word.lower()
            if low in _KEYWORDS:
                toks.append(_Tok("kw", word, low, col))
            else:
                toks.append(_Tok("field", word, word, col))
            i = m.end()
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                if c == "&" or c == "|":
                    hint = "and" if c == "&" else "or"
                    raise QueryError(f"unexpected '{c}'", col, f"write '{hint}'")
                if c == "!":
                    raise QueryError("unexpected '!'", col, "write 'not' or '!='")
                raise QueryError(f"unexpected character '{c}'", col)
            toks.append(_Tok("op", op, "==" if op == "=" else op, col))
            i += len(op)
    toks.append(_Tok("end", "", None, n + 1))
    return toks


# --- field resolution ------------------------------------------------------------

_PATH_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _spec_path_parts(path: str) -> list[str | int]:
    return [int(idx) if idx else name for name, idx in _PATH_PART_RE.findall(path)]


def _get(run: RunLike, attr: str) -> Any:
    if isinstance(run, dict):
        return run.get(attr)
    return getattr(run, attr, None)


# Spec paths a run listing (engine.store.listing) has already read out of the
# JSON in SQL: a filter over them reads the listing's attribute and never
# decodes a spec (100,000 json.loads would take seconds).
_LISTED: dict[tuple[str | int, ...], str] = {
    ("data", "name"): "dataset", ("optimizer", "type"): "optimizer", ("optimizer", "lr"): "lr",
    ("training", "batch_size"): "batch_size", ("training", "epochs"): "epochs"}
_ABSENT = object()


def _metric_getter(key: str, stat: str) -> Getter:
    def get(run: RunLike) -> Any:
        listed = getattr(run, "metric", None)  # a RunListing: the values it prefetched in SQL
        if listed is not None and not isinstance(run, dict):
            return listed(key, stat)
        summary = _get(run, "summary") or {}
        entry = (summary.get("metrics") or {}).get(key)
        return entry.get(stat) if isinstance(entry, dict) else None
    return get


def _spec_getter(parts: list[str | int]) -> Getter:
    listed = _LISTED.get(tuple(parts)) if len(parts) == 2 else None

    def get(run: RunLike) -> Any:
        if listed is not None and not isinstance(run, dict):
            value = getattr(run, listed, _ABSENT)  # a RunListing's digest; a Run has no such attribute
            if value is not _ABSENT:
                return value
        node: Any = _get(run, "spec")
        for p in parts:
            if isinstance(p, int):
                if not isinstance(node, list) or p >= len(node):
                    return None
                node = node[p]
            else:
                if not isinstance(node, dict):
                    return None
                node = node.get(p)
        return node
    return get


def _run_getter(name: str) -> Getter:
    if name == "params":
        return lambda run: (_get(run, "summary") or {}).get("params")
    if name == "duration":
        return lambda run: _get(run, "duration_s")
    if name == "dataset":
        return _spec_getter(["data", "name"])
    return lambda run: _get(run, name)


def _known_spec_fields() -> dict[str, set[str]]:
    """Second-level names under each spec section, for 'did you mean' hints."""
    from engine import spec as s

    def names(*models: Any) -> set[str]:
        return {f for m in models for f in m.model_fields}

    return {
        "data": names(s.DataSpec),
        "model": {"blocks"},
        "optimizer": names(*s.OPTIMIZERS.values()),
        "scheduler": names(*s.SCHEDULERS.values()),
        "regularization": names(s.RegularizationSpec),
        "training": names(s.TrainingSpec),
    }


_SPEC_FIELDS: dict[str, set[str]] | None = None


def _resolve(word: str, col: int) -> Getter:
    """Turn a field token into a getter, or explain what is wrong with it."""
    global _SPEC_FIELDS
    if word in ALIASES:
        return _spec_getter(_spec_path_parts(ALIASES[word]))
    if "/" in word or word.split(".")[0] in PLAIN_METRICS:
        key, stat = word, "best"
        head, _, tail = word.rpartition(".")
        if head and tail in METRIC_STATS:
            key, stat = head, tail
        elif head and "/" in tail:
            pass  # a dotted metric key is unusual but legal: keep it whole
        elif head:
            raise QueryError(f"unknown metric statistic '.{tail}'", col + len(head),
                             "use one of " + ", ".join("." + s for s in METRIC_STATS))
        return _metric_getter(key, stat)
    parts = _spec_path_parts(word)
    root = parts[0]
    if len(parts) == 1 and root in RUN_FIELDS:
        return _run_getter(str(root))
    if root in SPEC_SECTIONS:
        if len(parts) > 1 and isinstance(parts[1], str):
            if _SPEC_FIELDS is None:
                _SPEC_FIELDS = _known_spec_fields()
            known = _SPEC_FIELDS.get(str(root))
            if known is not None and parts[1] not in known:
                hint = difflib.get_close_matches(str(parts[1]), sorted(known), n=1)
                extra = f"did you mean {root}.{hint[0]}?" if hint else ""
                raise QueryError(f"unknown field '{word}'", col, extra)
        return _spec_getter(parts)
    choices = list(RUN_FIELDS) + list(SPEC_SECTIONS) + list(PLAIN_METRICS)
    hint = difflib.get_close_matches(str(root), choices, n=1)
    extra = (f"did you mean '{hint[0]}'?" if hint
             else "a metric needs its prefix (val/accuracy), a spec field its section (optimizer.lr)")
    raise QueryError(f"unknown field '{word}'", col, extra)


# --- comparison semantics ----------------------------------------------------------

def _as_number(v: Any) -> Optional[float]:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        return na == nb or (math.isnan(na) and math.isnan(nb))
    if isinstance(a, list):
        return any(_equal(x, b) for x in a) if not isinstance(b, list) else a == b
    return a == b


def _order(a: Any, b: Any, op: str) -> bool:
    x: Any
    y: Any
    if isinstance(a, str) and isinstance(b, str) and (_as_number(a) is None or _as_number(b) is None):
        x, y = a.casefold(), b.casefold()
    else:
        x, y = _as_number(a), _as_number(b)
        if x is None or y is None:  # null or a word against a number: no order
            return False
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def _contains(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, str):
        return str(b).casefold() in a.casefold()
    if isinstance(a, (list, tuple)):
        for item in a:
            # model.blocks contains "Conv2d": a block matches by its type.
            if isinstance(item, dict) and _equal(item.get("type"), b):
                return True
            if not isinstance(item, dict) and _equal(item, b):
                return True
        return False
    if isinstance(a, dict):
        return str(b) in a
    return False


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op == "contains":
        return _contains(a, b)
    return _order(a, b, op)


# --- parser ------------------------------------------------------------------------

# Parentheses and `not`s, counted together: far past any filter a person
# writes, and well inside Python's stack (each level costs up to 4 frames).
MAX_DEPTH = 64


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _advance(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def _is_kw(self, word: str) -> bool:
        return self.tok.kind == "kw" and self.tok.value == word

    def _describe(self, t: _Tok) -> str:
        return "the end" if t.kind == "end" else f"'{t.text}'"

    def parse(self) -> Pred:
        if self.tok.kind == "end":
            return lambda run: True
        pred = self._or()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "rparen":
                raise QueryError("unmatched ')'", t.col)
            raise QueryError(f"expected 'and' or 'or' before {self._describe(t)}", t.col)
        return pred

    def _deeper(self, t: _Tok) -> None:
        """One more level of nesting at `t`; refused past MAX_DEPTH before the stack runs out."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"expression nested too deeply (more than {MAX_DEPTH} levels)", t.col)

    def _or(self) -> Pred:
        # A flat any() rather than nested closures: a long chain of `or`s
        # must not recurse once per term when it is evaluated.
        terms = [self._and()]
        while self._is_kw("or"):
            kw = self._advance()
            terms.append(self._operand_after(kw, self._and))
        return terms[0] if len(terms) == 1 else (lambda run: any(p(run) for p in terms))

    def _and(self) -> Pred:
        terms = [self._not()]
        while self._is_kw("and"):
            kw = self._advance()
            terms.append(self._operand_after(kw, self._not))
        return terms[0] if len(terms) == 1 else (lambda run: all(p(run) for p in terms))

    def _not(self) -> Pred:
        if self._is_kw("not"):
            kw = self._advance()
            self._deeper(kw)
            inner = self._operand_after(kw, self._not)
            self.depth -= 1
            return lambda run: not inner(run)
        return self._primary()

    def _operand_after(self, kw: _Tok, parse: Callable[[], Pred]) -> Pred:
        if self.tok.kind in ("end", "rparen") or self.tok.kind == "kw" and self.tok.value in ("and", "or"):
            raise QueryError(f"expected a condition after '{kw.text}'", self.tok.col)
        return parse()

    def _primary(self) -> Pred:
        t = self.tok
        if t.kind == "lparen":
            self._advance()
            self._deeper(t)
            if self.tok.kind == "rparen":
                raise QueryError("expected a condition inside '( )'", self.tok.col)
            inner = self._or()
            if self.tok.kind != "rparen":
                raise QueryError(f"expected ')' to close the '(' at column {t.col}", self.tok.col)
            self._advance()
            self.depth -= 1
            return inner
        left, left_is_field = self._value(None)
        if self.tok.kind == "op" or self._is_kw("contains"):
            op_tok = self._advance()
            op = op_tok.value
            right, _ = self._value(op_tok)
            return lambda run: _compare(op, left(run), right(run))
        if not left_is_field:
            raise QueryError(f"expected a comparison (==, >, contains, ...) after '{t.text}'", self.tok.col)
        if self.tok.kind in ("field", "number", "string"):
            raise QueryError(f"expected an operator between '{t.text}' and '{self.tok.text}'", self.tok.col)
        # A bare field is a truth test: `starred`, `not error`.
        return lambda run: bool(left(run))

    def _value(self, after: Optional[_Tok]) -> tuple[Getter, bool]:
        t = self.tok
        if t.kind == "field":
            self._advance()
            return _resolve(t.value, t.col), True
        if t.kind in ("number", "string"):
            self._advance()
            v = t.value
            return (lambda run: v), False
        if t.kind == "kw" and t.value in ("true", "false", "null", "none"):
            self._advance()
            v = {"true": True, "false": False}.get(t.value)
            return (lambda run: v), False
        if after is not None:
            raise QueryError(f"expected a value after '{after.text}'", t.col)
        if t.kind == "end":
            raise QueryError("expected a condition", t.col)
        raise QueryError(f"expected a field or value, not {self._describe(t)}", t.col)


@dataclass(frozen=True)
class Query:
    """A parsed filter: call `matches(run)` or `filter(runs)`."""

    text: str
    _pred: Pred

    def matches(self, run: RunLike) -> bool:
        """True when `run` (a store Run, or a dict with the same keys) passes."""
        return bool(self._pred(run))

    def filter(self, runs: list[R]) -> list[R]:
        return [r for r in runs if self._pred(r)]


def parse_query(text: str) -> Query:
    """Parse a filter expression; raise QueryError naming the column at fault."""
    return Query(text, _Parser(text).parse())


_QUERY_HINT_RE = re.compile(r"==|!=|<|>|=|\bcontains\b|[()]", re.IGNORECASE)


def looks_like_query(text: str) -> bool:
    """True when a filter box's text is an expression rather than free text
    (it has a comparison or parentheses): `digits cnn` searches, `lr > 0.01` filters."""
    return bool(_QUERY_HINT_RE.search(text))


def field_value(run: RunLike, field: str) -> Any:
    """The value a filter would see for `field` on `run` (used for columns and hints)."""
    return _resolve(field, 1)(run)
