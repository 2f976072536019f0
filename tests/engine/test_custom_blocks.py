"""Custom blocks from a real plugin package (tests/plugins/layerdeck_testblocks,
found through its dist-info's entry point by importlib.metadata) and from the
user data directory's blocks folder."""
from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch

from engine.blocks import CATALOGUE, CATEGORIES, check_blocks, default_params, get_block_type
from engine.blocks.custom import GROUP, reload_custom_blocks, user_blocks_dir
from engine.model import build_model, export_python, summarize
from engine.spec import SpecError, parse_spec
from tests.engine.test_export import load_class

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def _forget_plugin() -> None:
    for name in [m for m in sys.modules if m.startswith(("layerdeck_testblocks", "layerdeck_user_blocks_"))]:
        del sys.modules[name]


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    names = reload_custom_blocks()
    yield names
    monkeypatch.undo()
    _forget_plugin()
    reload_custom_blocks()


def test_the_entry_point_is_discovered_and_its_blocks_join_the_palette(plugin):
    assert "testblocks" in [ep.name for ep in entry_points(group=GROUP)]  # importlib.metadata, not a stub
    assert plugin == ["GatedLinear", "ScaledTanh", "TopHalf"]
    bt = get_block_type("GatedLinear")
    assert bt.category == "Custom" and CATEGORIES[-1] == "Custom"
    assert bt.provider == "layerdeck-testblocks"
    assert default_params("GatedLinear") == {"out_features": 16, "package": "layerdeck-testblocks"}
    assert [p.name for p in get_block_type("ScaledTanh").params] == ["scale"]
    assert "torch" in sys.modules  # (the test session has torch; the plugin's own import did not need it)


CASES = [
    ("ScaledTanh", {"scale": 3.0}, (5,)),
    ("ScaledTanh", {}, (2, 3, 4)),
    ("GatedLinear", {"out_features": 6}, (4,)),
    ("GatedLinear", {"out_features": 3}, (7, 5)),
    ("TopHalf", {}, (6, 4, 4)),
]


@pytest.mark.parametrize("type_,params,shape", CASES)
def test_custom_shape_and_parameters_match_torch(plugin, type_, params, shape):
    s = summarize([{"type": type_, **params}], shape)
    assert s.valid, s.errors
    module = build_model([{"type": type_, **params}], shape)
    out = module(torch.randn(2, *shape))
    assert tuple(out.shape[1:]) == s.output_shape
    assert s.total_params == sum(p.numel() for p in module.parameters())


def test_a_module_that_refuses_a_shape_is_reported_by_the_meta_run(plugin):
    s = summarize([{"type": "TopHalf"}], (8,))
    assert s.errors == ["block 1 (TopHalf) got (8,): TopHalf cannot take (8,) (TopHalf needs (batch, channels, "
                        "height, width), got (2, 8))"]
    assert summarize([{"type": "GatedLinear", "out_features": 0}], (4,)).errors == [
        "block 1 (GatedLinear): out_features must be > 0"]


def test_custom_blocks_are_used_by_name_in_specs_and_exported_as_imports(plugin, tmp_path):
    blocks = [{"type": "GatedLinear", "out_features": 8, "package": "layerdeck-testblocks"},
              {"type": "ScaledTanh", "scale": 1.5},
              {"type": "Branch", "merge": "add", "blocks": [{"type": "GatedLinear", "out_features": 3},
                                                           {"type": "Linear", "out_features": 3}]}]
    spec = parse_spec({"model": {"blocks": blocks}})
    source = export_python(spec.model, (4,))
    assert "from layerdeck_testblocks.modules import GatedLinear\n" in source
    assert "from layerdeck_testblocks.modules import ScaledTanh\n" in source
    assert "GatedLinear(in_features=4, out_features=8)," in source
    torch.manual_seed(0)
    built = build_model(spec.model, (4,)).eval()
    exported = load_class(source, tmp_path)().eval()
    exported.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.allclose(built(x), exported(x))


def test_a_run_trains_with_a_custom_block(plugin, tmp_path):
    from engine.training import train

    spec = parse_spec({"name": "custom", "data": {"name": "iris"},
                       "model": {"blocks": [{"type": "GatedLinear", "out_features": 16}, {"type": "ScaledTanh"},
                                            {"type": "Linear", "out_features": 3}]},
                       "training": {"epochs": 2, "batch_size": 16, "device": "cpu"}})
    result = train(spec, checkpoint_dir=tmp_path)
    assert result.status == "completed", result.error


def test_a_spec_naming_a_block_that_is_not_installed_says_which_package():
    reload_custom_blocks()  # no plugin on sys.path
    with pytest.raises(SpecError) as e:
        parse_spec({"model": {"blocks": [{"type": "GatedLinear", "out_features": 8,
                                          "package": "layerdeck-testblocks"}]}})
    assert e.value.errors == ["model.blocks[0].type: block type 'GatedLinear' is not installed; it comes from the "
                              "Python package layerdeck-testblocks (pip install layerdeck-testblocks)"]
    assert check_blocks([{"type": "GatedLinaer"}], "b") == [
        "b[0].type: unknown block type 'GatedLinaer'; see the block palette for known types"]


def test_a_module_in_the_user_blocks_folder_becomes_a_block(tmp_path):
    folder = user_blocks_dir()  # under the test's own HOME (tests/conftest.py)
    assert str(folder).startswith(str(Path.home()))
    folder.mkdir(parents=True)
    (folder / "myblocks.py").write_text(
        "from torch import nn\n\n"
        "class Doubler(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return 2 * x\n\n"
        "LAYERDECK_BLOCKS = [{'type': 'Doubler', 'class': Doubler, 'doc': 'Twice the input.', 'params': []}]\n")
    (folder / "broken.py").write_text("LAYERDECK_BLOCKS = [{'type': 'Broken'}]\n")  # no class: refused in words
    try:
        assert reload_custom_blocks() == ["Doubler"]
        assert "Doubler" in CATALOGUE and "Broken" not in CATALOGUE
        s = summarize([{"type": "Doubler"}], (3,))
        assert s.valid and s.output_shape == (3,)
        assert default_params("Doubler") == {}  # nothing to install: it lives in the folder
        source = export_python([{"type": "Doubler"}], (3,))
        assert f"from myblocks import Doubler  # blocks folder ({folder / 'myblocks.py'})" in source
        with pytest.raises(SpecError, match="custom blocks that failed to load: .*broken.py.*Broken: 'class'"):
            parse_spec({"model": {"blocks": [{"type": "Broken"}]}})
    finally:
        _forget_plugin()
        for f in folder.iterdir():
            f.unlink()
        reload_custom_blocks()
