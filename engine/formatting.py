"""How numbers, sizes and durations read, in the CLI and the app alike:
"1.23M" parameters, "3.1 GB" of memory, "1:02:05" of training.

Plain functions of a number; what an unknown value reads ("–", "—",
"--:--") is the caller's, since a table, a tile and a terminal differ.
"""
from __future__ import annotations

import math

SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
BINARY = ((2**30, "GB"), (2**20, "MB"), (2**10, "kB"))  # binary sizes, named as GPU specs and the app name them


def significant(v: float, digits: int = 3) -> str:
    """`v` to `digits` significant figures, never in e-notation: 1.234 -> "1.23", 999.6 -> "1000", 2.0 -> "2"."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    decimals = max(digits - 1 - math.floor(math.log10(abs(v))), 0)
    text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def compact(n: float, digits: int = 3, sep: str = "") -> str:
    """1234567 -> "1.23M", 4096 -> "4.1k" (digits=2), 950 -> "950"; sep=" " gives "1.23 M"."""
    for size, suffix in SI:
        if abs(n) >= size:
            return f"{significant(n / size, digits)}{sep}{suffix}"
    return f"{n:.0f}" if float(n).is_integer() else significant(n, digits)


def param_count(n: int) -> str:
    """Parameter counts: exact below 10k ("9,962"), then "262k", "1.23M", "1.2B"."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1e3:.0f}k"
    return f"{significant(n / 1e6)}M" if n < 1e9 else f"{significant(n / 1e9)}B"  # B, not G: how models are sized


def nbytes(n: float, digits: int = 3) -> str:
    """Bytes: "1.23 GB", "12 MB" (digits=2), "512 B"."""
    for size, unit in BINARY:
        if n >= size:
            return f"{significant(n / size, digits)} {unit}"
    return f"{n:.0f} B"


def mb(megabytes: float) -> str:
    """Memory counted in MiB, for a table cell: "812 MB", "3.1 GB"."""
    return f"{megabytes:.0f} MB" if megabytes < 1024 else f"{gb(megabytes)} GB"


def gb(megabytes: float) -> str:
    """MiB as GB with one decimal, the unit left to the caller: 3174 -> "3.1" (for "3.1 / 24.0 GB")."""
    return f"{megabytes / 1024:.1f}"


def metric(v: float) -> str:
    """A metric value (loss, accuracy, batch size) as runs tables and summaries show it: "0.9731", "1e-05"."""
    return f"{v:.4g}"


def clock(seconds: float) -> str:
    """A duration as a clock: 95 -> "1:35", 3725 -> "1:02:05" (negative reads 0:00)."""
    h, rest = divmod(max(0, int(round(seconds))), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
