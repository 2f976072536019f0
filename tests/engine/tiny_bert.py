"""A tiny randomly initialized BERT saved like a downloaded one (config,
weights, tokenizer via save_pretrained), for the PretrainedTextClassifier
tests. Made once per test process; a few hundred kilobytes."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


def make_tiny_bert(folder: Path, num_labels: int = 4) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from engine.data.text import load_messages, train_tokenizer

    raw = load_messages({"n_samples": 400, "distractor": 0.3, "noise": 0.0, "data_seed": 0})
    tok = train_tokenizer([str(t) for t in raw.x], 300)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    fast = BertTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), unk_token="[UNK]", pad_token="[PAD]",
                             cls_token="[CLS]", sep_token="[SEP]", mask_token="[UNK]")
    fast.save_pretrained(str(folder))
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=0, num_labels=num_labels)
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(str(folder))
    return folder


@functools.lru_cache(maxsize=1)
def shared_tiny_bert() -> str:
    """One tiny BERT folder for the whole test process, removed when the process exits."""
    root = tempfile.mkdtemp(prefix="layerdeck-tiny-bert-")
    atexit.register(shutil.rmtree, root, True)
    return str(make_tiny_bert(Path(root) / "tiny-bert"))
