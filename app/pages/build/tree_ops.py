"""Pure edits of a nested block list (dicts as in a spec's model.blocks).

A block is addressed by its path: a tuple of indices, `(6,)` for the seventh
top-level block and `(6, 0)` for the first block inside it. Every function
returns a new list and leaves its input untouched, so an undo command can keep
the before and after lists as they are.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

Block = dict[str, Any]
Path = tuple[int, ...]


def _children(blocks: list[Block], parent: Path) -> list[Block]:
    """The child list at `parent` inside `blocks` (which must be a private copy)."""
    items = blocks
    for i in parent:
        items = items[i].setdefault("blocks", [])
    return items


def get(blocks: list[Block], path: Path) -> Block:
    items, block = blocks, None
    for i in path:
        block = items[i]
        items = block.get("blocks") or []
    if block is None:
        raise IndexError(path)
    return block


def exists(blocks: list[Block], path: Path) -> bool:
    try:
        get(blocks, path)
    except (IndexError, TypeError):
        return False
    return bool(path)


def walk(blocks: list[Block], parent: Path = ()) -> Iterable[tuple[Path, Block]]:
    """Every block depth-first, in spec order, with its path."""
    for i, b in enumerate(blocks):
        path = parent + (i,)
        yield path, b
        if b.get("blocks") is not None:
            yield from walk(b["blocks"], path)


def insert(blocks: list[Block], parent: Path, row: int, new: list[Block]) -> list[Block]:
    out = copy.deepcopy(blocks)
    items = _children(out, parent)
    row = len(items) if row < 0 or row > len(items) else row
    items[row:row] = copy.deepcopy(new)
    return out


def set_param(blocks: list[Block], path: Path, name: str, value: Any) -> list[Block]:
    out = copy.deepcopy(blocks)
    block = get(out, path)
    if value is None:
        block.pop(name, None)
    else:
        block[name] = value
    return out


def top_level(paths: Iterable[Path]) -> list[Path]:
    """Drop paths that lie inside another selected path; spec order."""
    ps = sorted(set(paths))
    return [p for p in ps if not any(q != p and p[:len(q)] == q for q in ps)]


def remove(blocks: list[Block], paths: Iterable[Path]) -> list[Block]:
    out = copy.deepcopy(blocks)
    # Deepest and last first, so earlier indices stay valid while removing.
    for p in sorted(top_level(paths), reverse=True):
        del _children(out, p[:-1])[p[-1]]
    return out


def move(blocks: list[Block], paths: Iterable[Path], parent: Path, row: int) -> tuple[list[Block], list[Path]]:
    """Move blocks to `row` of `parent`; returns the new list and the moved blocks' new paths."""
    moving = top_level(paths)
    if any(parent[:len(p)] == p for p in moving):
        return copy.deepcopy(blocks), moving  # a container cannot go inside itself
    taken = [copy.deepcopy(get(blocks, p)) for p in moving]
    # Rows removed before the drop point (in the same parent, or in an ancestor of
    # it) shift the drop point up by one each.
    target = list(parent)
    for p in moving:
        depth = len(p) - 1
        if depth < len(parent) and p[:depth] == parent[:depth] and p[depth] < parent[depth]:
            target[depth] -= 1
    if row >= 0:
        row -= sum(1 for p in moving if p[:-1] == parent and p[-1] < row)
    parent_t = tuple(target)
    out = remove(blocks, moving)
    items = _children(out, parent_t)
    row = len(items) if row < 0 or row > len(items) else row
    items[row:row] = taken
    return out, [parent_t + (row + k,) for k in range(len(taken))]


def shift(blocks: list[Block], path: Path, delta: int) -> tuple[list[Block], Path] | None:
    """Move one block up (-1) or down (+1) among its siblings; None at the edge."""
    siblings = _children(copy.deepcopy(blocks), path[:-1])
    j = path[-1] + delta
    if not 0 <= j < len(siblings):
        return None
    out = copy.deepcopy(blocks)
    items = _children(out, path[:-1])
    items[path[-1]], items[j] = items[j], items[path[-1]]
    return out, path[:-1] + (j,)


def duplicate(blocks: list[Block], paths: Iterable[Path]) -> tuple[list[Block], list[Path]]:
    """Copy each selected block right after itself; returns the copies' paths."""
    out = copy.deepcopy(blocks)
    new_paths: list[Path] = []
    for p in sorted(top_level(paths), reverse=True):
        items = _children(out, p[:-1])
        items.insert(p[-1] + 1, copy.deepcopy(items[p[-1]]))
        new_paths = [q if q[:len(p) - 1] != p[:-1] or q[len(p) - 1] <= p[-1] else
                     q[:len(p) - 1] + (q[len(p) - 1] + 1,) + q[len(p):] for q in new_paths]
        new_paths.append(p[:-1] + (p[-1] + 1,))
    return out, sorted(new_paths)


def wrap(blocks: list[Block], paths: Iterable[Path], container: str = "Residual") -> tuple[list[Block], Path] | None:
    """Put sibling blocks into a new container at the first one's place."""
    sel = top_level(paths)
    if not sel or len({p[:-1] for p in sel}) != 1:
        return None  # only siblings can be wrapped together
    parent = sel[0][:-1]
    out = copy.deepcopy(blocks)
    items = _children(out, parent)
    inner = [items[p[-1]] for p in sel]
    for p in reversed(sel):
        del items[p[-1]]
    items.insert(sel[0][-1], {"type": container, "blocks": inner})
    return out, sel[0]


def unwrap(blocks: list[Block], path: Path) -> tuple[list[Block], list[Path]] | None:
    """Replace a container by its children; None when the block holds none."""
    block = get(blocks, path)
    if block.get("blocks") is None:
        return None
    out = copy.deepcopy(blocks)
    items = _children(out, path[:-1])
    inner = items[path[-1]].get("blocks") or []
    items[path[-1]:path[-1] + 1] = inner
    return out, [path[:-1] + (path[-1] + k,) for k in range(len(inner))]
