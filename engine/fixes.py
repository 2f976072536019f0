"""Fixes the model check suggests, as data: the sentence a user reads
("insert Flatten before block 2") and the edits that carry it out, so the
builder can offer the suggestion as a one-click, undoable action and the CLI
prints the same words.

A block raises `ShapeError(message, fix)` without knowing where it sits;
its `Fix` leaves `path` empty ("the block at fault") and "{block}" in its
text. The model summary binds both to the failing block (`Fix.bind`).
`Fix.apply` is a pure edit of a spec's block list (dicts), no torch, no Qt.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Union

Path = tuple[int, ...]


@dataclass(frozen=True)
class Insert:
    """Put `block` at `path` (before the block that is there now); an empty path: before the block at fault."""

    block: dict[str, Any]
    path: Path = ()
    after: bool = False  # True: after the block at `path` instead of before it


@dataclass(frozen=True)
class SetParam:
    """Set parameter `name` of the block at `path` (empty: the block at fault) to `value`."""

    name: str
    value: Any
    path: Path = ()


Edit = Union[Insert, SetParam]


@dataclass(frozen=True)
class Fix:
    """A suggestion in words plus the edits that make it; `edits` empty: advice only."""

    text: str
    edits: tuple[Edit, ...] = ()

    @property
    def actionable(self) -> bool:
        return bool(self.edits)

    def bind(self, path: Path, number: str) -> "Fix":
        """This fix for the block at `path` (shown as block `number`)."""
        edits = tuple(e if e.path else replace(e, path=tuple(path)) for e in self.edits)
        return Fix(self.text.replace("{block}", number), edits)

    def apply(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A new block list with the edits made; the input is left untouched."""
        out = copy.deepcopy(blocks)
        for e in self.edits:
            if not e.path:
                raise ValueError(f"fix {self.text!r} is not bound to a block")
            siblings = _children(out, e.path[:-1])
            if isinstance(e, Insert):
                at = min(e.path[-1] + (1 if e.after else 0), len(siblings))
                siblings.insert(at, copy.deepcopy(e.block))
            else:
                block = siblings[e.path[-1]]
                if e.value is None:
                    block.pop(e.name, None)
                else:
                    block[e.name] = copy.deepcopy(e.value)
        return out

    def touched(self) -> list[Path]:
        """The blocks the edits made or changed, in their new places: what to select afterwards."""
        out: list[Path] = []
        for e in self.edits:
            if isinstance(e, Insert):
                out.append(e.path[:-1] + (e.path[-1] + (1 if e.after else 0),))
            else:
                out.append(e.path)
        return out


def _children(blocks: list[dict[str, Any]], parent: Path) -> list[dict[str, Any]]:
    items = blocks
    for i in parent:
        items = items[i].setdefault("blocks", [])
    return items


def text_of(fix: "Fix | str | None") -> str | None:
    """The words of a fix, whichever form it was given in."""
    return fix.text if isinstance(fix, Fix) else fix


# --- the suggestions blocks make ----------------------------------------------------

def insert_before(block_type: str, text: str | None = None, **params: Any) -> Fix:
    """Insert a block right before the block at fault ("insert Flatten before block {block}")."""
    return Fix(text or f"insert {block_type} before block {{block}}", (Insert({"type": block_type, **params}),))


def set_param(name: str, value: Any, text: str | None = None) -> Fix:
    """Set one parameter of the block at fault ("set dim to -1")."""
    return Fix(text or f"set {name} to {_words(value)}", (SetParam(name, value),))


def divisor_at_most(n: int, limit: int) -> int:
    """The largest divisor of n that is at most `limit` (1 at worst): the nearest valid groups or heads."""
    return next(d for d in range(max(1, min(n, limit)), 0, -1) if n % d == 0)


def _words(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
