"""Containers: blocks that hold blocks (Sequential, Branch, Residual).

The container API, for the builder and anything else that walks a model:

- A container's BlockType has `container=True`; its spec holds child specs in
  `blocks` (a list of block dicts, containers allowed at any depth).
- `bt.layout` says how the children are wired:
  - "chain": one after another, each fed the previous one's output
    (Sequential, Residual). Child i of block N is numbered "N.i+1".
  - "parallel": every child is one branch fed the container's own input
    (Branch). Child i is branch i+1; a branch of several blocks is a
    Sequential child. Branches are numbered "N.1", "N.2", ...
- `bt.combine(in_shape, child_outs, params)` gives the container's output
  shape from its children's: for a chain `child_outs` is [the last child's
  output] (the input itself when empty), for parallel one shape per branch.
  It raises ShapeError naming the branch, both shapes and the fix; a fix's
  "{block}" is the container's number ("make block {block}.2 output ...").
- Parameters: a container has none of its own; its count is the sum of its
  children's. MACs: its children's plus `merge_macs` (the add or multiply).
- `bt.infer(in_shape, params)` / `bt.call(...)` work on a container whose
  params include `blocks`, exactly like a leaf block (the children are
  checked against the catalogue on the way).

Branch spec: {"type": "Branch", "merge": "concat" | "add" | "multiply",
"dim": 0, "blocks": [...]}; `dim` is the per-sample axis concatenated on
(0 = channels of an image or signal, the features of a vector; -1 = the
features of a sequence). A residual with a projection is a Branch with
merge "add" of a Sequential and a 1×1 Conv2d.
"""
from __future__ import annotations

from engine.blocks.base import BlockType, Call, Param, Shape, ShapeError, fmt_shape, prod

MERGES = ("concat", "add", "multiply")


def children(p: dict) -> list[tuple[BlockType, dict]]:
    """(block type, params) of each child spec in p["blocks"] (dicts or BlockSpecs)."""
    from engine.blocks import get_block_type

    out = []
    for child in p.get("blocks") or []:
        d = child.to_dict() if hasattr(child, "to_dict") else dict(child)
        out.append((get_block_type(d["type"]), {k: v for k, v in d.items() if k != "type"}))
    return out


def child_outputs(layout: str, in_shape: Shape, kids: list[tuple[BlockType, dict]]) -> list[Shape]:
    """What `combine` gets: the chain's last output, or each branch's output."""
    if layout == "parallel":
        return [bt.infer(in_shape, params) for bt, params in kids]
    shape = in_shape
    for bt, params in kids:
        shape = bt.infer(shape, params)
    return [shape]


def child_calls(layout: str, in_shape: Shape, kids: list[tuple[BlockType, dict]]) -> list[Call]:
    calls, shape = [], in_shape
    for bt, params in kids:
        calls.append(bt.call(shape, params))
        if layout != "parallel":
            shape = bt.infer(shape, params)
    return calls


def merge_macs(type_: str, out: Shape, n_children: int, p: dict) -> int:
    """The container's own work beyond its children's: the residual add, the branches' add or product."""
    if type_ == "Residual":
        return prod(out)
    if type_ == "Branch" and p.get("merge") in ("add", "multiply"):
        return prod(out) * max(n_children - 1, 0)
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else ("es" if word.endswith("ch") else "s"))


def _container(name: str, doc: str, params: tuple[Param, ...], layout: str, combine, call_fn, label_fn) -> BlockType:
    def infer(s: Shape, p: dict) -> Shape:
        return tuple(combine(s, child_outputs(layout, s, children(p)), p))

    def macs(s: Shape, o: Shape, p: dict) -> int:
        kids = children(p)
        total, shape = 0, s
        for bt, params in kids:
            out = bt.infer(shape, params)
            total += bt.macs(shape, out, params)
            shape = out if layout != "parallel" else s
        return total + merge_macs(name, o, len(kids), p)

    return BlockType(name, "Containers", doc, params, container=True, infer_fn=infer, call_fn=call_fn,
                     macs_fn=macs, label_fn=label_fn, layout=layout, combine_fn=combine)


# --- Sequential -------------------------------------------------------------------

def _sequential_combine(s: Shape, outs: list[Shape], p: dict) -> Shape:
    return outs[0]


