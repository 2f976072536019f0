"""Custom blocks: a user's own torch.nn.Module as a palette block.

Where they come from (read once, on the first name the built-in catalogue
does not know, or when the palette asks with `ensure_custom_blocks()`):

- an installed package's entry point in the group `layerdeck.blocks`
  (pyproject: `[project.entry-points."layerdeck.blocks"] myblocks =
  "my_package.blocks:BLOCKS"`), found through importlib.metadata;
- a module in the `blocks` folder of the user data directory
  (~/.local/share/layerdeck/blocks/*.py) that defines `LAYERDECK_BLOCKS`.

Either points at a list of declarations, one dict per block:

    {"type": "ScaledTanh",                       # the name specs use
     "class": "my_package.modules:ScaledTanh",   # or the class itself
     "doc": "tanh(x) * scale",
     "params": [{"name": "scale", "type": "float", "default": 1.0, "help": "Output scale."}],
     "input_arg": "in_features",                 # optional: receives the input's size along
     "input_axis": -1,                           #   this per-sample axis (default -1)
     "shape": None}                              # or f(in_shape, params) -> out_shape

Parameter types are those of built-in blocks (int, float, bool, choice
with "choices", ints, int_list, text); "min"/"max" bound numbers. Without a
shape rule the module is run once on the meta device (no memory, no
compute) to find its output shape. Custom blocks sit under "Custom" in the
palette, build and export like any block (the Python export imports the
class), and a spec naming one that is not installed says which package
provides it when the spec records it (`"package"` on the block, written by
`default_params`) or when an installed plugin failed to load.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

from engine.blocks.base import PARAM_KINDS, BlockType, Call, Param, Shape, ShapeError, fmt_shape

GROUP = "layerdeck.blocks"
CATEGORY = "Custom"
FOLDER_VAR = "LAYERDECK_BLOCKS"  # the name a module in the blocks folder defines


@dataclass(frozen=True)
class CustomBlock:
    """What the catalogue keeps beside a custom block's BlockType."""

    type: str
    cls: Any  # the class, or "module:Class" until first used
    provider: str  # the distribution name, or "blocks folder"
    import_line: str  # how the exported Python gets the class
    input_arg: Optional[str]
    input_axis: int


@dataclass(frozen=True)
class Failure:
    """A plugin that could not be loaded: its blocks' specs are told why."""

    provider: str
    source: str  # entry point name or file
    error: str


_BLOCKS: dict[str, CustomBlock] = {}
_FAILURES: list[Failure] = []
_LOADED = False
_LOCK = threading.RLock()


