"""Transfer learning between runs, end to end: a real worker trains a digits
CNN; a second run starts from its best checkpoint (`model.init_from`) with
its early blocks frozen and a new head, and trains on. The frozen blocks'
weights and BatchNorm statistics leave the second run exactly as they came
from the first; `layerdeck check` says what was copied and what was not."""
from __future__ import annotations

import json

import pytest
import torch

from engine.cli import check
from engine.spec import SpecError
from engine.store import RunStore
from engine.training.checkpoint import load_checkpoint
from tests.engine.test_cli_check import run_cmd

BODY = [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
    {"type": "BatchNorm2d"},
    {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Flatten"},
]


def spec(name: str, blocks: list, epochs: int, **model) -> dict:
    return {"name": name, "seed": 1, "data": {"name": "digits", "val_fraction": 0.2},
            "model": {"blocks": blocks, **model}, "optimizer": {"type": "AdamW", "lr": 0.01},
            "training": {"epochs": epochs, "batch_size": 64, "device": "cpu"}}


def best_state(store: RunStore, run_id: int) -> dict:
    path = next(c.path for c in store.checkpoints(run_id) if c.kind == "best")
    return load_checkpoint(path)["model"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fine_tune_from_a_run_keeps_frozen_blocks_unchanged(runner, db_url, tmp_path, capsys):
    head = [{"type": "Linear", "out_features": 32}, {"type": "ReLU"}, {"type": "Linear", "out_features": 10}]
    first = runner.submit(spec("pretrain", BODY + head, epochs=4))
    assert runner.wait(first, timeout=240) == "completed"

    frozen = [{**BODY[0], "trainable": False}, {**BODY[1], "trainable": False}, *BODY[2:]]
    new_head = [{"type": "Linear", "out_features": 16, "init": "kaiming_normal"}, {"type": "ReLU"},
                {"type": "Linear", "out_features": 10}]
    tune = spec("fine-tune", frozen + new_head, epochs=3, init_from={"run": first, "checkpoint": "best"})

    # `layerdeck check` lists what the second run will copy and why not the rest.
    path = tmp_path / "tune.json"
    path.write_text(json.dumps(tune))
    assert run_cmd(check, str(path), "--db", db_url) == 0
    out = capsys.readouterr().out
    assert f"weights from run #{first} 'pretrain' (best checkpoint): 8 of 11 tensors copied" in out
    assert f"  not      block 6 (Linear) 5.weight: shape (32, 128) in run #{first}, (16, 128) here" in out
    assert "  copied   block 2 (BatchNorm2d) 1.running_mean (8,)" in out
    assert "  copied   block 8 (Linear) 7.bias (10,)" in out

    second = runner.submit(tune)
    assert runner.wait(second, timeout=240) == "completed"
    store = RunStore(db_url)
    try:
        before, after = best_state(store, first), best_state(store, second)
        for key in ("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                    "1.num_batches_tracked"):
            assert torch.equal(before[key], after[key]), f"{key} changed in the frozen block"
        assert not torch.equal(before["7.bias"], after["7.bias"])  # copied, then trained on
        run = store.get_run(second)
        assert run.summary["metrics"]["val/accuracy"]["best"] > 0.8  # the frozen features still serve
    finally:
        store.close()


def test_init_from_an_unknown_or_unfinished_run_is_refused_before_launch(runner):
    blocks = BODY + [{"type": "Linear", "out_features": 10}]
    with pytest.raises(SpecError, match=r"model.init_from.run: there is no run #99 in this store"):
        runner.submit(spec("tune", blocks, 1, init_from={"run": 99}))
    queued = runner.store.create_run(spec("pending", blocks, 1), name="pending")
    with pytest.raises(SpecError, match=rf"run #{queued} 'pending' is queued; weights come from a completed"):
        runner.submit(spec("tune", blocks, 1, init_from={"run": queued}))
