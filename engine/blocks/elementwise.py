"""Activations, dropout, reshaping and embedding blocks."""
from __future__ import annotations

from engine import fixes
from engine.blocks.base import BlockType, Call, Param, Shape, ShapeError, fmt_shape, prod
from engine.blocks.layers import kwargs_changed, need_rank


def _same(s: Shape, p: dict) -> Shape:
    return s


def _activation(name: str, doc: str, params: tuple[Param, ...] = (), label: str | None = None) -> BlockType:
    def call(s: Shape, p: dict) -> Call:
        return Call(f"nn.{name}", (), kwargs_changed(params, p, tuple(q.name for q in params)))

    return BlockType(name, "Activation", doc, params, infer_fn=_same, call_fn=call,
                     macs_fn=lambda s, o, p: 0 if name == "Identity" else prod(s),
                     label_fn=(lambda p: f"{label}={p[label]}") if label else (lambda p: ""))


def _softmax_infer(s: Shape, p: dict) -> Shape:
    rank = len(s) + 1  # torch counts the batch dimension
    if not -rank <= p["dim"] < rank:
        raise ShapeError(f"dim={p['dim']} is outside a batch of {fmt_shape(s)} inputs", fixes.set_param("dim", -1))
    if p["dim"] in (0, -rank):
        raise ShapeError("dim=0 is the batch dimension", fixes.set_param("dim", -1, "set dim to -1 (or 1)"))
    return s


SOFTMAX_PARAMS = (Param("dim", "int", -1, "Dimension that sums to 1 (counting the batch as 0; -1 is the last)."),)
SOFTMAX = BlockType(
    "Softmax", "Activation", "Turns scores into probabilities along one dimension (not needed before the loss).",
    SOFTMAX_PARAMS, infer_fn=_softmax_infer,
    call_fn=lambda s, p: Call("nn.Softmax", (), {"dim": p["dim"]}),
    macs_fn=lambda s, o, p: 3 * prod(s), label_fn=lambda p: f"dim={p['dim']}",
)

ACTIVATIONS = [
    _activation("ReLU", "max(0, x): the default choice."),
    _activation("LeakyReLU", "ReLU with a small slope for negative inputs.",
                (Param("negative_slope", "float", 0.01, "Slope for x < 0.", min=0),), "negative_slope"),
    _activation("ELU", "Exponential linear unit: smooth for x < 0.",
                (Param("alpha", "float", 1.0, "Value approached for very negative x (as -alpha).", min=0),), "alpha"),
    _activation("GELU", "Gaussian error linear unit, as in transformers.",
                (Param("approximate", "choice", "none", "Exact ('none') or the faster tanh approximation.",
                       choices=("none", "tanh")),)),
    _activation("SiLU", "x * sigmoid(x) (also called swish)."),
    _activation("Mish", "x * tanh(softplus(x))."),
    _activation("Tanh", "Squashes values to (-1, 1)."),
    _activation("Sigmoid", "Squashes values to (0, 1)."),
    SOFTMAX,
    _activation("Identity", "Passes its input through unchanged (a placeholder)."),
]


# --- Regularization -------------------------------------------------------------

_P = Param("p", "float", 0.5, "Probability of zeroing an element during training.", min=0, max=1)


def _dropout2d_infer(s: Shape, p: dict) -> Shape:
    need_rank(s, (3,), "(channels, height, width)", "use Dropout for vectors and sequences")
    return s


DROPOUTS = [
    BlockType("Dropout", "Regularization", "Zeroes random elements while training; identity when evaluating.", (_P,),
              infer_fn=_same, call_fn=lambda s, p: Call("nn.Dropout", (p["p"],)),
              macs_fn=lambda s, o, p: 0, label_fn=lambda p: f"p={p['p']}"),
    BlockType("Dropout2d", "Regularization",
              "Zeroes whole random channels of (channels, height, width) while training.",
              (_P,), infer_fn=_dropout2d_infer, call_fn=lambda s, p: Call("nn.Dropout2d", (p["p"],)),
              macs_fn=lambda s, o, p: 0, label_fn=lambda p: f"p={p['p']}"),
]


# --- Shape ----------------------------------------------------------------------

FLATTEN_PARAMS = (
    Param("start_dim", "int", 1, "First dimension to flatten (counting the batch as 0)."),
    Param("end_dim", "int", -1, "Last dimension to flatten (-1: the last)."),
)


