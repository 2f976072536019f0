"""nn.Modules of the text blocks (engine/blocks/text.py). Re-exported by
engine.blocks.modules, which builds them, and copied verbatim into exported
Python, so each is self-contained: torch and nn (transformers is imported
where it is needed)."""
from __future__ import annotations

import torch
from torch import nn


class PositionalEmbedding(nn.Module):
    """Adds a learned vector per position to (batch, time, features), so attention,
    which is blind to order, can tell the first token from the fifth."""

    def __init__(self, max_length: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_length, dim))
        nn.init.normal_(self.weight, std=0.02)  # as BERT and GPT-2 start theirs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight[: x.shape[1]]

    def extra_repr(self) -> str:
        return f"max_length={self.weight.shape[0]}, dim={self.weight.shape[1]}"


class SequencePool(nn.Module):
    """(batch, time, features) -> (batch, features): the mean or max over time, or the first step."""

    def __init__(self, mode: str = "mean"):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "max":
            return x.max(dim=1).values
        if self.mode == "first":
            return x[:, 0]
        return x.mean(dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class PretrainedTextClassifier(nn.Module):
    """A Hugging Face model for sequence classification from a local folder (never
    downloaded): token ids (batch, time) in, one score per class out. Positions
    holding the tokenizer's padding id are masked from attention."""

    def __init__(self, path: str, num_labels: int):
        super().__init__()
        from transformers import AutoConfig, AutoModelForSequenceClassification

        config = AutoConfig.from_pretrained(path, num_labels=num_labels, local_files_only=True)
        if torch.empty(0).device.type == "meta":  # counting parameters: the structure is enough
            self.model = AutoModelForSequenceClassification.from_config(config)
        else:
            # A head trained for another number of classes (or none) is replaced by a fresh one.
            self.model = AutoModelForSequenceClassification.from_pretrained(
                path, config=config, local_files_only=True, ignore_mismatched_sizes=True)
        self.pad_id = config.pad_token_id if config.pad_token_id is not None else 0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=(ids != self.pad_id).long()).logits
