"""Run spec parsing: every error at once, each naming its JSON path and the fix."""
from __future__ import annotations

import json

import pytest

from engine.spec import RunSpec, SpecError, load_spec, parse_spec, save_spec


def errors_of(data) -> list[str]:
    with pytest.raises(SpecError) as e:
        parse_spec(data)
    return e.value.errors


def test_defaults_make_a_valid_spec_and_round_trip(tmp_path):
    spec = parse_spec({"model": {"blocks": [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}})
    assert spec.data.name == "digits" and spec.optimizer.type == "AdamW"
    save_spec(spec, tmp_path / "s.json")
    again = load_spec(tmp_path / "s.json")
    assert again.to_dict() == spec.to_dict()
    assert again.model.blocks[1].params == {"out_features": 10}


def test_val_fraction_may_be_zero():
    assert parse_spec({"data": {"name": "iris", "val_fraction": 0}}).data.val_fraction == 0


def test_all_errors_at_once_with_paths_in_document_order():
    errs = errors_of({
        "data": {"name": "iris", "val_fraction": 1.5},
        "model": {"blocks": [
            {"type": "Linear", "out_features": 10},
            {"type": "Conv2d", "out_channels": 8, "kernel_size": 0},
            {"type": "Conv2D", "out_channels": 8},
        ]},
        "training": {"epochs": 0},
    })
    assert errs == [
        "data.val_fraction: must be < 1",
        "model.blocks[1].kernel_size: must be > 0",
        "model.blocks[2].type: unknown block type 'Conv2D'; did you mean Conv2d?",
        "training.epochs: must be >= 1",
    ]


def test_unknown_keys_are_rejected_with_the_closest_name():
    errs = errors_of({"trainng": {}, "data": {"nme": "iris"}, "training": {"epoch": 3}})
    assert errs == ["trainng: unknown key; did you mean training?",
                    "data.nme: unknown key; did you mean name?",
                    "training.epoch: unknown key; did you mean epochs?"]


def test_unknown_keys_inside_optimizer_scheduler_and_nested_sections():
    errs = errors_of({"optimizer": {"type": "SGD", "momentom": 0.9}, "scheduler": {"type": "StepLR", "step": 3},
                      "regularization": {"early_stopping": {"patiance": 3}}})
    assert errs == ["optimizer.momentom: unknown key; did you mean momentum?",
                    "scheduler.step: unknown key; did you mean step_size?",
                    "regularization.early_stopping.patiance: unknown key; did you mean patience?"]


def test_unknown_block_parameters_and_inferred_sizes():
    errs = errors_of({"model": {"blocks": [
        {"type": "Linear", "in_features": 4, "out_feature": 3},
        {"type": "ReLU", "inplace": True},
        {"type": "GRU", "hidden_size": 8, "batch_first": True},
    ]}})
    assert errs == [
        "model.blocks[0].in_features: is inferred from the previous block's output; remove it",
        "model.blocks[0].out_feature: unknown parameter of Linear; did you mean out_features?",
        "model.blocks[0].out_features: required for Linear (number of output values)",
        "model.blocks[1].inplace: unknown parameter; ReLU takes none",
        "model.blocks[2].batch_first: GRU is always batch-first here; remove it",
    ]


def test_block_parameter_types_choices_and_ranges():
    errs = errors_of({"model": {"blocks": [
        {"type": "Linear", "out_features": "ten", "bias": 1},
        {"type": "Dropout", "p": 1.5},
        {"type": "GRU", "hidden_size": 8, "output": "all"},
        {"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 3, 3]},
        {"type": "Unflatten", "unflattened_size": []},
        {"type": "Linear", "out_features": True},
    ]}})
    assert errs == [
        "model.blocks[0].out_features: must be a whole number",
        "model.blocks[0].bias: must be true or false",
        "model.blocks[1].p: must be <= 1",
        "model.blocks[2].output: must be one of 'last', 'sequence'",
        "model.blocks[3].kernel_size: must be a whole number or a list of 2",
        "model.blocks[4].unflattened_size: must be a non-empty list of whole numbers",
        "model.blocks[5].out_features: must be a whole number",
    ]


def test_blocks_without_a_type_and_residual_children_are_checked():
    errs = errors_of({"model": {"blocks": [
        {"out_features": 3},
        "Linear",
        {"type": "Residual", "blocks": [{"type": "Lienar", "out_features": 4}]},
        {"type": "Residual"},
        {"type": "Linear", "out_features": 2, "blocks": []},
    ]}})
    assert errs == [
        "model.blocks[0].type: missing; every block needs a type, e.g. \"Linear\"",
        "model.blocks[1]: must be an object with a \"type\", e.g. {\"type\": \"Linear\", \"out_features\": 10}",
        "model.blocks[2].blocks[0].type: unknown block type 'Lienar'; did you mean Linear?",
        "model.blocks[3].blocks: Residual needs a list of blocks",
        "model.blocks[4].blocks: Linear cannot hold blocks (only Sequential, Branch, Residual can)",
    ]


def test_unknown_optimizer_and_scheduler_types_suggest_the_right_one():
    assert errors_of({"optimizer": {"type": "Adamw"}}) == ["optimizer: unknown type 'Adamw'; did you mean AdamW?"]
    assert errors_of({"scheduler": {"type": "cosine"}}) == [
        "scheduler: unknown type 'cosine'; did you mean CosineAnnealingLR?"]


def test_load_spec_reports_missing_files_and_bad_json(tmp_path):
    with pytest.raises(SpecError) as e:
        load_spec(tmp_path / "nope.json")
    assert e.value.errors == [f"file not found: {tmp_path / 'nope.json'}"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x",\n "seed": }')
    with pytest.raises(SpecError) as e:
        load_spec(bad)
    assert e.value.errors[0].startswith("line 2 column 10: invalid JSON")


def test_spec_error_names_its_source_file(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"seed": -1}))
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert str(e.value) == f"{p}: seed: must be between 0 and 4294967295 (got -1)"


def test_copy_with_revalidates():
    spec = RunSpec()
    assert spec.copy_with(seed=3).seed == 3
    with pytest.raises(SpecError):
        spec.copy_with(seed=-1)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64, -(2**40)])
def test_a_seed_outside_numpys_range_is_refused_with_the_range(seed):
    with pytest.raises(SpecError) as e:
        parse_spec({"seed": seed})
    assert e.value.errors == [f"seed: must be between 0 and 4294967295 (got {seed})"]


def test_the_largest_seed_numpy_takes_is_accepted():
    assert parse_spec({"seed": 2**32 - 1}).seed == 2**32 - 1


def test_an_empty_or_odd_key_is_quoted_in_its_path():
    with pytest.raises(SpecError) as e:
        parse_spec({"regularization": {"": 1}, "model": {"blocks": [{"type": "ReLU", "a b": 2}]}})
    assert [m.split(":")[0] for m in e.value.errors] == ['regularization[""]', 'model.blocks[0]["a b"]']
