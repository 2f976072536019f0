"""Check before training: the digits templates pass all three checks; a
learning rate of 10 fails the overfit check with advice to lower it."""
from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.spec import parse_spec
from engine.training.sanity import sanity_check
from tests.engine.test_templates import TEMPLATE_DIR
from tests.engine.test_text import one_thread  # noqa: F401 - the fixture: training in this process, one thread

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("template", ["digits_mlp", "digits_cnn"])
def test_digits_templates_pass_every_check(template, one_thread):  # noqa: F811
    spec = parse_spec(json.loads((TEMPLATE_DIR / f"{template}.json").read_text()))
    report = sanity_check(spec, device="cpu")
    assert [i.outcome for i in report.items] == ["pass", "pass", "pass"], report.items
    initial, overfit, zeroed = report.items
    assert "ln(10) = 2.303" in initial.measured
    assert report.curve[-1] < 0.1 * report.curve[0]  # it really memorized the batch
    assert report.passed


def test_a_learning_rate_of_10_fails_with_advice(tmp_path, capsys):
    spec = json.loads((TEMPLATE_DIR / "digits_mlp.json").read_text())
    spec["optimizer"]["lr"] = 10
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(spec))
    assert main(["check", str(path), "--sanity"]) == 1
    out = capsys.readouterr().out
    checklist = out[out.index("Check before training"):].splitlines()
    assert checklist[1].startswith("[pass] Initial loss")
    assert checklist[2].startswith("[FAIL] Overfit one batch (32 samples, 200 steps)")
    assert "optimizer.lr 10 is too high" in checklist[3] and "LR finder" in checklist[3]
    assert checklist[4].startswith("[skip] Loss with inputs zeroed")
    assert checklist[-1] == "1 check(s) failed"
