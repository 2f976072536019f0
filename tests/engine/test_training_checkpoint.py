"""Checkpoint files: contents, weights_only loading, atomic writes, RNG state."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from engine.spec import parse_spec
from engine.training import TrainingError, train
from engine.training.checkpoint import load_checkpoint, save_checkpoint
from engine.training.device import rng_state, set_rng_state


def _spec():
    return parse_spec({
        "seed": 3,
        "data": {"name": "iris", "val_fraction": 0.2},
        "model": {"blocks": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                             {"type": "Linear", "out_features": 3}]},
        "optimizer": {"type": "SGD", "lr": 0.05, "momentum": 0.9},
        "scheduler": {"type": "CosineAnnealingLR", "warmup_epochs": 1},
        "training": {"epochs": 2, "batch_size": 32},
    })


def test_a_run_leaves_best_and_last_with_everything_to_resume(tmp_path):
    result = train(_spec(), checkpoint_dir=tmp_path)
    assert set(result.checkpoints) == {"best", "last"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]  # no temp files left
    # Loads with the safe unpickler: tensors, numbers and strings only.
    state = torch.load(result.checkpoints["last"], weights_only=True)
    assert state["format"] == 1 and state["kind"] == "last"
    assert (state["epoch"], state["step"], state["batch_in_epoch"]) == (2, result.step, 0)
    assert set(state["model"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert state["optimizer"]["state"] and state["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert state["scheduler"]["steps"] == result.step and state["scheduler"]["main"]["last_epoch"] == 1
    assert isinstance(state["rng"]["torch"], torch.Tensor)
    assert isinstance(state["rng"]["numpy"]["keys"], torch.Tensor)
    assert isinstance(state["rng"]["python"]["state"], torch.Tensor)
    assert isinstance(state["perm_rng"], torch.Tensor)
    assert parse_spec(__import__("json").loads(state["spec"])).seed == 3
    assert state["best"]["monitor"] == "val/loss"


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(2)}}, path)

    def broken_save(obj, fh, *a, **k):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"model": {"w": torch.zeros(2)}}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))


def test_unsafe_or_foreign_files_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    bad = tmp_path / "evil.pt"
    torch.save({"format": 1, "model": Evil()}, bad)
    with pytest.raises(TrainingError, match="cannot be read"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(1)}, other)
    with pytest.raises(TrainingError, match="is not a LayerDeck checkpoint"):
        load_checkpoint(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot be read"):
        load_checkpoint(garbage)


def test_rng_state_round_trips_through_a_file(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    random.random(), np.random.rand(), torch.rand(1)
    path = save_checkpoint({"model": {}, "rng": rng_state()}, tmp_path / "r.pt")
    expected = (random.random(), float(np.random.rand()), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(load_checkpoint(path)["rng"])
    got = (random.random(), float(np.random.rand()), torch.rand(3))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


def test_resume_into_a_changed_model_is_refused(tmp_path):
    result = train(_spec(), checkpoint_dir=tmp_path / "a")
    changed = _spec().copy_with(model={"blocks": [{"type": "Linear", "out_features": 3}]})
    with pytest.raises(TrainingError, match="does not match this model"):
        train(changed, checkpoint_dir=tmp_path / "b", resume_from=result.checkpoints["last"])
