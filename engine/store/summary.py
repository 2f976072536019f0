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
from typing import Any, Mapping

from engine.store.batch import MetricBatch, key_stats

_HIGHER_IS_BETTER = re.compile(r"accuracy|(?:^|[/_.\-])r2(?:$|[/_.\-])")


@lru_cache(maxsize=1024)
def higher_is_better(key: str) -> bool:
    """True for accuracy and r2 keys (`val/accuracy`, `test/r2`), False for losses and the rest."""
    return _HIGHER_IS_BETTER.search(key) is not None


def apply_batch(summary: dict[str, Any], batch: MetricBatch) -> dict[str, Any]:
    """Fold a batch of points into `summary["metrics"]`, in place; returns it.

    Within a batch, ties for best go to the lowest step."""
    metrics = summary.get("metrics")
    if not isinstance(metrics, dict):
        metrics = summary["metrics"] = {}
    stats = key_stats(batch)
    for key, st in stats.items():
        m = metrics.get(key)
        if not isinstance(m, dict):
            m = metrics[key] = {"last": None, "last_step": None, "best": None,
                                "best_step": None, "best_epoch": None, "min": None, "max": None}
        if m.get("last_step") is None or st.last_step >= m["last_step"]:
            m["last_step"], m["last"] = st.last_step, st.last
        if st.min is None:
            continue  # no finite value in this batch
        if m.get("min") is None or st.min < m["min"]:
            m["min"] = st.min
        if m.get("max") is None or st.max > m["max"]:
            m["max"] = st.max
        up = higher_is_better(key)
        value, row = (st.max, st.argmax) if up else (st.min, st.argmin)
        best = m.get("best")
        if best is None or (value > best if up else value < best):
            m["best"] = value
            m["best_step"], m["best_epoch"] = int(batch.steps[row]), int(batch.epochs[row])
    return summary


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


def dumps_clean(summary: Mapping[str, Any]) -> str:
    """dumps for a summary that is loads() output changed only by apply_batch
    (finite floats or None, ints, strings): skips the per-value walk, which
    costs more than the encoding. A stray NaN (text written by another
    tool) takes the slow path, which turns it into null."""
    try:
        return json.dumps(summary, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return dumps(summary)


def loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    data = json.loads(text)
    return data if isinstance(data, dict) else {}
