"""A Hugging Face model folder on disk (what `save_pretrained` writes): is it
one, and what is missing when it is not. Reads file names and config.json
only, so the builder can ask on every edit; nothing is ever downloaded."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
HOW = "choose a folder saved with model.save_pretrained(folder) and tokenizer.save_pretrained(folder)"


class ModelFolderError(ValueError):
    """A folder that is not a usable model folder; the message names it and what is missing."""


def missing_parts(folder: Path, need_weights: bool = True) -> list[str]:
    """What a model folder lacks, in words ("config.json", "weights (model.safetensors or ...)")."""
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if need_weights and not any((folder / f).is_file() for f in WEIGHT_FILES):
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer (tokenizer.json or vocab.txt)")
    return missing


def check_model_folder(folder: str | Path, need_weights: bool = True) -> Path:
    """The folder, resolved, when it holds a model (and its tokenizer); else ModelFolderError."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise ModelFolderError(f"model folder {path} does not exist; choose the folder a model was saved to")
    if not path.is_dir():
        raise ModelFolderError(f"{path} is a file, not a model folder; choose the folder that holds config.json")
    missing = missing_parts(path, need_weights)
    if missing:
        listed = ", no ".join(missing[:-1]) + (" and no " if len(missing) > 1 else "") + missing[-1]
        raise ModelFolderError(f"{path} is not a Hugging Face model folder: it has no {listed}")
    return path.resolve()


def read_config(folder: str | Path) -> dict[str, Any]:
    try:
        return dict(json.loads((Path(folder).expanduser() / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise ModelFolderError(f"{folder}: config.json cannot be read ({e})") from None


def max_positions(config: dict[str, Any]) -> Optional[int]:
    """The longest sequence the model takes, from its config (BERT-style names)."""
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        if isinstance(config.get(key), int):
            return int(config[key])
    return None


def vocab_size(folder: str | Path, default: int = 2) -> int:
    """Token ids the model at `folder` embeds (config.json's vocab_size)."""
    try:
        return int(read_config(folder).get("vocab_size") or default)
    except (ModelFolderError, TypeError, ValueError):
        return default
