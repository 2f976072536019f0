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
    """Replace a container by its children; None when the block holds none.

    A Branch gives its branches' blocks one after another (a Sequential branch
    opened up), the inverse of wrap_in_branch for a one-branch Branch."""
    block = get(blocks, path)
    if block.get("blocks") is None:
        return None
    out = copy.deepcopy(blocks)
    items = _children(out, path[:-1])
    inner = items[path[-1]].get("blocks") or []
    if is_branch(block):
        inner = [b for branch in inner for b in (branch.get("blocks") or [] if branch.get("type") == "Sequential"
                                                  else [branch])]
    items[path[-1]:path[-1] + 1] = inner
    return out, [path[:-1] + (path[-1] + k,) for k in range(len(inner))]


# --- branches -----------------------------------------------------------------------
# A Branch's children are its branches: each is one block, or a Sequential of several
# (an empty Sequential passes the input through: an identity branch).

def is_branch(block: Block) -> bool:
    return block.get("type") == "Branch"


def branch_block(branches: list[Block], merge: str = "concat") -> Block:
    """A new Branch holding `branches` (the spec as the issue writes it)."""
    return {"type": "Branch", "merge": merge, "dim": 0, "blocks": copy.deepcopy(branches)}


def as_branch(inner: list[Block]) -> Block:
    """One branch made of `inner`: the block itself when there is one, else a Sequential of them."""
    return copy.deepcopy(inner[0]) if len(inner) == 1 else {"type": "Sequential", "blocks": copy.deepcopy(inner)}


def wrap_in_branch(blocks: list[Block], paths: Iterable[Path]) -> tuple[list[Block], Path] | None:
    """Put sibling blocks into a new Branch as its first branch (add the others with add_branch)."""
    sel = top_level(paths)
    if not sel or len({p[:-1] for p in sel}) != 1:
        return None
    out = copy.deepcopy(blocks)
    items = _children(out, sel[0][:-1])
    inner = [items[p[-1]] for p in sel]
    for p in reversed(sel):
        del items[p[-1]]
    items.insert(sel[0][-1], branch_block([as_branch(inner)]))
    return out, sel[0]


def enclosing_branch(blocks: list[Block], path: Path) -> tuple[Path, int] | None:
    """The innermost Branch that `path` lies in (or is a branch of), and the branch's index."""
    for k in range(len(path) - 1, 0, -1):
        if is_branch(get(blocks, path[:k])):
            return path[:k], path[k]
    return None


def add_branch(blocks: list[Block], path: Path) -> tuple[list[Block], Path] | None:
    """A new, empty branch (identity until blocks go in) at the end of the Branch at or around `path`."""
    if is_branch(get(blocks, path)):
        at = path
    else:
        found = enclosing_branch(blocks, path)
        if found is None:
            return None
        at = found[0]
    out = copy.deepcopy(blocks)
    branches = _children(out, at)
    branches.append({"type": "Sequential", "blocks": []})
    return out, at + (len(branches) - 1,)


def move_to_branch(blocks: list[Block], paths: Iterable[Path], delta: int) -> tuple[list[Block], list[Path]] | None:
    """Move sibling blocks of one branch to the end of the branch `delta` places left or right.

    The target becomes a Sequential if it was a single block; a branch moved as a whole
    leaves an empty (identity) branch behind, so the other branches keep their numbers.
    """
    sel = top_level(paths)
    if not sel or len({p[:-1] for p in sel}) != 1:
        return None
    found = enclosing_branch(blocks, sel[0])
    if found is None:
        return None
    at, i = found
    j = i + delta
    if not 0 <= j < len(get(blocks, at)["blocks"]):
        return None
    out = copy.deepcopy(blocks)
    branches = _children(out, at)
    if branches[j].get("type") != "Sequential":
        branches[j] = {"type": "Sequential", "blocks": [branches[j]]}
    target = branches[j]["blocks"]
    if sel == [at + (i,)]:  # the whole branch
        target.append(branches[i])
        branches[i] = {"type": "Sequential", "blocks": []}
        return out, [at + (j, len(target) - 1)]
    return move(out, sel, at + (j,), -1)
