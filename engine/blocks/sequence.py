"""Recurrent and attention blocks (batch-first, on (sequence, features)), the
Permute block that turns a Conv1d's (channels, length) into the (length,
channels) they read."""
from __future__ import annotations

from engine import fixes
from engine.blocks.base import BlockType, Call, Param, Shape, ShapeError, fmt_shape
from engine.blocks.layers import kwargs_changed, need_rank
from engine.fixes import Fix

_SEQ = "(sequence, features)"


def _seq_fix(s: Shape) -> Fix | None:
    if len(s) == 1:
        return fixes.insert_before("Unflatten", f"insert Unflatten with unflattened_size [{s[0]}, 1] before block "
                                   "{block} (one feature per step)", unflattened_size=[s[0], 1])
    if len(s) == 3:
        return fixes.insert_before("Flatten", "insert Flatten with start_dim 2 before block {block} to make "
                                   "(channels, height·width)", start_dim=2)
    return None


# --- Recurrent ------------------------------------------------------------------

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent_type(name: str) -> BlockType:
    params = [
        Param("hidden_size", "int", 64, "Size of the hidden state.", min=1, required=True),
        Param("num_layers", "int", 1, "Stacked recurrent layers.", min=1),
        Param("bidirectional", "bool", False, "Also read the sequence backwards (doubles the output size)."),
        Param("dropout", "float", 0.0, "Dropout between stacked layers (needs num_layers >= 2).", min=0, max=1),
        Param("bias", "bool", True, "Learn biases."),
        Param("output", "choice", "last", "'last': the final state (hidden·directions); "
              "'sequence': every step (sequence, hidden·directions).", choices=("last", "sequence")),
    ]
    if name == "RNN":
        params.insert(1, Param("nonlinearity", "choice", "tanh", "Activation of the hidden state.",
                               choices=("tanh", "relu")))
    params_t = tuple(params)
    ctor_names = tuple(q.name for q in params_t if q.name not in ("hidden_size", "output"))

    def infer(s: Shape, p: dict) -> Shape:
        need_rank(s, (2,), _SEQ, _seq_fix(s))
        if p["dropout"] > 0 and p["num_layers"] < 2:
            raise ShapeError("dropout only acts between stacked layers",
                             fixes.set_param("dropout", 0.0, "set dropout to 0, or num_layers to 2 or more"))
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        return (width,) if p["output"] == "last" else (s[0], width)

    def call(s: Shape, p: dict) -> Call:
        rnn = Call(f"nn.{name}", (s[1], p["hidden_size"]), {**kwargs_changed(params_t, p, ctor_names),
                                                          "batch_first": True})
        return Call("Recurrent", (rnn,), {"last": p["output"] == "last"})

    def macs(s: Shape, o: Shape, p: dict) -> int:
        h, dirs, g = p["hidden_size"], 2 if p["bidirectional"] else 1, _GATES[name]
        per_step = g * h * (s[1] + h) + g * h * (h * dirs + h) * (p["num_layers"] - 1)
        return s[0] * dirs * per_step

    def label(p: dict) -> str:
        out = f"{p['hidden_size']}, {p['output']}"
        if p["num_layers"] > 1:
            out += f", {p['num_layers']} layers"
        return out + (", bidirectional" if p["bidirectional"] else "")

    doc = {"RNN": "Elman recurrent layer", "GRU": "Gated recurrent unit", "LSTM": "Long short-term memory"}[name]
    return BlockType(name, "Recurrent", f"{doc} over {_SEQ}, batch-first.", params_t,
                     infer_fn=infer, call_fn=call, macs_fn=macs, label_fn=label)


# --- Attention ------------------------------------------------------------------

def _heads_check(s: Shape, heads: int, name: str) -> None:
    need_rank(s, (2,), _SEQ, _seq_fix(s))
    if s[1] % heads:
        d = fixes.divisor_at_most(s[1], heads)
        raise ShapeError(f"the {s[1]} features are not divisible by {name}={heads}",
                         fixes.set_param(name, d, f"set {name} to {d} (a divisor of {s[1]}), "
                                         "or change the layer before"))


def _attention_macs(t: int, e: int) -> int:
    return 4 * t * e * e + 2 * t * t * e  # q, k, v and output projections + scores and weighted sum


