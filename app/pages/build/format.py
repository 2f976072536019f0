"""How shapes and sizes read in the builder: "32 × 8 × 8", "262k", "12 MB"."""
from __future__ import annotations

from typing import Any

from engine import formatting

DASH = "–"


def shape(s: Any) -> str:
    if s is None:
        return "—"
    if isinstance(s, (list, tuple)):
        return " × ".join(str(d) for d in s) if s else "scalar"
    return str(s)


def count(n: Any) -> str:
    """Parameter counts: exact below 10k, then k / M / B."""
    if n is None:
        return "—"
    return DASH if int(n) == 0 else formatting.param_count(int(n))


def macs(n: Any) -> str:
    return "—" if n is None else formatting.compact(float(n), sep=" ")


def macs_cell(n: Any) -> str:
    """MACs in the block table: a dash for none, like parameter counts."""
    if n is None:
        return "—"
    return DASH if int(n) == 0 else formatting.compact(float(n), sep=" ")


def nbytes(n: Any) -> str:
    return "—" if n is None else formatting.nbytes(float(n))


def param_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def totals(summary: Any, batch_size: int) -> str:
    """The line under the model list: parameters (trainable and frozen), MACs, memory, output."""
    if summary.frozen_params:
        weights = f"trainable {summary.trainable_params:,} · frozen {summary.frozen_params:,}"
    else:
        weights = "all trainable"
    at = f"batch {batch_size}" + (f", {summary.precision}" if summary.precision != "fp32" else "")
    return (f"params {summary.total_params:,} ({weights}) · MACs {macs(summary.total_macs)} · "
            f"~{nbytes(summary.memory_bytes)} to train at {at} · output {shape(summary.output_shape)}")
