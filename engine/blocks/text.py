"""Text blocks: a learned positional embedding and a pooling step for
Transformer encoders built from blocks, and a pretrained Hugging Face model
from a local folder as one block."""
from __future__ import annotations

from engine.blocks.base import BlockType, Call, Param, Shape, ShapeError

_SEQ = "(sequence, features)"


def _need_sequence(s: Shape, after: str) -> None:
    if len(s) != 2:
        raise ShapeError(f"needs {_SEQ}, got {len(s)} axes",
                         f"put it after {after}" if len(s) == 1 else "insert Flatten with start_dim 2 before "
                         "block {block}")


# --- positional embedding -------------------------------------------------------------

POS_PARAMS = (
    Param("max_length", "int", None, "Longest sequence it has a position for (empty: the input's length).",
          min=1, optional=True),
)


def _pos_infer(s: Shape, p: dict) -> Shape:
    _need_sequence(s, "an Embedding block")
    if p["max_length"] is not None and s[0] > p["max_length"]:
        raise ShapeError(f"the sequence has {s[0]} steps but max_length is {p['max_length']}",
                         f"set max_length to at least {s[0]}, or leave it empty")
    return s


POSITIONAL = BlockType(
    "PositionalEmbedding", "Embedding",
    f"Adds a learned vector per position to {_SEQ}, so attention layers know the order of the tokens "
    "(put it right after Embedding).", POS_PARAMS, infer_fn=_pos_infer,
    call_fn=lambda s, p: Call("PositionalEmbedding", (p["max_length"] or s[0], s[1])),
    macs_fn=lambda s, o, p: 0,
    label_fn=lambda p: f"≤ {p['max_length']} steps" if p["max_length"] else "",
)


# --- pooling over the sequence ------------------------------------------------------------

POOL_PARAMS = (
    Param("mode", "choice", "mean", "mean or max over the steps, or the first step (a [CLS] token's place).",
          choices=("mean", "max", "first")),
)


def _pool_infer(s: Shape, p: dict) -> Shape:
    _need_sequence(s, "a recurrent or attention block")
    return (s[1],)


SEQUENCE_POOL = BlockType(
    "SequencePool", "Pooling", f"Turns {_SEQ} into (features,): the mean or max over the steps, or the first.",
    POOL_PARAMS, infer_fn=_pool_infer, call_fn=lambda s, p: Call("SequencePool", (), _mode_kwargs(p)),
    macs_fn=lambda s, o, p: 0, label_fn=lambda p: p["mode"],
)


def _mode_kwargs(p: dict) -> dict:
    return {} if p["mode"] == "mean" else {"mode": p["mode"]}


# --- a pretrained Hugging Face model -------------------------------------------------------

HF_PARAMS = (
    Param("path", "text", "", "Folder of a Hugging Face model saved with save_pretrained (config, weights, "
          "tokenizer); read from disk, never downloaded. Its tokenizer reads the texts.", required=True),
    Param("num_labels", "int", 2, "Classes to score (a new classification head is trained for them).", min=1,
          required=True),
)


def _hf_infer(s: Shape, p: dict) -> Shape:
    from engine.hf_folder import HOW, ModelFolderError, check_model_folder, max_positions, read_config

    if len(s) != 1:
        raise ShapeError(f"needs token ids (sequence,), got {len(s)} axes",
                         "use it as the first block, on a text dataset (text_csv or messages)")
    if not str(p["path"]).strip():
        raise ShapeError("no model folder chosen", "set path to a folder saved with save_pretrained")
    try:
        folder = check_model_folder(p["path"])
        longest = max_positions(read_config(folder))
    except ModelFolderError as e:
        raise ShapeError(str(e), HOW) from None
    if longest is not None and s[0] > longest:
        raise ShapeError(f"texts of {s[0]} tokens are longer than the model takes ({longest})",
                         f"set data.options.max_length to at most {longest}")
    return (p["num_labels"],)


PRETRAINED = BlockType(
    "PretrainedTextClassifier", "Embedding",
    "A pretrained Hugging Face model (BERT, DistilBERT, ...) from a local folder, with a sequence-classification "
    "head: token ids in, one score per class out; padding is masked. Use it alone, on a text dataset.",
    HF_PARAMS, infer_fn=_hf_infer,
    call_fn=lambda s, p: Call("PretrainedTextClassifier", (p["path"], p["num_labels"])),
    macs_fn=lambda s, o, p: 0,
    label_fn=lambda p: f"{str(p['path']).rstrip('/').rsplit('/', 1)[-1]}, {p['num_labels']} labels",
)

BLOCKS = [POSITIONAL, SEQUENCE_POOL, PRETRAINED]
