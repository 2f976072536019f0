"""Config and architecture diffs, TensorBoard smoothing, the best/final table."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from engine.compare import (
    MISSING,
    architecture_diff,
    config_diff,
    ema_smooth,
    flatten_spec,
    format_value,
    metric_direction,
    summary_table,
)

BASE = {
    "name": "a", "seed": 0,
    "data": {"name": "digits", "val_fraction": 0.2, "options": {}},
    "model": {"blocks": [
        {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "ReLU"},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 10},
    ]},
    "optimizer": {"type": "AdamW", "lr": 0.001, "weight_decay": 0.01},
    "training": {"epochs": 20, "batch_size": 64},
}


def variant(**edits):
    spec = copy.deepcopy(BASE)
    for path, value in edits.items():
        node = spec
        *head, last = path.split("__")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return spec


def test_flatten_names_every_leaf_by_its_path():
    flat = flatten_spec(BASE)
    assert flat["optimizer.lr"] == 0.001
    assert flat["model.blocks[0].out_channels"] == 16
    assert flat["model.blocks[1].type"] == "ReLU"
    assert flat["data.options"] == {}


def test_config_diff_lists_only_the_differing_fields_with_each_runs_value():
    b = variant(optimizer__lr=0.003, name="b")
    c = variant(training__batch_size=128, name="c")
    c["model"]["blocks"][0]["out_channels"] = 32
    rows = config_diff([BASE, b, c])
    assert [(r.path, r.values) for r in rows] == [
        ("model.blocks[0].out_channels", (16, 16, 32)),
        ("optimizer.lr", (0.001, 0.003, 0.001)),
        ("training.batch_size", (64, 64, 128)),
    ]
    assert rows[1].changed(1) and not rows[1].changed(2)


def test_config_diff_marks_a_field_only_some_runs_have():
    sgd = variant(name="s")
    sgd["optimizer"] = {"type": "SGD", "lr": 0.001, "momentum": 0.9}
    rows = {r.path: r.values for r in config_diff([BASE, sgd])}
    assert rows["optimizer.type"] == ("AdamW", "SGD")
    assert rows["optimizer.momentum"] == (MISSING, 0.9)
    assert rows["optimizer.weight_decay"] == (0.01, MISSING)
    assert "optimizer.lr" not in rows


def test_identical_specs_have_no_diff_and_int_float_are_the_same_setting():
    assert config_diff([BASE, copy.deepcopy(BASE)]) == []
    assert config_diff([BASE, variant(optimizer__lr=1e-3 * 1.0, training__epochs=20.0)]) == []


def test_different_architectures_get_one_row_and_a_block_by_block_diff():
    other = copy.deepcopy(BASE)
    blocks = other["model"]["blocks"]
    blocks[0]["out_channels"] = 32                       # changed
    blocks.insert(2, {"type": "MaxPool2d", "kernel_size": 2})  # added
    del blocks[1]                                         # ReLU removed
    rows = {r.path: r.values for r in config_diff([BASE, other])}
    assert "model.blocks[0].out_channels" not in rows
    assert rows["model.blocks"] == ("4 blocks: Conv2d → ReLU → Flatten → Linear",
                                    "4 blocks: Conv2d → MaxPool2d → Flatten → Linear")
    ref_changes, changes = architecture_diff([BASE, other])
    assert ref_changes == []
    assert [(c.kind, c.type) for c in changes] == [
        ("changed", "Conv2d"), ("removed", "ReLU"), ("added", "MaxPool2d")]
    assert changes[0].params == {"out_channels": (16, 32)}
    assert changes[2].params == {"kernel_size": 2}
    assert [c.describe() for c in changes] == [
        "~ block 1 Conv2d: out_channels 16 → 32", "− block 2 ReLU", "+ block 2 MaxPool2d(kernel_size=2)"]


def test_architecture_diff_looks_inside_containers():
    a = {"model": {"blocks": [{"type": "Residual", "blocks": [{"type": "Linear", "out_features": 8}]}]}}
    b = {"model": {"blocks": [{"type": "Residual", "blocks": [{"type": "Linear", "out_features": 16},
                                                               {"type": "ReLU"}]}]}}
    changes = architecture_diff([a, b])[1]
    assert [(c.kind, c.path) for c in changes] == [("changed", "blocks[0].blocks[0]"), ("added", "blocks[0].blocks[1]")]


def _tensorboard_ema(values, weight):
    # TensorBoard's own loop (tensorboard/components/vz_line_chart2), written plainly.
    last, n, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n))
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.95, 0.999])
def test_ema_matches_tensorboard_including_gaps(weight):
    values = np.random.default_rng(1).normal(size=3000).cumsum()
    values[[0, 17, 2500]] = np.nan
    got = ema_smooth(values, weight)
    np.testing.assert_allclose(got, _tensorboard_ema(values, weight), rtol=1e-9, atol=1e-9)
    assert np.isnan(got[17])


def test_ema_is_debiased_and_keeps_a_constant_curve():
    assert ema_smooth([5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])
    assert ema_smooth([2.0], 0.6)[0] == pytest.approx(2.0)  # not 0.8, as an undebiased EMA gives
    assert ema_smooth([], 0.6).size == 0


def test_metric_direction_follows_the_key_name():
    assert metric_direction("val/accuracy") == "max"
    assert metric_direction("val/r2") == "max"
    assert metric_direction("train/loss_step") == "min"
    assert metric_direction("val/mae") == "min"
    assert metric_direction("lr") is None
    assert metric_direction("gpu0/mem_used_mb") is None


def test_summary_table_highlights_the_best_run_per_row():
    s = [
        {"metrics": {"val/accuracy": {"best": 0.95, "last": 0.93}, "val/loss": {"best": 0.20, "last": 0.25},
                     "lr": {"best": 1e-3, "last": 1e-5}, "train/loss_step": {"best": 0.1, "last": 0.1}}},
        {"metrics": {"val/accuracy": {"best": 0.97, "last": 0.90}, "val/loss": {"best": 0.15, "last": 0.30}}},
        {"metrics": {}},
    ]
    rows = {(r.key, r.stat): r for r in summary_table(s)}
    assert [k for k, _ in rows][::2] == ["val/accuracy", "val/loss", "lr"]  # val first, *_step dropped
    assert rows[("val/accuracy", "best")].values == (0.95, 0.97, None)
    assert rows[("val/accuracy", "best")].best_index == 1
    assert rows[("val/accuracy", "last")].best_index == 0
    assert rows[("val/loss", "best")].best_index == 1
    assert rows[("val/loss", "last")].best_index == 0
    assert rows[("lr", "best")].best_index is None


def test_values_are_formatted_compactly():
    assert [format_value(v) for v in (0.001, 1e-5, 0.98312, 64, True, MISSING, None)] == \
        ["0.001", "1e-05", "0.9831", "64", "true", "—", "null"]
