"""The classic-recipe templates: each checks clean with `layerdeck check`,
the small regression ones train to what their gallery card promises (on
fewer samples and epochs, so the test stays short), and bigmodel-110m trains
one epoch on 256 samples."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.gallery import read_index
from engine.spec import parse_spec
from engine.training import train

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"
RECIPES = ["mlp_1000_regression", "bigmodel_regression", "bigmodel_110m", "bigmodel_110m_bf16", "bigmodel_110m_ddp"]


def load(stem: str) -> dict:
    return json.loads((TEMPLATES / f"{stem}.json").read_text())


def shrunk(stem: str, n_samples: int, epochs: int) -> dict:
    d = load(stem)
    d["data"]["options"]["n_samples"] = n_samples
    d["training"].update(epochs=epochs, device="cpu")
    return d


@pytest.mark.parametrize("stem", RECIPES)
def test_each_recipe_checks_clean_and_has_a_gallery_card(stem, capsys):
    assert cli_main(["check", str(TEMPLATES / f"{stem}.json")]) == 0
    out = capsys.readouterr().out
    about = read_index()[stem]
    assert about["title"] and about["shows"] and about["expect"]
    if stem.startswith("bigmodel_110m"):
        assert "params 110,120,010" in out  # the summary the issue asks for
        from engine.formatting import nbytes

        fp32_state = 4 * 110_120_010 * 3  # weights, gradients, momentum: fp32 in every precision
        assert f"({nbytes(fp32_state, 4)} of it weights, gradients and optimizer state" in out
        assert "memory by precision at batch 64: fp32" in out and " · bf16 " in out


def test_the_110m_memory_check_counts_fp32_and_bf16():
    from engine.model import summarize_spec

    fp32, _ = summarize_spec(parse_spec(load("bigmodel_110m")))
    bf16, _ = summarize_spec(parse_spec(load("bigmodel_110m_bf16")))
    weights_grads_momentum = 4 * 110_120_010 * 3  # fp32 under mixed precision too
    assert fp32.memory_bytes > weights_grads_momentum and bf16.memory_bytes > weights_grads_momentum
    assert bf16.memory_bytes < fp32.memory_bytes  # bf16 activations take half the bytes


@pytest.mark.slow
@pytest.mark.parametrize("stem, n_samples, epochs", [("mlp_1000_regression", 600, 12),
                                                     ("bigmodel_regression", 1000, 10)])
def test_the_regression_recipes_memorize_and_still_generalize(stem, n_samples, epochs, tmp_path):
    """Their cards: training loss near zero, validation R² well above zero (the
    mean predictor's) but far from one. Fewer samples and epochs here."""
    result = train(parse_spec(shrunk(stem, n_samples=n_samples, epochs=epochs)), checkpoint_dir=tmp_path)
    assert result.status == "completed", result.error
    m = result.final_metrics
    assert m["train/loss"] < 0.2  # the target has variance 1: predicting the mean scores 1.0
    assert m["train/loss"] < m["val/loss"] / 2  # it memorizes more than it generalizes
    assert 0.15 < m["val/r2"] < 0.95


@pytest.mark.slow
def test_bigmodel_110m_trains_one_epoch_on_256_samples(tmp_path):
    spec = parse_spec(shrunk("bigmodel_110m", n_samples=320, epochs=1))  # val_fraction 0.2: 256 to train
    result = train(spec, checkpoint_dir=tmp_path)
    assert result.status == "completed", result.error
    assert result.num_params == 110_120_010
    assert result.epochs_done == 1 and result.step == 4  # 256 samples in batches of 64
    assert result.final_metrics["train/loss"] > 0 and result.final_metrics["val/accuracy"] >= 0
