"""`layerdeck check` and `layerdeck export` as a user runs them: the table,
the totals, exit codes, and errors one per line without a traceback."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import check, export
from tests.engine.test_templates import TEMPLATE_DIR

ROOT = Path(__file__).resolve().parents[2]


def run_cmd(module, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="layerdeck")
    module.add_parser(parser.add_subparsers(dest="command"))
    return module.run(parser.parse_args([module.__name__.rsplit(".", 1)[1], *argv]))


def write(tmp_path: Path, spec: dict) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return str(path)


def test_valid_spec_prints_table_and_totals(capsys):
    assert run_cmd(check, str(TEMPLATE_DIR / "digits_cnn.json")) == 0
    out = capsys.readouterr()
    assert out.err == ""
    lines = out.out.splitlines()
    assert lines[0] == "digits-cnn · digits: 10 classes"
    assert lines[1].split() == ["#", "block", "output", "shape", "params"]
    assert lines[3].split() == ["1", "Conv2d", "16,", "3×3,", "pad", "1", "(16,", "8,", "8)", "160"]
    assert lines[-3].split()[:3] == ["9", "Linear", "10"]
    assert lines[-2].startswith("params 9,962 (trainable 9,962) · MACs ")
    assert "training memory at batch 64 ≈" in lines[-2]
    assert lines[-1].startswith("memory by precision at batch 64: fp32 ")  # what bf16 would save


def test_batch_size_option_changes_the_memory_line(capsys):
    assert run_cmd(check, str(TEMPLATE_DIR / "wine_mlp.json"), "--batch-size", "512") == 0
    assert "training memory at batch 512" in capsys.readouterr().out


def test_model_errors_exit_1_with_every_error(tmp_path, capsys):
    path = write(tmp_path, {"data": {"name": "digits"}, "model": {"blocks": [
        {"type": "Conv2d", "out_channels": 8, "kernel_size": 3},
        {"type": "Linear", "out_features": 10},
    ]}})
    assert run_cmd(check, path) == 1
    out = capsys.readouterr()
    assert out.err.splitlines() == [f"{path}: block 2 (Linear) got (8, 6, 6) but needs (features,) or "
                                    "(sequence, features) — insert Flatten before block 2"]
    assert "error" in out.out  # the table still shows where it broke


def test_wrong_number_of_classes_is_an_error(tmp_path, capsys):
    path = write(tmp_path, {"data": {"name": "iris"}, "model": {"blocks": [{"type": "Linear", "out_features": 4}]}})
    assert run_cmd(check, path) == 1
    assert capsys.readouterr().err.strip().endswith(
        "block 1 (Linear) outputs 4 values but the dataset has 3 classes — set out_features to 3")


def test_spec_errors_are_listed_one_per_line(tmp_path, capsys):
    path = write(tmp_path, {"data": {"name": "iris", "val_fraction": 2}, "model": {"blocks": [
        {"type": "Lineer", "out_features": 3}]}, "optimiser": {}})
    assert run_cmd(check, path) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: data.val_fraction: must be < 1",
        f"{path}: model.blocks[0].type: unknown block type 'Lineer'; did you mean Linear?",
        f"{path}: optimiser: unknown key; did you mean optimizer?",
    ]


def test_missing_file_bad_json_and_unknown_dataset(tmp_path, capsys):
    assert run_cmd(check, str(tmp_path / "none.json")) == 1
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'none.json'}: file not found: {tmp_path / 'none.json'}"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert run_cmd(check, str(bad)) == 1
    assert "invalid JSON" in capsys.readouterr().err
    path = write(tmp_path, {"data": {"name": "digitz"}, "model": {"blocks": [{"type": "Linear", "out_features": 3}]}})
    assert run_cmd(check, path) == 1
    assert "unknown dataset 'digitz'" in capsys.readouterr().err


def test_export_writes_code_that_loads(tmp_path, capsys):
    out = tmp_path / "net.py"
    assert run_cmd(export, str(TEMPLATE_DIR / "mnist1d_cnn.json"), "--code", str(out), "--class-name", "ConvBase") == 0
    source = out.read_text()
    assert "class ConvBase(nn.Sequential):" in source
    assert "nn.Conv1d(1, 25, kernel_size=5, stride=2, padding=1)" in source


def test_export_of_a_broken_spec_exits_1(tmp_path, capsys):
    path = write(tmp_path, {"data": {"name": "iris"}, "model": {"blocks": [{"type": "Conv1d", "out_channels": 2,
                                                                          "kernel_size": 3}]}})
    assert run_cmd(export, path, "--code", str(tmp_path / "x.py")) == 1
    assert "block 1 (Conv1d) got (4,)" in capsys.readouterr().err
    assert not (tmp_path / "x.py").exists()


@pytest.mark.parametrize("spec,code", [("wine_mlp.json", 0), ("broken.json", 1)])
def test_layerdeck_check_command_on_the_contract_specs(spec, code):
    contract = ROOT.parent / "shared" / "contract" / spec
    if not contract.exists():
        pytest.skip("the shared contract folder is not part of a clone")
    main = "import sys; from engine.cli import main; sys.exit(main(sys.argv[1:]))"  # what `layerdeck` runs
    out = subprocess.run([sys.executable, "-c", main, "check", str(contract)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == code, out.stdout + out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("command", ["check", "export", "train"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_db_is_accepted_before_or_after_every_sub_command(tmp_path, command, where):
    from engine.cli import build_parser

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    extra = ["--code", str(tmp_path / "net.py")] if command == "export" else []
    rest = [command, str(TEMPLATE_DIR / "wine_mlp.json"), *extra]
    argv = ["--db", url, *rest] if where == "before" else [*rest, "--db", url]
    args = build_parser().parse_args(argv)
    assert args.command == command and args.db == url


def test_check_with_db_after_the_command_runs(tmp_path, capsys):
    from engine.cli import main

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert main(["check", str(TEMPLATE_DIR / "wine_mlp.json"), "--db", url]) == 0
    assert capsys.readouterr().err == ""
