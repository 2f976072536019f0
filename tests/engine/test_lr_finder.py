"""The LR range test: the curve arithmetic on known curves, and `layerdeck
lr-find` on digits in its own process, as a user runs it."""
from __future__ import annotations

import json
import math
import re

import pytest

from engine.cli import main
from engine.training.lr_finder import lr_at, smooth, steepest, valley
from tests.engine.test_templates import TEMPLATE_DIR


def test_the_ramp_runs_exponentially_from_1e_7_to_10():
    lrs = [lr_at(i) for i in range(100)]
    assert lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10.0)
    ratios = {round(b / a, 9) for a, b in zip(lrs, lrs[1:])}
    assert len(ratios) == 1  # the same factor every step


def test_smoothing_is_bias_corrected():
    # Without the correction the first smoothed points would be pulled towards 0.
    out = smooth([2.0] * 10)
    assert out == pytest.approx([2.0] * 10)
    noisy = smooth([2.0, 0.0] * 50)
    assert all(0.0 < v < 2.0 for v in noisy[1:])


def _bowl(n: int = 100) -> tuple[list[float], list[float]]:
    """Flat at 2.3, falls along a tanh centred at lr 1e-3, then blows up past 1."""
    lrs = [lr_at(i, n) for i in range(n)]
    losses = [1.3 - math.tanh(2 * (math.log10(lr) + 3)) + max(0.0, 3 * math.log10(lr)) ** 2 for lr in lrs]
    return lrs, losses


def test_steepest_descent_is_where_the_loss_falls_fastest():
    lrs, losses = _bowl()
    assert steepest(lrs, losses) == pytest.approx(1e-3, rel=0.3)


def test_valley_lies_inside_the_falling_stretch_before_the_minimum():
    lrs, losses = _bowl()
    v = valley(lrs, losses)
    lowest = lrs[losses.index(min(losses))]
    assert v is not None and 1e-7 < v < lowest
    assert losses[lrs.index(v)] < losses[0]  # down the slope, not on the flat start


def test_a_curve_that_never_falls_gives_no_steepest_point():
    lrs = [lr_at(i, 20) for i in range(20)]
    assert steepest(lrs, [1.0 + i for i in range(20)]) is None


@pytest.mark.slow
def test_lr_find_on_digits_suggests_a_usable_rate_and_leaves_the_spec_alone(tmp_path, capsys):
    path = tmp_path / "digits.json"
    text = (TEMPLATE_DIR / "digits_mlp.json").read_text()
    path.write_text(text)
    assert main(["lr-find", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("LR range test on digits with AdamW")
    match = re.fullmatch(r"suggested lr: (\S+)", lines[-1])
    assert match, lines[-1]
    assert 1e-4 <= float(match.group(1)) <= 1.0
    assert any(line.startswith("steepest descent: ") for line in lines)
    assert any(line.startswith("valley: ") for line in lines)
    assert path.read_text() == text  # nothing of the spec changes


@pytest.mark.slow
def test_lr_find_names_a_bad_spec_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": {"name": "digitz"}}))
    assert main(["lr-find", str(path)]) == 1
    err = capsys.readouterr().err
    assert "unknown dataset 'digitz'" in err and "Traceback" not in err
