"""Sensible sweep domains for a field and the text a person edits them as.

"Sweep this" on a field proposes a domain from the field's current value and
limits, in the sweep document's words (engine.sweeps.document):

- learning rates, weight decay, eps: {"log_uniform": [value / 10, value * 10]}
  (they span decades; weight decay 0 becomes 1e-5 .. 0.1);
- other floats: {"uniform": [...]} around the value, inside its limits
  (dropout 0.2 -> 0.1 .. 0.4, label smoothing 0 -> 0 .. 0.2);
- sizes (features, channels, hidden size, heads, batch size): {"int": [value / 2, value * 2]};
- other ints: a small int range around the value;
- choices and flags: {"values": [every choice]}.

Plain Python (no Qt): the dialog and the tests use the same rules.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Optional, Sequence

KINDS = ("values", "uniform", "log_uniform", "int")
LOG_NAMES = ("lr", "learning_rate", "max_lr", "weight_decay", "eps", "eta_min", "l1")
SIZE_NAMES = ("features", "channels", "hidden", "size", "heads", "embed", "dim", "batch")
GRID_POINTS = 3  # values a range becomes when the method is grid


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _clip(v: float, lo: Optional[float], hi: Optional[float]) -> float:
    if lo is not None:
        v = max(v, lo)
    if hi is not None:
        v = min(v, hi)
    return v


def _nice(v: float) -> float:
    """Three significant digits: 0.000999999 reads 0.001."""
    return float(f"{v:.3g}")


def suggest_domain(path: str, value: Any, *, kind: str, lo: Optional[float] = None, hi: Optional[float] = None,
                   choices: Sequence[Any] = ()) -> dict[str, list[Any]]:
    """A domain for sweeping the field at `path` (kind: int | float | choice | bool)."""
    leaf = _leaf(path)
    if kind == "bool":
        return {"values": [True, False]}
    if kind == "choice" or choices:
        return {"values": list(choices) or [value]}
    if kind == "int":
        v = int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else int(lo or 1)
        if any(s in leaf for s in SIZE_NAMES):
            low, high = max(1, v // 2), max(2, v * 2)
        else:
            low, high = v - max(1, abs(v) // 2), v + max(1, abs(v) // 2)
        low, high = int(_clip(low, lo, hi)), int(_clip(high, lo, hi))
        return {"int": [low, max(high, low + 1)]}
    v = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
    if leaf in LOG_NAMES or leaf.endswith("_lr"):
        if v <= 0:
            low, high = 1e-5, 1e-1
        else:
            low, high = v / 10, v * 10
        low = _clip(low, lo if lo and lo > 0 else None, hi)
        high = _clip(high, None, hi)
        return {"log_uniform": [_nice(low), _nice(high)]}
    if v == 0:
        top = hi if hi is not None and hi <= 1 else 1.0
        return {"uniform": [0.0, _nice(min(0.2, top) if top else 0.2)]}
    low, high = _clip(v / 2, lo, hi), _clip(v * 2, lo, hi)
    return {"uniform": [_nice(low), _nice(high)]}


# --- the text of a domain ---------------------------------------------------------------------

def domain_text(domain: dict[str, list[Any]]) -> str:
    """{"values": [32, 64]} -> "32, 64"; {"uniform": [0, 0.2]} -> "0 .. 0.2"."""
    kind, arg = next(iter(domain.items()))
    if kind == "values":
        return ", ".join(_word(v) for v in arg)
    return f"{_num(arg[0])} .. {_num(arg[1])}"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _word(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _num(v)
    return str(v)


def _value(text: str) -> Any:
    """"64" -> 64, "1e-3" -> 0.001, "true" -> True, "null" -> None, "Adam" -> "Adam"."""
    t = text.strip()
    try:
        v = json.loads(t)
        if isinstance(v, (int, float, bool)) or v is None:
            return v
    except json.JSONDecodeError:
        pass
    try:
        return float(t)
    except ValueError:
        return t.strip("'\"")


def parse_domain(path: str, kind: str, text: str) -> tuple[Optional[dict[str, list[Any]]], Optional[str]]:
    """(domain, None) or (None, the problem in words, naming `path` and the fix)."""
    text = text.strip()
    if kind == "values":
        parts = [p for p in (x.strip() for x in text.split(",")) if p]
        if not parts:
            return None, f"{path}: list at least one value, separated by commas (e.g. 32, 64, 128)"
        values = [_value(p) for p in parts]
        if len({json.dumps(v) for v in values}) < len(values):
            return None, f"{path}: a value is listed twice"
        return {"values": values}, None
    ends = [p for p in re.split(r"\s*(?:\.\.|–|—|,|\bto\b)\s*", text) if p]
    example = {"int": "16 .. 256", "log_uniform": "0.0001 .. 0.1"}.get(kind, "0 .. 0.5")
    if len(ends) != 2:
        return None, f"{path}: write the range as low .. high (e.g. {example})"
    try:
        low, high = float(ends[0]), float(ends[1])
    except ValueError:
        return None, f"{path}: the range's ends must be numbers (e.g. {example})"
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, f"{path}: the range's ends must be finite numbers"
    if low >= high:
        return None, f"{path}: low ({_num(low)}) must be below high ({_num(high)})"
    if kind == "log_uniform" and low <= 0:
        return None, f"{path}: a log scale needs a low above 0 (e.g. {example})"
    if kind == "int":
        if low != int(low) or high != int(high):
            return None, f"{path}: an int range takes whole numbers (e.g. {example})"
        return {"int": [int(low), int(high)]}, None
    return {kind: [low, high]}, None


def grid_values(domain: dict[str, list[Any]], points: int = GRID_POINTS) -> dict[str, list[Any]]:
    """A range as `points` values for a grid (log-spaced on a log scale); values stay."""
    kind, arg = next(iter(domain.items()))
    if kind == "values":
        return domain
    low, high = float(arg[0]), float(arg[1])
    if kind == "log_uniform":
        vals = [_nice(10 ** (math.log10(low) + i * (math.log10(high) - math.log10(low)) / (points - 1)))
                for i in range(points)]
    elif kind == "int" and low > 0 and high / low >= 4:  # sizes span factors: 32, 64, 128
        vals = sorted({int(round(low * (high / low) ** (i / (points - 1)))) for i in range(points)})
    elif kind == "int":
        vals = sorted({int(round(low + i * (high - low) / (points - 1))) for i in range(points)})
    else:
        vals = [_nice(low + i * (high - low) / (points - 1)) for i in range(points)]
    return {"values": vals}
