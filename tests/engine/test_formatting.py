"""engine.formatting: the one way numbers, sizes and durations read."""
from __future__ import annotations

import pytest

from engine.formatting import clock, compact, gb, mb, nbytes, param_count, significant


@pytest.mark.parametrize("v, digits, text", [
    (1.234, 3, "1.23"), (999.6, 3, "1000"), (2.0, 3, "2"), (0.000123456, 3, "0.000123"),
    (12.3, 2, "12"), (512.0, 2, "512"), (0, 3, "0"),
])
def test_significant_never_uses_e_notation(v, digits, text):
    assert significant(v, digits) == text


def test_compact_counts():
    assert compact(1234567) == "1.23M"
    assert compact(262144) == "262k"
    assert compact(1.5e9) == "1.5G"
    assert compact(3e12) == "3T"
    assert compact(950) == "950"
    assert compact(-2500) == "-2.5k"
    assert compact(1234567, sep=" ") == "1.23 M"
    assert compact(1_500_000, digits=4) == "1.5M"
    assert compact(0.5, digits=4) == "0.5"


def test_param_counts_are_exact_when_small():
    assert [param_count(n) for n in (0, 9962, 12345, 262144, 1234567, 1_200_000_000)] == \
        ["0", "9,962", "12k", "262k", "1.23M", "1.2B"]


def test_sizes():
    assert nbytes(512) == "512 B"
    assert nbytes(1536) == "1.5 kB"
    assert nbytes(1234567) == "1.18 MB"
    assert nbytes(12.3 * 2**20, digits=2) == "12 MB"
    assert nbytes(1.23 * 2**30, digits=2) == "1.2 GB"
    assert mb(812) == "812 MB" and mb(3174) == "3.1 GB"
    assert gb(24 * 1024) == "24.0"


def test_clock():
    assert [clock(s) for s in (0, 5, 95, 3725, 59.6, -3)] == ["0:00", "0:05", "1:35", "1:02:05", "1:00", "0:00"]