def user_blocks_dir() -> Path:
    """`<user data dir>/layerdeck/blocks`."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("layerdeck", appauthor=False)) / "blocks"


def ensure_custom_blocks() -> list[str]:
    """Load every custom block into the catalogue (once); returns their names.
    Safe from any thread: a second caller waits until the first has loaded them."""
    with _LOCK:  # another thread that is loading them holds it until every block is in
        if not _LOADED:
            _reload()
        return sorted(_BLOCKS)


def reload_custom_blocks() -> list[str]:
    """Forget and rediscover custom blocks (after installing a plugin, or in tests)."""
    with _LOCK:
        return _reload()


def _reload() -> list[str]:
    global _LOADED
    from engine.blocks import CATALOGUE, CATEGORIES

    for name in _BLOCKS:
        CATALOGUE.pop(name, None)
    _BLOCKS.clear()
    _FAILURES.clear()
    _instance_shape.cache_clear()
    _LOADED = True  # from here on this thread's own lookups (below, and a plugin's) do not reload
    for provider, source, declarations, module_hint in _discover():
        for decl in declarations:
            try:
                bt, block = _block_type(decl, provider, module_hint)
            except (ValueError, TypeError, KeyError) as e:
                what = decl.get("type", "?") if isinstance(decl, dict) else repr(decl)
                _FAILURES.append(Failure(provider, source, f"{what}: {e}"))
                continue
            if bt.type in CATALOGUE:
                _FAILURES.append(Failure(provider, source, f"{bt.type} is already a block; pick another name"))
                continue
            CATALOGUE[bt.type] = bt
            _BLOCKS[bt.type] = block
    if _BLOCKS and CATEGORY not in CATEGORIES:
        CATEGORIES.append(CATEGORY)
    elif not _BLOCKS and CATEGORY in CATEGORIES:
        CATEGORIES.remove(CATEGORY)
    return sorted(_BLOCKS)


def failures() -> list[Failure]:
    return list(_FAILURES)


def missing_hint(name: str, package: Any = None) -> Optional[str]:
    """Why block type `name` is not available, naming the package when known."""
    if isinstance(package, str) and package:
        return (f"block type {name!r} is not installed; it comes from the Python package {package} "
                f"(pip install {package})")
    if _FAILURES:
        broken = "; ".join(f"{f.provider}: {f.error}" for f in _FAILURES)
        return f"block type {name!r} is not available; custom blocks that failed to load: {broken}"
    return None


# --- discovery -------------------------------------------------------------------

def _discover() -> list[tuple[str, str, list, Optional[str]]]:
    """(provider, source, declarations, module name for the import) per plugin."""
    from importlib.metadata import entry_points

    found: list[tuple[str, str, list, Optional[str]]] = []
    for ep in entry_points(group=GROUP):
        provider = ep.dist.name if ep.dist is not None else ep.name
        try:
            declared = ep.load()
            declared = declared() if callable(declared) else declared
            found.append((provider, ep.name, list(declared), ep.module))
        except Exception as e:  # a broken plugin must not take the builder down
            _FAILURES.append(Failure(provider, ep.name, f"{type(e).__name__}: {e}"))
    folder = user_blocks_dir()
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        name = f"layerdeck_user_blocks_{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            declared = getattr(module, FOLDER_VAR)
            found.append((f"blocks folder ({path})", path.stem, list(declared), None))
        except Exception as e:
            _FAILURES.append(Failure(f"blocks folder ({path})", path.stem, f"{type(e).__name__}: {e}"))
    return found


def _param(raw: dict) -> Param:
    kind = raw.get("type", "float")
    if kind not in PARAM_KINDS:
        raise ValueError(f"parameter {raw.get('name')!r} has type {kind!r}; use one of {', '.join(PARAM_KINDS)}")
    return Param(str(raw["name"]), kind, raw.get("default"), str(raw.get("help") or raw["name"]).splitlines()[0],
                 min=raw.get("min"), max=raw.get("max"), choices=tuple(raw.get("choices", ())),
                 optional=raw.get("default") is None, required=bool(raw.get("required", False)),
                 length=raw.get("length"))


def _import_line(cls: Any, provider: str, module_hint: Optional[str]) -> str:
    if isinstance(cls, str):
        module, _, name = cls.partition(":")
        return f"from {module} import {name}"
    module = cls.__module__
    if module.startswith("layerdeck_user_blocks_"):  # a file in the blocks folder: importable by its stem
        return f"from {module[len('layerdeck_user_blocks_'):]} import {cls.__name__}  # {provider}"
    return f"from {module} import {cls.__name__}"


def _block_type(decl: dict, provider: str, module_hint: Optional[str]) -> tuple[BlockType, CustomBlock]:
    if not isinstance(decl, dict):
        raise TypeError("a declaration must be a dict with type, class and params")
    name = str(decl["type"])
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a valid block name (letters, digits, underscores)")
    cls = decl["class"]
    if isinstance(cls, str) and ":" not in cls:
        raise ValueError(f"class {cls!r} must be 'module:Class'")
    params = tuple(_param(p) for p in decl.get("params", ()))
    block = CustomBlock(name, cls, provider, _import_line(cls, provider, module_hint),
                        decl.get("input_arg"), int(decl.get("input_axis", -1)))
    rule: Optional[Callable] = decl.get("shape")

    def infer(s: Shape, p: dict) -> Shape:
        if rule is not None:
            try:
                return tuple(int(d) for d in rule(tuple(s), dict(p)))
            except ShapeError:
                raise
            except (ValueError, TypeError, IndexError) as e:
                raise ShapeError(str(e), None) from None
        return _instance_shape(name, tuple(s), tuple(sorted(p.items())))

    def call(s: Shape, p: dict) -> Call:
        kwargs = {q.name: p[q.name] for q in params}
        if block.input_arg:
            kwargs = {block.input_arg: s[block.input_axis], **kwargs}
        return Call(f"custom:{name}", (), kwargs)

    def label(p: dict) -> str:
        return ", ".join(f"{q.name}={p[q.name]}" for q in params[:2])

    doc = str(decl.get("doc") or f"{name} from {provider}").splitlines()[0]
    bt = BlockType(name, CATEGORY, doc, params, infer_fn=infer, call_fn=call, label_fn=label,
                   macs_fn=decl.get("macs"), provider=provider, source=block.import_line)
    return bt, block


# --- building ----------------------------------------------------------------------

def custom_class(name: str) -> Any:
    """The nn.Module class of custom block `name` (imported on first use)."""
    ensure_custom_blocks()
    block = _BLOCKS[name]
    if isinstance(block.cls, str):
        module, _, attr = block.cls.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        _BLOCKS[name] = block = CustomBlock(block.type, cls, block.provider, block.import_line,
                                            block.input_arg, block.input_axis)
    return block.cls


def class_name(func: str) -> str:
    """How generated code calls a custom block's class: "custom:ScaledTanh" -> its class name."""
    line = _BLOCKS[func[len("custom:"):]].import_line
    return line.split(" import ", 1)[1].split()[0]


def import_line(func: str) -> str:
    return _BLOCKS[func[len("custom:"):]].import_line


@lru_cache(maxsize=1024)
def _instance_shape(name: str, in_shape: Shape, frozen: tuple) -> Shape:
    """No shape rule declared: run the module once on the meta device."""
    import torch

    from engine.blocks import CATALOGUE

    try:
        with torch.device("meta"):
            module = CATALOGUE[name].call(in_shape, dict(frozen)).instantiate()
            out = module(torch.empty((2, *in_shape)))
    except Exception as e:  # whatever the user's module raises, it is a refusal of this shape
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ShapeError(f"{name} cannot take {fmt_shape(in_shape)} ({first})", None) from None
    if not isinstance(out, torch.Tensor):
        raise ShapeError(f"{name} returns {type(out).__name__}, not a tensor", None)
    if out.dim() == 0 or out.shape[0] != 2:
        raise ShapeError(f"{name} changes the batch size", None)
    return tuple(int(d) for d in out.shape[1:])
