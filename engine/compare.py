"""What differs between runs: config diff, architecture diff, smoothing and
the best/final summary table behind the Compare view.

Plain functions over spec dicts and summary dicts (as the store keeps them),
so they are tested without Qt and reused by `layerdeck runs` one day.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Optional, Sequence

import numpy as np

__all__ = [
    "MISSING", "DiffRow", "BlockChange", "SummaryRow",
    "flatten_spec", "config_diff", "architecture_diff", "ema_smooth",
    "metric_direction", "summary_table", "format_value", "key_order",
]


class _Missing:
    """A path one run's spec does not have (an Adam run's `optimizer.momentum`)."""

    _instance: Optional["_Missing"] = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


# --- config diff ---------------------------------------------------------------------

@dataclass(frozen=True)
class DiffRow:
    """One spec path whose value is not the same in every run (values in run order)."""

    path: str
    values: tuple[Any, ...]

    def changed(self, index: int, reference: int = 0) -> bool:
        """True where run `index` differs from the reference run (for highlighting)."""
        return not _same(self.values[index], self.values[reference])


def flatten_spec(spec: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by path: {'optimizer.lr': 0.001, 'model.blocks[1].out_channels': 32, ...}.

    An empty dict or list is a leaf of its own so `options: {}` vs
    `options: {"noise": 0.1}` still shows up.
    """
    out: dict[str, Any] = {}
    if isinstance(spec, dict) and spec:
        for k, v in spec.items():
            out.update(flatten_spec(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(spec, list) and spec and not all(isinstance(x, (int, float, str, bool)) for x in spec):
        for i, v in enumerate(spec):
            out.update(flatten_spec(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = spec
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    # 1 and 1.0 (a JSON round-trip may change one) are the same setting; True and 1 are not.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _block_shape(blocks: Any) -> Any:
    """Block types, nested for containers: equal shapes mean paths line up block by block."""
    if not isinstance(blocks, list):
        return None
    return tuple((b.get("type"), _block_shape(b.get("blocks"))) if isinstance(b, dict) else None for b in blocks)


def _arch_label(blocks: Any) -> str:
    if not isinstance(blocks, list):
        return "—"
    return f"{len(blocks)} blocks: " + " → ".join(str(b.get("type", "?")) for b in blocks if isinstance(b, dict))


def config_diff(specs: Sequence[dict[str, Any]], *, ignore: Iterable[str] = ("name",)) -> list[DiffRow]:
    """Only the spec paths whose values differ between runs, in spec order.

    Block parameters are listed path by path (`model.blocks[1].out_channels`)
    when the runs' architectures have the same block types in the same
    order; otherwise per-index paths would pair unrelated blocks, so one
    `model.blocks` row names each architecture and `architecture_diff` says
    block by block what changed.
    """
    ignored = set(ignore)
    shapes = {_block_shape((s.get("model") or {}).get("blocks")) for s in specs}
    aligned = len(shapes) <= 1
    flats: list[dict[str, Any]] = []
    for s in specs:
        spec = dict(s)
        if not aligned:
            model = spec.get("model") or {}
            spec["model"] = {**model, "blocks": _arch_label(model.get("blocks"))}
        flats.append(flatten_spec(spec))
    order: dict[str, None] = {}
    for flat in flats:
        order.update(dict.fromkeys(flat))
    rows: list[DiffRow] = []
    for path in order:
        if path in ignored or path.split(".")[0] in ignored:
            continue
        values = tuple(flat.get(path, MISSING) for flat in flats)
        if any(not _same(v, values[0]) for v in values[1:]):
            rows.append(DiffRow(path, values))
    return rows


# --- architecture diff ----------------------------------------------------------------

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class BlockChange:
    """One block that differs from the reference run's architecture.

    `ref_index` / `index` are the block's position in the reference / this
    run (None for an added / removed block); `path` names nesting
    (`blocks[3].blocks[0]`); `params` maps a changed parameter to
    (reference value, this run's value), MISSING when a side lacks it.
    """

    kind: ChangeKind
    type: str
    path: str
    ref_index: Optional[int]
    index: Optional[int]
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def describe(self) -> str:
        """'block 2 Conv2d: out_channels 16 → 32' — the words the Compare view shows."""
        # The builder's numbering: "block 2.1.3" is the 3rd block of branch 1 of block 2.
        where = "block " + ".".join(str(int(i) + 1) for i in re.findall(r"\[(\d+)\]", self.path))
        if self.kind == "added":
            args = ", ".join(f"{k}={format_value(v)}" for k, v in self.params.items())
            return f"+ {where} {self.type}" + (f"({args})" if args else "")
        if self.kind == "removed":
            return f"− {where} {self.type}"
        changes = ", ".join(f"{k} {format_value(a)} → {format_value(b)}" for k, (a, b) in self.params.items())
        return f"~ {where} {self.type}: {changes}"


def _params(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k not in ("type", "blocks")}


def _diff_blocks(ref: list[dict[str, Any]], other: list[dict[str, Any]], prefix: str) -> list[BlockChange]:
    out: list[BlockChange] = []
    matcher = difflib.SequenceMatcher(a=[b.get("type") for b in ref], b=[b.get("type") for b in other],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2)):
                a, b = ref[i], other[j]
                pa, pb = _params(a), _params(b)
                changed = {k: (pa.get(k, MISSING), pb.get(k, MISSING))
                           for k in dict.fromkeys([*pa, *pb]) if not _same(pa.get(k, MISSING), pb.get(k, MISSING))}
                path = f"{prefix}blocks[{j}]"
                if changed:
                    out.append(BlockChange("changed", str(b.get("type")), path, i, j, changed))
                if isinstance(a.get("blocks"), list) or isinstance(b.get("blocks"), list):
                    out.extend(_diff_blocks(a.get("blocks") or [], b.get("blocks") or [], path + "."))
            continue
        # A replaced run of blocks is told as what went and what came:
        # pairing a Conv2d with a Linear as "changed" would be meaningless.
        for i in range(i1, i2):
            out.append(BlockChange("removed", str(ref[i].get("type")), f"{prefix}blocks[{i}]", i, None))
        for j in range(j1, j2):
            out.append(BlockChange("added", str(other[j].get("type")), f"{prefix}blocks[{j}]", None, j,
                                   {k: v for k, v in _params(other[j]).items()}))
    return out


def architecture_diff(specs: Sequence[dict[str, Any]], reference: int = 0) -> list[list[BlockChange]]:
    """For each run, its block changes against the reference run (empty for the reference itself)."""
    def blocks(s: dict[str, Any]) -> list[dict[str, Any]]:
        return [b for b in ((s.get("model") or {}).get("blocks") or []) if isinstance(b, dict)]

    ref = blocks(specs[reference]) if specs else []
    return [[] if i == reference else _diff_blocks(ref, blocks(s), "") for i, s in enumerate(specs)]


# --- smoothing -----------------------------------------------------------------------------

def ema_smooth(values: Any, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average.

    Non-finite points pass through unchanged and do not move the average.
    Debiasing divides by 1 - weight**n so the curve starts at the data, not
    at zero. Vectorized in chunks short enough that weight**-k stays finite
    (a plain Python loop took ~0.15 s for 20 runs x 10 keys x 2,000 points).
    """
    y = np.asarray(values, dtype=np.float64)
    out = y.copy()
    w = float(min(max(weight, 0.0), 0.999))
    finite = np.isfinite(y)
    x = y[finite]
    if w == 0.0 or x.size == 0:
        return out
    chunk = max(1, min(x.size, int(30.0 / -math.log10(w))))  # w**-chunk <= 1e30
    ema = np.empty_like(x)
    carry = 0.0
    k = np.arange(chunk, dtype=np.float64)
    wk = w ** k  # w**0 .. w**(chunk-1)
    inv = w ** -k
    for start in range(0, x.size, chunk):
        seg = x[start:start + chunk]
        m = seg.size
        # last_t = w*last_{t-1} + (1-w)*x_t, unrolled over the chunk from `carry`.
        acc = np.cumsum(seg * inv[:m])
        ema[start:start + m] = wk[:m] * (w * carry + (1.0 - w) * acc)
        carry = ema[start + m - 1]
    n = np.arange(1, x.size + 1, dtype=np.float64)
    out[finite] = ema / (1.0 - w ** n)
    return out


# --- summary table -------------------------------------------------------------------------

_MAX_WORDS = ("accuracy", "acc", "r2", "f1", "precision", "recall", "auc", "throughput")
_MIN_WORDS = ("loss", "mae", "mse", "rmse", "error", "perplexity", "epoch_time", "time")


def metric_direction(key: str) -> Optional[Literal["max", "min"]]:
    """Whether larger or smaller is better for a metric key; None when neither (lr)."""
    name = key.rsplit("/", 1)[-1].removesuffix("_step").lower()
    if any(name == w or name.endswith("_" + w) or name.startswith(w) for w in _MAX_WORDS):
        return "max"
    if any(name == w or name.endswith("_" + w) or name.startswith(w) for w in _MIN_WORDS):
        return "min"
    return None


@dataclass(frozen=True)
class SummaryRow:
    """One line of the Compare view's summary: a metric statistic across runs."""

    key: str
    stat: Literal["best", "last"]
    values: tuple[Optional[float], ...]
    best_index: Optional[int]  # the run to highlight; None when no direction or no values


def _best_index(values: Sequence[Optional[float]], direction: Optional[str]) -> Optional[int]:
    finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if direction is None or not finite:
        return None
    # Ties go to the earlier run so the highlight does not jump around.
    if direction == "max":
        return max(finite, key=lambda t: (t[0], -t[1]))[1]
    return min(finite)[1]


def summary_table(summaries: Sequence[dict[str, Any]], keys: Optional[Iterable[str]] = None) -> list[SummaryRow]:
    """Best and final value of each metric for each run, with the best run per row.

    Step-level keys (`*_step`) are left out: their epoch twin says the same.
    """
    per_run = [(s or {}).get("metrics") or {} for s in summaries]
    if keys is None:
        seen: dict[str, None] = {}
        for m in per_run:
            seen.update(dict.fromkeys(m))
        keys = sorted((k for k in seen if not k.endswith("_step")), key=key_order)
    rows: list[SummaryRow] = []
    for key in keys:
        direction = metric_direction(key)
        for stat in ("best", "last"):
            values = tuple(_num((m.get(key) or {}).get(stat)) for m in per_run)
            rows.append(SummaryRow(key, stat, values, _best_index(values, direction)))
    return rows


def _num(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def key_order(key: str) -> tuple[int, str]:
    """val/ first (what people compare), then test/, train/, the rest."""
    prefix = key.split("/", 1)[0] if "/" in key else ""
    return ({"val": 0, "test": 1, "train": 2}.get(prefix, 3), key)


def format_value(v: Any) -> str:
    """A compact, exact-enough rendering for tables: 0.001 -> '0.001', 1e-05 -> '1e-05'."""
    if v is MISSING:
        return "—"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)
