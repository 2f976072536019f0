"""Small nn.Modules for blocks that torch.nn has no single class for.

The Python export copies these classes verbatim into the generated file
(inspect.getsource), so keep them self-contained: only `torch` and `nn`.
Imported lazily, only when a model is built.
"""
from __future__ import annotations

import torch
from torch import nn


class Recurrent(nn.Module):
    """A batch-first RNN/LSTM/GRU that returns the output sequence or only the last state."""

    def __init__(self, rnn: nn.RNNBase, last: bool):
        super().__init__()
        self.rnn = rnn
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)
        if not self.last:
            return out  # (batch, time, hidden * directions)
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        # h: (layers * directions, batch, hidden); keep the top layer, both directions.
        directions = 2 if self.rnn.bidirectional else 1
        return torch.cat(list(h[-directions:]), dim=-1)


def causal_mask(x: torch.Tensor) -> torch.Tensor:
    """True above the diagonal: step t may not look at steps after t."""
    steps = x.shape[1]
    return torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)


class SelfAttention(nn.MultiheadAttention):
    """Multi-head self-attention on (batch, time, embed): query = key = value = x.
    causal=True: each step attends to itself and earlier steps only."""

    def __init__(self, *args, causal: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        mask = causal_mask(x) if self.causal else None
        return super().forward(x, x, x, need_weights=False, attn_mask=mask, is_causal=self.causal)[0]


class CausalEncoderLayer(nn.TransformerEncoderLayer):
    """A TransformerEncoderLayer whose attention sees only the current and earlier steps."""

    def forward(self, src: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return super().forward(src, src_mask=causal_mask(src), is_causal=True)


class Residual(nn.Module):
    """x + blocks(x): the blocks must keep the shape of their input."""

    def __init__(self, *blocks: nn.Module):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.blocks(x)


class Branch(nn.Module):
    """Feeds x to every branch and merges their outputs: concatenated along `dim`
    (counting the batch as 0), added or multiplied."""

    def __init__(self, *branches: nn.Module, merge: str = "concat", dim: int = 1):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        if self.merge == "concat":
            return torch.cat(outs, dim=self.dim)
        out = outs[0]
        for other in outs[1:]:
            out = out + other if self.merge == "add" else out * other
        return out

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}, dim={self.dim}"


class Permute(nn.Module):
    """Reorders each sample's axes, the batch axis staying first: Permute(1, 0) turns
    (batch, channels, length) into (batch, length, channels). dims count from 0 after the batch."""

    def __init__(self, *dims: int):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, *(d + 1 for d in self.dims))

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


# The text blocks' modules live beside their block types; built and exported from here like the rest.
from engine.blocks.text_modules import PositionalEmbedding as PositionalEmbedding  # noqa: E402
from engine.blocks.text_modules import PretrainedTextClassifier as PretrainedTextClassifier  # noqa: E402
from engine.blocks.text_modules import SequencePool as SequencePool  # noqa: E402
