"""The plugin's modules: plain torch.nn.Modules a user might write."""
import torch
from torch import nn


class ScaledTanh(nn.Module):
    def __init__(self, scale: float = 2.0):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) * self.scale


class GatedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.value = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value(x) * torch.sigmoid(self.gate(x))


class TopHalf(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"TopHalf needs (batch, channels, height, width), got {tuple(x.shape)}")
        return x[:, : x.shape[1] // 2]