def _flatten_infer(s: Shape, p: dict) -> Shape:
    batched = (0,) + s  # torch's dimension numbers include the batch
    r = len(batched)
    start, end = (d + r if d < 0 else d for d in (p["start_dim"], p["end_dim"]))
    if not (0 <= start < r and 0 <= end < r):
        raise ShapeError(f"start_dim/end_dim are outside a batch of {fmt_shape(s)} inputs",
                         "use start_dim 1, end_dim -1")
    if start == 0:
        raise ShapeError("start_dim=0 would flatten the batch dimension", fixes.set_param("start_dim", 1))
    if start > end:
        raise ShapeError(f"start_dim ({p['start_dim']}) comes after end_dim ({p['end_dim']})", "swap them")
    out = batched[:start] + (prod(batched[start:end + 1]),) + batched[end + 1:]
    return out[1:]


FLATTEN = BlockType(
    "Flatten", "Shape", "Flattens (channels, height, width) or any shape into one vector per sample.", FLATTEN_PARAMS,
    infer_fn=_flatten_infer,
    call_fn=lambda s, p: Call("nn.Flatten", (), kwargs_changed(FLATTEN_PARAMS, p, ("start_dim", "end_dim"))),
    macs_fn=lambda s, o, p: 0, label_fn=lambda p: "",
)

UNFLATTEN_PARAMS = (
    Param("dim", "int", 1, "Dimension to split (counting the batch as 0)."),
    Param("unflattened_size", "int_list", [1, -1], "New sizes for that dimension; one may be -1 (the rest).",
          min=-1, required=True),
)


def _unflatten_infer(s: Shape, p: dict) -> Shape:
    r = len(s) + 1
    dim = p["dim"] + r if p["dim"] < 0 else p["dim"]
    if not 1 <= dim < r:
        raise ShapeError(f"dim={p['dim']} is not a dimension of {fmt_shape(s)} (the batch is 0)",
                         fixes.set_param("dim", 1))
    n = s[dim - 1]
    sizes = list(p["unflattened_size"])
    if 0 in sizes or sizes.count(-1) > 1:
        raise ShapeError("unflattened_size needs positive sizes and at most one -1", None)
    known = prod(v for v in sizes if v != -1)
    if -1 in sizes:
        if n % known:
            raise ShapeError(f"cannot split {n} values into {sizes}: {n} is not a multiple of {known}",
                             f"use sizes whose product divides {n}")
        sizes[sizes.index(-1)] = n // known
    elif known != n:
        raise ShapeError(f"cannot split {n} values into {sizes} ({known} values)",
                         f"use sizes whose product is {n}, or -1 for one of them")
    return s[:dim - 1] + tuple(sizes) + s[dim:]


UNFLATTEN = BlockType(
    "Unflatten", "Shape", "Splits one dimension into several, e.g. 40 values into (1, 40) for Conv1d.",
    UNFLATTEN_PARAMS, infer_fn=_unflatten_infer,
    call_fn=lambda s, p: Call("nn.Unflatten", (p["dim"], tuple(p["unflattened_size"]))),
    macs_fn=lambda s, o, p: 0, label_fn=lambda p: "×".join(str(v) for v in p["unflattened_size"]),
)


# --- Embedding ------------------------------------------------------------------

EMBEDDING_PARAMS = (
    Param("num_embeddings", "int", 1000, "Vocabulary size: inputs are integer ids below this.", min=1, required=True),
    Param("embedding_dim", "int", 32, "Length of each learned vector.", min=1, required=True),
    Param("padding_idx", "int", None, "An id whose vector stays zero and gets no gradient.", optional=True),
)


def _embedding_infer(s: Shape, p: dict) -> Shape:
    pad = p["padding_idx"]
    if pad is not None and not -p["num_embeddings"] <= pad < p["num_embeddings"]:
        raise ShapeError(f"padding_idx={pad} is not an id below num_embeddings={p['num_embeddings']}", None)
    return s + (p["embedding_dim"],)


EMBEDDING = BlockType(
    "Embedding", "Embedding", "Looks up a learned vector for each integer id (inputs must be whole numbers).",
    EMBEDDING_PARAMS, infer_fn=_embedding_infer,
    call_fn=lambda s, p: Call("nn.Embedding", (p["num_embeddings"], p["embedding_dim"]),
                              kwargs_changed(EMBEDDING_PARAMS, p, ("padding_idx",))),
    macs_fn=lambda s, o, p: 0, label_fn=lambda p: f"{p['num_embeddings']} → {p['embedding_dim']}",
)

