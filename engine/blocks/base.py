"""The pieces every block type is made of: parameters, shape errors and the
constructor call that both `build` and the Python export use.

Nothing here imports torch: the GUI palette reads the catalogue before torch
has loaded. torch is imported inside `Call.instantiate` only.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from engine.fixes import Fix

Shape = tuple[int, ...]  # per-sample shape, no batch dimension

PARAM_KINDS = ("int", "float", "bool", "choice", "ints", "int_list", "text")  # text: a folder path


class ShapeError(ValueError):
    """A block cannot take the shape it is given.

    `fix` may contain "{block}", replaced by the block's number when the
    model summary reports it ("insert Flatten before block {block}"); a
    `Fix` (engine.fixes) also carries the edits, for a one-click action.
    """

    def __init__(self, message: str, fix: Fix | str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # one of PARAM_KINDS; 'ints' is an int or a list of `length` ints
    default: Any
    help: str  # one line, shown as the tooltip in the builder
    min: Optional[float] = None
    max: Optional[float] = None
    choices: tuple[str, ...] = ()  # 'choice': the allowed values; 'ints': words allowed besides numbers
    optional: bool = False  # None is allowed (torch's "unset", e.g. stride = kernel_size)
    required: bool = False  # must be written in a spec; `default` is only the palette's suggestion
    length: Optional[int] = None  # for 'ints': how many values a list must hold


@dataclass(frozen=True)
class Call:
    """`func(*args, **kwargs)` where func is "nn.<Name>" or a helper class from
    engine.blocks.modules; args may hold nested Calls (Residual, Recurrent).

    One description serves `build` and the generated Python, so the exported
    class has exactly the built module's parameter names.
    """

    func: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def instantiate(self) -> Any:
        import torch.nn as nn

        from engine.blocks import modules

        if self.func.startswith("nn."):
            cls = getattr(nn, self.func[3:])
        elif self.func.startswith("custom:"):  # a user's block (engine.blocks.custom)
            from engine.blocks.custom import custom_class

            cls = custom_class(self.func[len("custom:"):])
        else:
            cls = getattr(modules, self.func)
        args = [a.instantiate() if isinstance(a, Call) else a for a in self.args]
        return cls(*args, **self.kwargs)


InferFn = Callable[[Shape, dict], Shape]
CallFn = Callable[[Shape, dict], Call]
MacsFn = Callable[[Shape, Shape, dict], int]
LabelFn = Callable[[dict], str]
# A container's merge: (its input shape, its children's output shapes, params) -> its output shape.
CombineFn = Callable[[Shape, list, dict], Shape]

# Keys any block may carry besides its own parameters: they act on the built
# module (engine.model_init), never on its constructor or its shape.
BLOCK_OPTIONS = (
    Param("trainable", "bool", True, "Train this block's weights; false freezes them (and its BatchNorm statistics)."),
    Param("init", "choice", "default", "Weight initialization (seeded by the run's seed); default is torch's own.",
          choices=("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform",
                   "orthogonal", "zeros")),
    Param("package", "text", None, "The Python package that provides this custom block (named when it is missing).",
          optional=True),
)
OPTION_NAMES = tuple(p.name for p in BLOCK_OPTIONS)


@dataclass(frozen=True)
class BlockType:
    type: str
    category: str
    doc: str
    params: tuple[Param, ...]
    container: bool = False
    infer_fn: Optional[InferFn] = field(default=None, repr=False, compare=False)
    call_fn: Optional[CallFn] = field(default=None, repr=False, compare=False)
    macs_fn: Optional[MacsFn] = field(default=None, repr=False, compare=False)
    label_fn: Optional[LabelFn] = field(default=None, repr=False, compare=False)
    # Containers only: "chain" (children one after another) or "parallel" (each child a branch fed
    # the container's input), and how the children's outputs become the container's.
    layout: str = ""
    combine_fn: Optional[CombineFn] = field(default=None, repr=False, compare=False)
    # Custom blocks: the distribution that provides it and "module:Class" for the Python export.
    provider: str = ""
    source: str = ""

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def resolve(self, params: dict) -> dict:
        """Defaults filled in, lists turned into tuples (hashable, what torch expects)."""
        out = {p.name: p.default for p in self.params}
        for k, v in params.items():
            if k == "type" or k in OPTION_NAMES:
                continue
            out[k] = tuple(v) if isinstance(v, list) and k != "blocks" else v
        return out

    def infer(self, in_shape: Shape, params: dict) -> Shape:
        return tuple(self.infer_fn(tuple(in_shape), self.resolve(params)))  # type: ignore[misc]

    def call(self, in_shape: Shape, params: dict) -> Call:
        return self.call_fn(tuple(in_shape), self.resolve(params))  # type: ignore[misc]

    def build(self, in_shape: Shape, params: dict) -> Any:
        """The nn.Module for this block; raises ShapeError when it cannot take in_shape."""
        self.infer(in_shape, params)  # the same checks a summary makes, before torch sees it
        return self.call(in_shape, params).instantiate()

    def macs(self, in_shape: Shape, out_shape: Shape, params: dict) -> int:
        if self.macs_fn is None:
            return 0
        return int(self.macs_fn(tuple(in_shape), tuple(out_shape), self.resolve(params)))

    def label(self, params: dict) -> str:
        return self.label_fn(self.resolve(params)) if self.label_fn else ""

    def combine(self, in_shape: Shape, outs: list, params: dict) -> Shape:
        """A container's output shape from its children's (raises ShapeError naming the misfit)."""
        return tuple(self.combine_fn(tuple(in_shape), [tuple(o) for o in outs], self.resolve(params)))  # type: ignore[misc]


# --- helpers shared by the block definitions ------------------------------------

def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def as_tuple(value: Any, n: int) -> tuple[int, ...]:
    """An 'ints' parameter as n values (3 -> (3, 3))."""
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def times(value: Any) -> str:
    """Kernel sizes for labels: 3 -> "3", (3, 5) -> "3×5"."""
    if isinstance(value, (tuple, list)):
        return "×".join(str(v) for v in value)
    return str(value)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_/]*")


def key_step(key: str) -> str:
    """How a key extends a JSON path: `.kernel_size`, or `[""]` / `["a b"]` for a key that is
    not a plain name, so an empty or odd key still reads as a place in the document."""
    return f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"


def closest(name: str, known) -> list[str]:
    known = list(known)
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return [lowered[name.lower()]]  # only the case differs: "Conv2D" -> "Conv2d", nothing else
    return difflib.get_close_matches(name, known, n=3, cutoff=0.6)


def check_value(p: Param, value: Any) -> str | None:
    """Why `value` does not fit parameter `p`, or None when it does."""
    if value is None:
        return None if p.optional else "must not be empty"
    if p.kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if p.kind == "text":
        return None if isinstance(value, str) else "must be text, e.g. a folder path"
    if p.kind == "choice":
        if value in p.choices:
            return None
        return "must be one of " + ", ".join(repr(c) for c in p.choices)
    if p.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return _range(p, [value])
    if p.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        return _range(p, [value])
    if p.kind == "ints":
        if isinstance(value, str) and value in p.choices:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return _range(p, [value])
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            if p.length is not None and len(value) != p.length:
                return "must be " + ints_forms(p)
            return _range(p, list(value))
        return "must be " + ints_forms(p)
    if p.kind == "int_list":
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            return _range(p, list(value))
        return "must be a non-empty list of whole numbers"
    raise AssertionError(f"unknown parameter kind {p.kind}")


def ints_forms(p: Param) -> str:
    """What an 'ints' parameter takes, in words: "'same', 'valid', a whole number or a list of 2"."""
    words = "".join(f"{c!r}, " for c in p.choices)
    tail = f"a list of {p.length}" if p.length else "a list of them"
    return f"{words}a whole number or {tail}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range(p: Param, values: list) -> str | None:
    for v in values:
        if p.min is not None and v < p.min:
            if p.kind != "float" and p.min == 1:
                return "must be > 0"
            return f"must be >= {_num(p.min)}"
        if p.max is not None and v > p.max:
            return f"must be <= {_num(p.max)}"
    return None
