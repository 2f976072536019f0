"""Linear, convolution, pooling and normalization blocks: shape rules, MAC
estimates and constructor calls (input sizes filled in from the shape)."""
from __future__ import annotations

import math

from engine import fixes
from engine.blocks.base import BlockType, Call, Param, Shape, ShapeError, as_tuple, prod, times
from engine.fixes import Fix

# Words torch's Conv1d/Conv2d take for `padding` besides numbers (not ConvTranspose, not pooling).
PADDING_WORDS = ("same", "valid")


def kwargs_changed(params: tuple[Param, ...], p: dict, names: tuple[str, ...]) -> dict:
    """The named arguments that differ from torch's defaults, so generated code stays short."""
    defaults = {q.name: q.default for q in params}
    return {n: p[n] for n in names if p[n] != defaults[n]}


def _flat_fix(shape: Shape, dims: int) -> Fix | str | None:
    """How to turn a flat vector into (channels, *spatial) for a conv layer."""
    n = shape[0]
    if dims == 1:
        return fixes.insert_before("Unflatten", f"insert Unflatten with unflattened_size [1, {n}] "
                                   "before block {block}", unflattened_size=[1, n])
    side = round(n ** 0.5)
    if n < 16:  # a handful of features is a table, not an image
        return ("use Linear for feature vectors, or insert Unflatten before block {block} "
                "to make (channels, height, width)")
    if side * side == n:
        return fixes.insert_before("Unflatten", f"insert Unflatten with unflattened_size [1, {side}, {side}] "
                                   "before block {block}", unflattened_size=[1, side, side])
    return "insert Unflatten before block {block} to make (channels, height, width)"


def need_rank(shape: Shape, ranks: tuple[int, ...], wants: str, fix: Fix | str | None = None) -> None:
    if len(shape) not in ranks:
        raise ShapeError(f"needs {wants}", fix)


def _window(length: int, k: int, s: int, p: int, d: int, ceil: bool = False, what: str = "kernel") -> int:
    span = length + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= length + p:
        out -= 1  # torch drops a last window that would start inside the right padding
    if out < 1:  # with ceil_mode a window may hang over the end, as in torch (kernel 3 on 2 values gives 1)
        raise ShapeError(f"input length {length} is smaller than the {what} ({d * (k - 1) + 1} with dilation)",
                         "use a smaller kernel_size or more padding" + ("" if ceil or what != "window" else
                                                                        ", or set ceil_mode"))
    return out


# --- Linear ---------------------------------------------------------------------

LINEAR_PARAMS = (
    Param("out_features", "int", 64, "Number of output values.", min=1, required=True),
    Param("bias", "bool", True, "Learn an additive bias."),
)


def _linear_infer(s: Shape, p: dict) -> Shape:
    need_rank(s, (1, 2), "(features,) or (sequence, features)", fixes.insert_before("Flatten"))
    return s[:-1] + (p["out_features"],)


def _linear_call(s: Shape, p: dict) -> Call:
    return Call("nn.Linear", (s[-1], p["out_features"]), kwargs_changed(LINEAR_PARAMS, p, ("bias",)))


LINEAR = BlockType(
    "Linear", "Linear", "Fully connected layer: y = xWᵀ + b on the last dimension.", LINEAR_PARAMS,
    infer_fn=_linear_infer, call_fn=_linear_call,
    macs_fn=lambda s, o, p: prod(s) * p["out_features"],
    label_fn=lambda p: str(p["out_features"]),
)


# --- Convolution ----------------------------------------------------------------

def _conv_params(dims: int, transpose: bool = False) -> tuple[Param, ...]:
    ps = [
        Param("out_channels", "int", 16, "Number of output channels (filters).", min=1, required=True),
        Param("kernel_size", "ints", 3, "Size of the sliding window.", min=1, required=True, length=dims),
        Param("stride", "ints", 1, "Step between windows.", min=1, length=dims),
    ]
    if transpose:  # torch's ConvTranspose takes numbers only
        ps.append(Param("padding", "ints", 0, "Zeros added on each side of the input.", min=0, length=dims))
        ps.append(Param("output_padding", "ints", 0, "Extra size added to one side of the output.", min=0, length=dims))
    else:
        ps.append(Param("padding", "ints", 0, "Zeros added on each side: a number, or 'same' to keep the size "
                        "(stride 1 only), 'valid' for none.", min=0, length=dims, choices=PADDING_WORDS))
    ps += [
        Param("dilation", "ints", 1, "Spacing between kernel elements.", min=1, length=dims),
        Param("groups", "int", 1, "Split channels into this many independent groups.", min=1),
        Param("bias", "bool", True, "Learn an additive bias."),
    ]
    return tuple(ps)