# --- More activations and dropouts ----------------------------------------------

def _prelu_infer(s: Shape, p: dict) -> Shape:
    if p["per_channel"] and len(s) == 2:
        raise ShapeError("per-channel slopes read the channel axis, but a (sequence, features) input has features "
                         "last", "set per_channel to false, or insert Permute before block {block}")
    return s


PRELU_PARAMS = (
    Param("per_channel", "bool", False, "One learned slope per channel (axis 0) instead of one for all."),
    Param("slope", "float", 0.25, "Starting slope for x < 0 (torch's `init`)."),
)
PRELU = BlockType(
    "PReLU", "Activation", "ReLU with a learned slope for negative inputs.", PRELU_PARAMS, infer_fn=_prelu_infer,
    call_fn=lambda s, p: Call("nn.PReLU", (), {**({"num_parameters": s[0]} if p["per_channel"] else {}),
                                               **({"init": p["slope"]} if p["slope"] != 0.25 else {})}),
    macs_fn=lambda s, o, p: prod(s), label_fn=lambda p: "per channel" if p["per_channel"] else "",
)


def _hardtanh_infer(s: Shape, p: dict) -> Shape:
    if p["min_val"] >= p["max_val"]:
        raise ShapeError(f"min_val {p['min_val']} must be below max_val {p['max_val']}", "lower min_val")
    return s


HARDTANH_PARAMS = (Param("min_val", "float", -1.0, "Lower clip value."),
                   Param("max_val", "float", 1.0, "Upper clip value."))
HARDTANH = BlockType(
    "Hardtanh", "Activation", "Clips values to [min_val, max_val].", HARDTANH_PARAMS, infer_fn=_hardtanh_infer,
    call_fn=lambda s, p: Call("nn.Hardtanh", (), kwargs_changed(HARDTANH_PARAMS, p, ("min_val", "max_val"))),
    macs_fn=lambda s, o, p: prod(s), label_fn=lambda p: f"[{p['min_val']}, {p['max_val']}]",
)

LOGSOFTMAX = BlockType(
    "LogSoftmax", "Activation", "Log-probabilities along one dimension (pair with an NLL-style loss).",
    SOFTMAX_PARAMS, infer_fn=_softmax_infer,
    call_fn=lambda s, p: Call("nn.LogSoftmax", (), {"dim": p["dim"]}),
    macs_fn=lambda s, o, p: 3 * prod(s), label_fn=lambda p: f"dim={p['dim']}",
)


def _dropout1d_infer(s: Shape, p: dict) -> Shape:
    need_rank(s, (2,), "(channels, length)", "use Dropout for vectors, Dropout2d for images")
    return s


MORE_ACTIVATIONS = [
    PRELU,
    _activation("Softplus", "log(1 + exp(beta·x)) / beta: a smooth ReLU.",
                (Param("beta", "float", 1.0, "Sharpness: larger is closer to ReLU.", min=1e-6),
                 Param("threshold", "float", 20.0, "Above this (times beta) the output is x itself.", min=0)), "beta"),
    _activation("Hardswish", "x · relu6(x + 3) / 6: a cheap swish (MobileNetV3)."),
    HARDTANH,
    LOGSOFTMAX,
]

MORE_DROPOUTS = [
    BlockType("Dropout1d", "Regularization", "Zeroes whole random channels of (channels, length) while training.",
              (_P,), infer_fn=_dropout1d_infer, call_fn=lambda s, p: Call("nn.Dropout1d", (p["p"],)),
              macs_fn=lambda s, o, p: 0, label_fn=lambda p: f"p={p['p']}"),
    BlockType("AlphaDropout", "Regularization", "Dropout that keeps mean and variance (pair with SELU-style nets).",
              (_P,), infer_fn=_same, call_fn=lambda s, p: Call("nn.AlphaDropout", (p["p"],)),
              macs_fn=lambda s, o, p: 0, label_fn=lambda p: f"p={p['p']}"),
]

BLOCKS = [*ACTIVATIONS, *MORE_ACTIVATIONS, *DROPOUTS, *MORE_DROPOUTS, FLATTEN, UNFLATTEN, EMBEDDING]
