"""The tokens_gru template: Embedding -> GRU -> Linear on integer token ids
passes `layerdeck check` and learns the order rule well above chance."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.cli import check
from engine.model import summarize_spec
from engine.spec import RunSpec, parse_spec
from engine.training import Callback, train
from engine.training.feeds import as_tensors

TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "templates" / "tokens_gru.json"


def load_template(**training) -> RunSpec:
    d = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    d["training"].update(training)
    return parse_spec(d, "tokens_gru")


def test_layerdeck_check_accepts_the_template(capsys):
    parser = argparse.ArgumentParser(prog="layerdeck")
    check.add_parser(parser.add_subparsers(dest="command"))
    assert check.run(parser.parse_args(["check", str(TEMPLATE)])) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "tokens-gru · tokens: 2 classes"
    assert out[2].split() == ["input", "(20,)"]  # ids: one per step, no feature axis

    summary, info = summarize_spec(load_template())
    assert summary.valid, summary.errors
    assert info.kind == "tokens" and info.input_shape == (20,)
    assert summary.output_shape == (2,)
    embedding = load_template().model.blocks[0]
    assert embedding.type == "Embedding" and embedding.params["num_embeddings"] >= 30


def test_integer_ids_reach_the_model_as_int64():
    xt, _ = as_tensors(np.array([[3, 1, 2]], dtype=np.int64), np.array([1]))
    assert xt.dtype == torch.int64
    xf, _ = as_tensors(np.array([[0.5, 1.0]], dtype=np.float64), np.array([1]))
    assert xf.dtype == torch.float32


class EpochMetrics(Callback):
    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_epoch_end(self, ctx, epoch, metrics):
        self.epochs.append(dict(metrics))


def test_training_the_template_beats_chance(tmp_path):
    # The template as shipped, cut to 2 epochs on the CPU.
    spec = load_template(epochs=2, device="cpu")
    seen = EpochMetrics()
    result = train(spec, callbacks=[seen], checkpoint_dir=tmp_path)
    assert result.status == "completed", result.error
    assert len(seen.epochs) == 2
    assert seen.epochs[-1]["val/accuracy"] > 0.75  # chance is 0.5: the classes are balanced
    assert seen.epochs[-1]["train/loss"] < seen.epochs[0]["train/loss"]


def test_ids_beyond_the_embedding_are_refused_before_training_with_both_numbers(tmp_path):
    from engine.training import TrainingError, train

    d = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    d["model"]["blocks"][0]["num_embeddings"] = 20  # the data's ids go up to vocab_size - 1 = 29
    d["training"].update(epochs=1, device="cpu")
    with pytest.raises(TrainingError, match=r"tokens has ids up to 29 but block 1 Embedding has "
                                            r"num_embeddings=20 — set num_embeddings to at least 30"):
        train(parse_spec(d), checkpoint_dir=tmp_path)