def _conv_type(name: str, dims: int, transpose: bool = False) -> BlockType:
    params = _conv_params(dims, transpose)
    wants = "(channels, length)" if dims == 1 else "(channels, height, width)"

    def infer(s: Shape, p: dict) -> Shape:
        fix = _flat_fix(s, dims) if len(s) == 1 else (
            fixes.set_param("type", "Conv2d", "use Conv2d for images") if dims == 1 and len(s) == 3 else None)
        need_rank(s, (dims + 1,), wants, fix)
        c, g = s[0], p["groups"]
        if c % g or p["out_channels"] % g:
            raise ShapeError(f"groups={g} must divide both the {c} input channels and out_channels={p['out_channels']}",
                             fixes.set_param("groups", fixes.divisor_at_most(math.gcd(c, p["out_channels"]), g)))
        k, st, d = (as_tuple(p[n], dims) for n in ("kernel_size", "stride", "dilation"))
        if p["padding"] == "same":
            if st != (1,) * dims:
                raise ShapeError(f"padding 'same' keeps the size only with stride 1, not stride {times(p['stride'])}",
                                 "use stride 1 with padding 'same', or give padding as numbers")
            return (p["out_channels"],) + tuple(s[1:])  # torch pads d·(k-1) in all, the odd one on the right
        pad = as_tuple(0 if p["padding"] == "valid" else p["padding"], dims)
        if transpose:
            op = as_tuple(p["output_padding"], dims)
            if any(o >= max(a, b) for o, a, b in zip(op, st, d)):
                raise ShapeError("output_padding must be smaller than stride or dilation", "lower output_padding")
            out = tuple((n - 1) * a - 2 * q + b * (kk - 1) + o + 1
                        for n, a, q, b, kk, o in zip(s[1:], st, pad, d, k, op))
            if min(out) < 1:
                raise ShapeError(f"output would be {out}", "use less padding")
        else:
            out = tuple(_window(n, kk, a, q, b) for n, kk, a, q, b in zip(s[1:], k, st, pad, d))
        return (p["out_channels"],) + out

    def call(s: Shape, p: dict) -> Call:
        names = tuple(q.name for q in params if q.name not in ("out_channels", "kernel_size"))
        kw = {"kernel_size": p["kernel_size"], **kwargs_changed(params, p, names)}
        return Call(f"nn.{name}", (s[0], p["out_channels"]), kw)

    def macs(s: Shape, o: Shape, p: dict) -> int:
        k = prod(as_tuple(p["kernel_size"], dims))
        if transpose:  # every input element scatters a kernel-sized patch into each output channel of its group
            return prod(s) * (o[0] // p["groups"]) * k
        return prod(o) * (s[0] // p["groups"]) * k

    def label(p: dict) -> str:
        out = f"{p['out_channels']}, {times(as_tuple(p['kernel_size'], dims))}"
        if p["stride"] not in (1, (1,) * dims):
            out += f", stride {times(p['stride'])}"
        if p["padding"] not in (0, (0,) * dims, "valid"):  # 'valid' is no padding, like 0
            out += f", pad {times(p['padding'])}"
        return out

    kind = "Transposed convolution (upsampling)" if transpose else f"{dims}-D convolution"
    doc = f"{kind} over {wants}; in_channels comes from the input."
    return BlockType(name, "Convolution", doc, params, infer_fn=infer, call_fn=call, macs_fn=macs, label_fn=label)


# --- Pooling --------------------------------------------------------------------

def _pool_type(name: str, dims: int, op: str) -> BlockType:
    wants = "(channels, length)" if dims == 1 else "(channels, height, width)"
    params = [
        Param("kernel_size", "ints", 2, "Size of the pooling window.", min=1, required=True, length=dims),
        Param("stride", "ints", None, "Step between windows (empty = kernel_size).", min=1, optional=True, length=dims),
        Param("padding", "ints", 0, "Padding on each side (at most half the kernel).", min=0, length=dims),
    ]
    if op == "max":
        params.append(Param("dilation", "ints", 1, "Spacing between window elements.", min=1, length=dims))
    params.append(Param("ceil_mode", "bool", False, "Round the output size up instead of down."))
    if op == "avg":
        params.append(Param("count_include_pad", "bool", True, "Count padded zeros in the average."))
    params_t = tuple(params)

    def infer(s: Shape, p: dict) -> Shape:
        need_rank(s, (dims + 1,), wants, _flat_fix(s, dims) if len(s) == 1 else None)
        k = as_tuple(p["kernel_size"], dims)
        st = as_tuple(p["stride"] if p["stride"] is not None else p["kernel_size"], dims)
        pad = as_tuple(p["padding"], dims)
        d = as_tuple(p.get("dilation", 1), dims)
        if any(q > kk // 2 for q, kk in zip(pad, k)):
            raise ShapeError(f"padding {times(p['padding'])} is more than half the kernel {times(p['kernel_size'])}",
                             "lower padding")
        return (s[0],) + tuple(_window(n, kk, a, q, b, p["ceil_mode"], "window")
                               for n, kk, a, q, b in zip(s[1:], k, st, pad, d))

    def call(s: Shape, p: dict) -> Call:
        names = tuple(q.name for q in params_t if q.name != "kernel_size")
        return Call(f"nn.{name}", (p["kernel_size"],), kwargs_changed(params_t, p, names))

    doc = f"{'Maximum' if op == 'max' else 'Average'} of each sliding window over {wants}."
    return BlockType(name, "Pooling", doc, params_t, infer_fn=infer, call_fn=call,
                     macs_fn=lambda s, o, p: prod(o) * prod(as_tuple(p["kernel_size"], dims)),
                     label_fn=lambda p: times(as_tuple(p["kernel_size"], dims)))


def _adaptive_type(name: str, dims: int, op: str = "avg") -> BlockType:
    wants = "(channels, length)" if dims == 1 else "(channels, height, width)"
    params = (Param("output_size", "ints", 1, "Output size per spatial dimension, whatever the input size.",
                    min=1, required=True, length=dims),)

    def infer(s: Shape, p: dict) -> Shape:
        need_rank(s, (dims + 1,), wants, _flat_fix(s, dims) if len(s) == 1 else None)
        return (s[0],) + as_tuple(p["output_size"], dims)

    what = "Average" if op == "avg" else "Maximum"
    return BlockType(name, "Pooling", f"{what} pooling to a fixed output size over {wants}.", params,
                     infer_fn=infer, call_fn=lambda s, p: Call(f"nn.{name}", (p["output_size"],)),
                     macs_fn=lambda s, o, p: prod(s),
                     label_fn=lambda p: times(as_tuple(p["output_size"], dims)))


# --- Normalization --------------------------------------------------------------

_EPS = Param("eps", "float", 1e-5, "Added to the variance for numerical stability.", min=0)


def _batchnorm_type(name: str, ranks: tuple[int, ...], wants: str) -> BlockType:
    params = (
        _EPS,
        Param("momentum", "float", 0.1, "How fast the running statistics follow each batch.", min=0, max=1),
        Param("affine", "bool", True, "Learn a scale and shift."),
        Param("track_running_stats", "bool", True, "Keep running statistics for evaluation."),
    )

    def infer(s: Shape, p: dict) -> Shape:
        fix = fixes.set_param("type", "BatchNorm2d", "use BatchNorm2d for images") if (
            name == "BatchNorm1d" and len(s) == 3) else (
            fixes.set_param("type", "BatchNorm1d", "use BatchNorm1d for vectors") if len(s) < 3 else None)
        need_rank(s, ranks, wants, fix)
        return s

    def call(s: Shape, p: dict) -> Call:
        return Call(f"nn.{name}", (s[0],), kwargs_changed(params, p, tuple(q.name for q in params)))

    return BlockType(name, "Normalization", f"Batch normalization per channel of {wants}.", params,
                     infer_fn=infer, call_fn=call, macs_fn=lambda s, o, p: 2 * prod(s), label_fn=lambda p: "")


LAYERNORM_PARAMS = (
    _EPS,
    Param("elementwise_affine", "bool", True, "Learn a scale and shift per feature."),
    Param("bias", "bool", True, "Learn the shift (with elementwise_affine)."),
)


def _layernorm_call(s: Shape, p: dict) -> Call:
    return Call("nn.LayerNorm", (s[-1],), kwargs_changed(LAYERNORM_PARAMS, p, ("eps", "elementwise_affine", "bias")))


LAYERNORM = BlockType(
    "LayerNorm", "Normalization", "Normalizes each sample over its last dimension.", LAYERNORM_PARAMS,
    infer_fn=lambda s, p: s, call_fn=_layernorm_call, macs_fn=lambda s, o, p: 2 * prod(s), label_fn=lambda p: "",
)

GROUPNORM_PARAMS = (
    Param("num_groups", "int", 4, "Channels are split into this many groups, normalized separately.", min=1,
          required=True),
    _EPS,
    Param("affine", "bool", True, "Learn a scale and shift per channel."),
)


def _groupnorm_infer(s: Shape, p: dict) -> Shape:
    if s[0] % p["num_groups"]:
        raise ShapeError(f"num_groups={p['num_groups']} does not divide the {s[0]} channels",
                         fixes.set_param("num_groups", fixes.divisor_at_most(s[0], p["num_groups"])))
    return s


GROUPNORM = BlockType(
    "GroupNorm", "Normalization", "Normalizes groups of channels (works with any batch size).", GROUPNORM_PARAMS,
    infer_fn=_groupnorm_infer,
    call_fn=lambda s, p: Call("nn.GroupNorm", (p["num_groups"], s[0]),
                              kwargs_changed(GROUPNORM_PARAMS, p, ("eps", "affine"))),
    macs_fn=lambda s, o, p: 2 * prod(s), label_fn=lambda p: f"{p['num_groups']} groups",
)


def _instancenorm_type(name: str, dims: int) -> BlockType:
    wants = "(channels, length)" if dims == 1 else "(channels, height, width)"
    params = (
        _EPS,
        Param("momentum", "float", 0.1, "How fast the running statistics follow (with track_running_stats).",
              min=0, max=1),
        Param("affine", "bool", False, "Learn a scale and shift per channel."),
        Param("track_running_stats", "bool", False, "Keep running statistics for evaluation."),
    )

    def infer(s: Shape, p: dict) -> Shape:
        need_rank(s, (dims + 1,), wants, _flat_fix(s, dims) if len(s) == 1 else None)
        if prod(s[1:]) < 2:
            raise ShapeError(f"normalizing each channel over {prod(s[1:])} value needs at least 2 while training",
                             "use GroupNorm or LayerNorm, or keep more positions before this block")
        return s

    def call(s: Shape, p: dict) -> Call:
        return Call(f"nn.{name}", (s[0],), kwargs_changed(params, p, tuple(q.name for q in params)))

    return BlockType(name, "Normalization", f"Normalizes each channel of each sample over {wants} "
                     "(style transfer, small batches).", params, infer_fn=infer, call_fn=call,
                     macs_fn=lambda s, o, p: 2 * prod(s), label_fn=lambda p: "affine" if p["affine"] else "")


BLOCKS = [
    LINEAR,
    _conv_type("Conv1d", 1), _conv_type("Conv2d", 2), _conv_type("ConvTranspose2d", 2, transpose=True),
    _pool_type("MaxPool1d", 1, "max"), _pool_type("MaxPool2d", 2, "max"),
    _pool_type("AvgPool1d", 1, "avg"), _pool_type("AvgPool2d", 2, "avg"),
    _adaptive_type("AdaptiveAvgPool1d", 1), _adaptive_type("AdaptiveAvgPool2d", 2),
    _batchnorm_type("BatchNorm1d", (1, 2), "(features,) or (channels, length)"),
    _batchnorm_type("BatchNorm2d", (3,), "(channels, height, width)"),
    LAYERNORM, GROUPNORM,
    _conv_type("ConvTranspose1d", 1, transpose=True),
    _adaptive_type("AdaptiveMaxPool1d", 1, "max"), _adaptive_type("AdaptiveMaxPool2d", 2, "max"),
    _instancenorm_type("InstanceNorm1d", 1), _instancenorm_type("InstanceNorm2d", 2),
]
