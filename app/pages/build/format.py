"""How shapes and sizes read in the builder: "32 × 8 × 8", "262k", "12 MB"."""
from __future__ import annotations

from typing import Any

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
    n = int(n)
    if n == 0:
        return DASH
    for limit, unit in ((1e9, "B"), (1e6, "M"), (1e4, "k")):
        if n >= limit:
            v = n / (limit if unit != "k" else 1e3)
            return f"{v:.3g}{unit}" if unit != "k" else f"{v:.0f}k"
    return f"{n:,}"


def macs(n: Any) -> str:
    if n is None:
        return "—"
    n = float(n)
    for limit, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= limit:
            return f"{n / limit:.3g} {unit}"
    return f"{n:.0f}"


def nbytes(n: Any) -> str:
    if n is None:
        return "—"
    n = float(n)
    for limit, unit in ((2**30, "GB"), (2**20, "MB"), (2**10, "kB")):
        if n >= limit:
            return f"{n / limit:.3g} {unit}"
    return f"{n:.0f} B"


def param_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
