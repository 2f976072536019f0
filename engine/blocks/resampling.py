"""Blocks that change the spatial size without learning anything: Upsample
(the decoder half of a U-Net) and ZeroPad2d."""
from __future__ import annotations

import math

from engine.blocks.base import BlockType, Call, Param, Shape, ShapeError, as_tuple, prod
from engine.blocks.layers import need_rank

UPSAMPLE_PARAMS = (
    Param("scale_factor", "float", 2.0, "Multiplies each spatial size (rounded down).", min=1e-3, required=True),
    Param("mode", "choice", "nearest", "nearest repeats values; bilinear interpolates (images only).",
          choices=("nearest", "bilinear")),
    Param("align_corners", "bool", False, "bilinear: align the corner pixels of input and output."),
)


def _upsample_infer(s: Shape, p: dict) -> Shape:
    if p["mode"] == "bilinear":
        need_rank(s, (3,), "(channels, height, width) for bilinear",
                  "set mode to nearest for (channels, length)" if len(s) == 2 else None)
    else:
        need_rank(s, (2, 3), "(channels, length) or (channels, height, width)", None)
    if p["align_corners"] and p["mode"] != "bilinear":
        raise ShapeError("align_corners applies to bilinear only", "set align_corners to false")
    out = tuple(math.floor(n * p["scale_factor"]) for n in s[1:])
    if min(out) < 1:
        raise ShapeError(f"scale_factor {p['scale_factor']} shrinks {s[1:]} to nothing", "use a larger scale_factor")
    return (s[0],) + out


def _upsample_call(s: Shape, p: dict) -> Call:
    kw: dict = {"scale_factor": float(p["scale_factor"])}
    if p["mode"] != "nearest":
        kw["mode"] = p["mode"]
    if p["align_corners"]:
        kw["align_corners"] = True
    return Call("nn.Upsample", (), kw)


UPSAMPLE = BlockType(
    "Upsample", "Shape", "Enlarges (channels, length) or (channels, height, width) by a scale factor.",
    UPSAMPLE_PARAMS, infer_fn=_upsample_infer, call_fn=_upsample_call,
    macs_fn=lambda s, o, p: prod(o) * (4 if p["mode"] == "bilinear" else 0),
    label_fn=lambda p: f"×{p['scale_factor']:g}, {p['mode']}",
)

ZEROPAD_PARAMS = (
    Param("padding", "ints", 1, "Zeros added: one number for every side, or [left, right, top, bottom].",
          min=0, required=True, length=4),
)


def _zeropad_infer(s: Shape, p: dict) -> Shape:
    need_rank(s, (3,), "(channels, height, width)", None)
    left, right, top, bottom = as_tuple(p["padding"], 4)
    return (s[0], s[1] + top + bottom, s[2] + left + right)


ZEROPAD2D = BlockType(
    "ZeroPad2d", "Shape", "Adds rows and columns of zeros around (channels, height, width).", ZEROPAD_PARAMS,
    infer_fn=_zeropad_infer, call_fn=lambda s, p: Call("nn.ZeroPad2d", (p["padding"],)),
    macs_fn=lambda s, o, p: 0,
    label_fn=lambda p: "×".join(str(v) for v in as_tuple(p["padding"], 4)) if isinstance(p["padding"], tuple)
    else str(p["padding"]),
)

BLOCKS = [UPSAMPLE, ZEROPAD2D]