MHA_PARAMS = (
    Param("num_heads", "int", 4, "Attention heads; must divide the feature size.", min=1, required=True),
    Param("dropout", "float", 0.0, "Dropout on the attention weights.", min=0, max=1),
    Param("bias", "bool", True, "Learn biases in the projections."),
    Param("causal", "bool", False, "Each step attends only to itself and earlier steps (language models)."),
)


def _mha_infer(s: Shape, p: dict) -> Shape:
    _heads_check(s, p["num_heads"], "num_heads")
    return s


MHA = BlockType(
    "MultiheadAttention", "Attention", f"Multi-head self-attention over {_SEQ} (query = key = value).", MHA_PARAMS,
    infer_fn=_mha_infer,
    call_fn=lambda s, p: Call("SelfAttention", (s[1], p["num_heads"]),
                              {**kwargs_changed(MHA_PARAMS, p, ("dropout", "bias")), "batch_first": True,
                               **({"causal": True} if p["causal"] else {})}),
    macs_fn=lambda s, o, p: _attention_macs(*s),
    label_fn=lambda p: f"{p['num_heads']} heads" + (", causal" if p["causal"] else ""),
)

TEL_PARAMS = (
    Param("nhead", "int", 4, "Attention heads; must divide the feature size.", min=1, required=True),
    Param("dim_feedforward", "int", 2048, "Hidden size of the feed-forward part.", min=1),
    Param("dropout", "float", 0.1, "Dropout after attention and inside the feed-forward part.", min=0, max=1),
    Param("activation", "choice", "relu", "Activation of the feed-forward part.", choices=("relu", "gelu")),
    Param("layer_norm_eps", "float", 1e-5, "LayerNorm epsilon.", min=0),
    Param("norm_first", "bool", False, "Normalize before attention and feed-forward (pre-LN, trains more stably)."),
    Param("bias", "bool", True, "Learn biases in linear and norm layers."),
    Param("causal", "bool", False, "Each step attends only to itself and earlier steps (language models)."),
)


def _tel_infer(s: Shape, p: dict) -> Shape:
    _heads_check(s, p["nhead"], "nhead")
    return s


TRANSFORMER = BlockType(
    "TransformerEncoderLayer", "Attention",
    f"Self-attention plus a feed-forward network, each with a residual connection, over {_SEQ}.", TEL_PARAMS,
    infer_fn=_tel_infer,
    call_fn=lambda s, p: Call("CausalEncoderLayer" if p["causal"] else "nn.TransformerEncoderLayer",
                              (s[1], p["nhead"]), {**kwargs_changed(TEL_PARAMS, p, tuple(
                                  q.name for q in TEL_PARAMS[1:] if q.name != "causal")), "batch_first": True}),
    macs_fn=lambda s, o, p: _attention_macs(*s) + 2 * s[0] * s[1] * p["dim_feedforward"],
    label_fn=lambda p: f"{p['nhead']} heads, ff {p['dim_feedforward']}" + (", causal" if p["causal"] else ""),
)


# --- Shape: axis order ------------------------------------------------------------

PERMUTE_PARAMS = (
    Param("dims", "int_list", [1, 0], "New order of the axes, batch not counted: [1, 0] turns (channels, "
          "length) into (length, channels).", min=0, required=True),
)


def _permute_infer(s: Shape, p: dict) -> Shape:
    dims, n = list(p["dims"]), len(s)
    if sorted(dims) != list(range(n)):
        example = list(range(n))[::-1]
        fix = (f"dims must list each of 0..{n - 1} once, e.g. {example}" if n > 1 else
               "dims must be [0]: a vector has one axis")
        raise ShapeError(f"dims {dims} is not an order of its {n} ax{'is' if n == 1 else 'es'}", fix)
    return tuple(s[d] for d in dims)


PERMUTE = BlockType(
    "Permute", "Shape", "Reorders the axes of each sample, e.g. Conv1d's (channels, length) into (length, channels) "
    "for RNN, LSTM, GRU and attention.", PERMUTE_PARAMS, infer_fn=_permute_infer,
    call_fn=lambda s, p: Call("Permute", tuple(p["dims"])),
    macs_fn=lambda s, o, p: 0, label_fn=lambda p: fmt_shape(tuple(p["dims"])),
)


BLOCKS = [_recurrent_type("RNN"), _recurrent_type("LSTM"), _recurrent_type("GRU"), MHA, TRANSFORMER, PERMUTE]
