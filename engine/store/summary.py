"""`runs.summary`: what the run list shows, kept current with every metric
batch so that listing and sorting thousands of runs never reads `metrics`.

Format (JSON object):

    {
      "params": 5210,                 # set by the trainer (update_summary)
      "total_epochs": 20,             # idem; any other merged key is kept as is
      "metrics": {
        "val/loss": {"last": 0.21, "last_step": 900,
                     "best": 0.19, "best_step": 720, "best_epoch": 8,
                     "min": 0.19, "max": 2.30},
        ...
      }
    }

- "last" is the value at the highest step seen (null when that value was NaN
  or infinite: JSON has no NaN).
- "best" is the max for keys that measure accuracy or r2 (`higher_is_better`),
  the min otherwise. NaN and infinite values never become best, min or max;
  those stay null until a finite value arrives.
- Rewriting a step (the metrics upsert) updates "last" but cannot take back
  an extreme the old value set; rewrites only happen when a resumed run
  repeats steps, where the old value was real too.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any, Iterable, Mapping

_HIGHER_IS_BETTER = re.compile(r"accuracy|(?:^|[/_.\-])r2(?:$|[/_.\-])")


@lru_cache(maxsize=1024)
def higher_is_better(key: str) -> bool:
    """True for accuracy and r2 keys (`val/accuracy`, `test/r2`), False for losses and the rest."""
    return _HIGHER_IS_BETTER.search(key) is not None


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value - value == 0.0 else None  # False for NaN and ±inf; cheaper than isfinite


def apply_points(summary: dict[str, Any], points: Iterable[tuple[str, int, int, float | None]]
                 ) -> dict[str, Any]:
    """Fold (key, step, epoch, value) points into `summary["metrics"]`, in place; returns it."""
    metrics = summary.get("metrics")
    if not isinstance(metrics, dict):
        metrics = summary["metrics"] = {}
    by_key: dict[str, list[tuple[int, int, float | None]]] = {}
    for key, step, epoch, value in points:  # group first: builtins then do the per-key work
        by_key.setdefault(key, []).append((step, epoch, _finite(value)))
    for key, pts in by_key.items():
        m = metrics.get(key)
        if not isinstance(m, dict):
            m = metrics[key] = {"last": None, "last_step": None, "best": None,
                                "best_step": None, "best_epoch": None, "min": None, "max": None}
        last = max(pts, key=_step_of)
        if m.get("last_step") is None or last[0] >= m["last_step"]:
            m["last_step"], m["last"] = last[0], last[2]
        finite = [p for p in pts if p[2] is not None]
        if not finite:
            continue
        lo = min(finite, key=_value_of)
        hi = max(finite, key=_value_of)
        if m.get("min") is None or lo[2] < m["min"]:
            m["min"] = lo[2]
        if m.get("max") is None or hi[2] > m["max"]:
            m["max"] = hi[2]
        up = higher_is_better(key)
        cand = hi if up else lo
        best = m.get("best")
        if best is None or (cand[2] > best if up else cand[2] < best):
            m["best"], m["best_step"], m["best_epoch"] = cand[2], cand[0], cand[1]
    return summary


def _step_of(p: tuple) -> int:
    return p[0]


def _value_of(p: tuple) -> float:
    return p[2]


def deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `patch` into `base` in place: nested dicts merge, everything else replaces."""
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = _jsonable(v)
    return base


def _jsonable(v: Any) -> Any:
    """Non-finite floats become None so the column stays strict JSON."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy / torch scalars
        return _jsonable(v.item())
    return v


def dumps(summary: Mapping[str, Any]) -> str:
    return json.dumps(_jsonable(summary), allow_nan=False, separators=(",", ":"))


def loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    data = json.loads(text)
    return data if isinstance(data, dict) else {}
