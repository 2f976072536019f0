"""Every template in resources/templates is a valid run spec whose model fits
its dataset (input shape and number of outputs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.model import summarize
from engine.spec import RunSpec, parse_spec

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "resources" / "templates"
TEMPLATES = sorted(p.stem for p in TEMPLATE_DIR.glob("*.json"))

# What the datasets give: input shape, outputs, task. Checked against
# engine.data below, so a change there fails here instead of silently passing.
DATASETS = {
    "digits": ((1, 8, 8), 10, "classification"), "iris": ((4,), 3, "classification"),
    "wine": ((13,), 3, "classification"), "breast_cancer": ((30,), 2, "classification"),
    "diabetes": ((10,), 1, "regression"), "mnist1d": ((40,), 10, "classification"),
    "sequence": ((20, 1), 2, "classification"), "tokens": ((20,), 2, "classification"),
    # Generated at a chosen width: these are the defaults; expected_shape reads the options.
    "regression": ((1000,), 1, "regression"), "classification": ((1000,), 10, "classification"),
    "messages": ((64,), 4, "classification"),  # max_length token ids per text
}
# The classic recipes keep the names their articles give them (the gallery shows the dataset).
RECIPES = {"mlp-1000-regression", "bigmodel-regression", "bigmodel-110m", "bigmodel-110m-bf16",
           "bigmodel-110m-ddp"}


def expected_shape(spec: RunSpec) -> tuple[tuple[int, ...], int, str]:
    shape, outputs, task = DATASETS[spec.data.name]
    o = spec.data.options
    if spec.data.name in ("regression", "classification"):
        shape = (int(o.get("n_features", shape[0])),)
        outputs = int(o.get("n_classes", outputs))
    if spec.data.name == "messages":
        shape = (int(o.get("max_length", shape[0])),)
    return shape, outputs, task


def load(name: str) -> RunSpec:
    return parse_spec(json.loads((TEMPLATE_DIR / f"{name}.json").read_text(encoding="utf-8")), name)


def test_the_promised_templates_exist():
    datasets = {load(n).data.name for n in TEMPLATES}
    assert {"digits", "sequence", "mnist1d"} <= datasets
    assert datasets & {"wine", "breast_cancer", "iris"}
    mnist = [load(n).model.blocks for n in TEMPLATES if load(n).data.name == "mnist1d"]
    kinds = {tuple(sorted({b.type for b in blocks} & {"Conv1d", "GRU", "ReLU"})) for blocks in mnist}
    # logistic regression (Linear only), MLP (ReLU), CNN (Conv1d), GRU
    assert kinds == {(), ("ReLU",), ("Conv1d", "ReLU"), ("GRU",)}


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_is_valid_for_its_dataset(name):
    spec = load(name)
    shape, outputs, task = expected_shape(spec)
    summary = summarize(spec.model, shape, num_outputs=outputs, task=task,
                        batch_size=spec.training.batch_size, optimizer=spec.optimizer.type)
    assert summary.valid, summary.errors
    assert summary.output_shape == (outputs,)
    assert spec.name.replace("-", "_").startswith(spec.data.name) or spec.name in RECIPES


@pytest.mark.parametrize("name", sorted({load(n).data.name for n in TEMPLATES}))
def test_dataset_table_matches_engine_data(name):
    from engine.data import dataset_info
    from engine.spec import DataSpec

    info = dataset_info(DataSpec(name=name), 0)
    shape, outputs, task = DATASETS[name]
    assert (tuple(info.input_shape), info.task) == (shape, task)
    assert (info.num_classes if task == "classification" else info.num_targets) == outputs