SEQUENTIAL = _container(
    "Sequential", "A chain of blocks used as one block (e.g. one branch of a Branch).", (), "chain",
    _sequential_combine,
    call_fn=lambda s, p: Call("nn.Sequential", tuple(child_calls("chain", s, children(p)))),
    label_fn=lambda p: _plural(len(p.get("blocks") or []), "block"),
)


# --- Residual ---------------------------------------------------------------------

def _residual_combine(s: Shape, outs: list[Shape], p: dict) -> Shape:
    if outs[0] != s:
        raise ShapeError(f"its blocks turn {fmt_shape(s)} into {fmt_shape(outs[0])}, but a residual adds its "
                         "input to that, so the shapes must match",
                         f"make the last block inside block {{block}} output {fmt_shape(s)}")
    return s


RESIDUAL = _container(
    "Residual", "Adds its input to the output of the blocks inside (x + f(x)); shapes must match.", (), "chain",
    _residual_combine,
    call_fn=lambda s, p: Call("Residual", tuple(child_calls("chain", s, children(p)))),
    label_fn=lambda p: _plural(len(p.get("blocks") or []), "block"),
)


# --- Branch -----------------------------------------------------------------------

BRANCH_PARAMS = (
    Param("merge", "choice", "concat", "How the branches' outputs become one: concat, add or multiply.",
          choices=MERGES),
    Param("dim", "int", 0, "Axis to concatenate on, batch not counted: 0 = channels (features of a vector), "
          "-1 = the last (features of a sequence)."),
)


def _axis(dim: int, shape: Shape) -> int:
    n = len(shape)
    if not -n <= dim < n:
        raise ShapeError(f"dim={dim} is not an axis of the branches' output {fmt_shape(shape)} "
                         f"(axes 0..{n - 1}, or -1 for the last)", "set dim to 0 (channels) or -1 (features)")
    return dim % n


def _branch_combine(s: Shape, outs: list[Shape], p: dict) -> Shape:
    if not outs:
        raise ShapeError("has no branches", "add a branch to block {block}, or remove it")
    first, merge = outs[0], p["merge"]
    if merge != "concat":  # elementwise, as torch broadcasts: equal sizes, or 1 repeated to match
        out = first
        for i, o in enumerate(outs[1:], start=2):
            if len(o) != len(first) or any(a != b and 1 not in (a, b) for a, b in zip(o, out)):
                raise ShapeError(f"branch {i} outputs {fmt_shape(o)} but branch 1 outputs {fmt_shape(first)}; "
                                 f"{merge} needs equal shapes (or size 1 on an axis, repeated to match)",
                                 f"make block {{block}}.{i} output {fmt_shape(first)}, or merge with concat")
            out = tuple(max(a, b) for a, b in zip(out, o))
        return out
    axis = _axis(p["dim"], first)
    for i, o in enumerate(outs[1:], start=2):
        if len(o) != len(first):
            raise ShapeError(f"branch {i} outputs {fmt_shape(o)} but branch 1 outputs {fmt_shape(first)}; "
                             "concat needs outputs with the same number of axes",
                             f"make block {{block}}.{i} output {len(first)} axes like branch 1")
        others = [k for k in range(len(first)) if k != axis and o[k] != first[k]]
        if others:
            want = "(" + ", ".join("any" if k == axis else str(first[k]) for k in range(len(first))) + ")"
            raise ShapeError(f"branch {i} outputs {fmt_shape(o)} but branch 1 outputs {fmt_shape(first)}; "
                             f"concat on dim {p['dim']} needs every other axis equal",
                             f"make block {{block}}.{i} output {want} "
                             "(e.g. change its stride or padding), or set dim to the axis that differs")
    return first[:axis] + (sum(o[axis] for o in outs),) + first[axis + 1:]


def _branch_call(s: Shape, p: dict) -> Call:
    dim = p["dim"] + 1 if p["dim"] >= 0 else p["dim"]  # the module counts the batch axis
    return Call("Branch", tuple(child_calls("parallel", s, children(p))), {"merge": p["merge"], "dim": dim})


def _branch_label(p: dict) -> str:
    n = len(p.get("blocks") or [])
    what = f"concat dim {p['dim']}" if p["merge"] == "concat" else p["merge"]
    return f"{what}, {_plural(n, 'branch')}"


BRANCH = _container(
    "Branch", "Feeds its input to every branch and merges their outputs (concat, add or multiply).",
    BRANCH_PARAMS, "parallel", _branch_combine, call_fn=_branch_call, label_fn=_branch_label,
)

BLOCKS = [SEQUENTIAL, BRANCH, RESIDUAL]
