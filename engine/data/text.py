"""Text classification datasets: a CSV of texts and labels (`text_csv`) and a
generated set of support messages (`messages`), both turned into token ids.

Texts are split first (the same seeded, stratified split as every dataset),
then a tokenizer is trained on the TRAINING texts only with the `tokenizers`
library (WordPiece or BPE, `vocab_size`, `max_length`), so no word of the
validation or test texts shapes the vocabulary. Or, with the `pretrained`
option, the tokenizer of a Hugging Face model folder is used as it is. Every
text becomes `max_length` ids (id 0 pads, id 1 is unknown), kind "tokens",
for an Embedding block or a PretrainedTextClassifier.

The fitted tokenizer travels with the Dataset (`Dataset.tokenizer`, its JSON)
and is saved next to the run's checkpoints (`save_tokenizer`), so predictions
and exports read new texts exactly as training did.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from engine.data.dataset import DataError, Dataset
from engine.data.splits import RawData, build_dataset
from engine.spec import DataSpec

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
SPECIALS = [PAD, UNK, CLS, SEP]  # ids 0..3: PAD first, so id 0 pads as everywhere in LayerDeck
TOKENIZER_FILE = "tokenizer.json"  # next to a run's checkpoints
PRETRAINED_FILE = "tokenizer_source.json"  # a pretrained tokenizer: where it was read from


# --- loaders (before the split: raw texts) ---------------------------------------------

def _read_text_rows(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """A UTF-8 CSV of texts as (rows by column name, header); its delimiter sniffed."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"CSV {path.name}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from None
    try:
        dialect: Any = csv.Sniffer().sniff(raw[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(io.StringIO(raw), dialect=dialect))
    return rows, list(rows[0].keys()) if rows else []


def load_text_csv(data: DataSpec, options: dict[str, Any]) -> RawData:
    from engine.data.files import resolve_path

    path = resolve_path(data, "CSV")
    column = options["text"]
    if not data.target:
        raise DataError("text_csv needs data.target: the column with the labels")
    rows, header = _read_text_rows(path)
    for what, name in (("data.options.text", column), ("data.target", data.target)):
        if name not in header:
            raise DataError(f"CSV {path.name} has no column {name!r} ({what}); its columns: "
                            f"{', '.join(header) or 'none (is the file empty?)'}")
    texts, labels = [], []
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        label = (row.get(data.target) or "").strip()
        if not label:
            raise DataError(f"CSV {path.name} line {i}: the label column {data.target!r} is empty; "
                            "fill it in or remove the line")
        texts.append(row.get(column) or "")
        labels.append(label)
    if len(texts) < 4:
        raise DataError(f"CSV {path.name} has {len(texts)} rows; a text classifier needs at least a few per class")
    names = sorted(set(labels))
    if len(names) < 2:
        raise DataError(f"CSV {path.name}: column {data.target!r} has a single label ({names[0]!r}); "
                        "classification needs two or more")
    index = {n: i for i, n in enumerate(names)}
    return RawData(np.asarray(texts, dtype=object), np.asarray([index[v] for v in labels]),
                   "classification", "tokens", names, title=path.name)


# The generated support messages: each class has its own words; every message
# mixes a few of them with words any message may hold, and sometimes one word
# of another class, so single words mislead now and then.
TOPICS: dict[str, list[str]] = {
    "billing": ["invoice", "charged", "refund", "payment", "card", "bill", "price", "fee", "receipt", "discount",
                "subscription", "overcharged", "credit", "paid", "cost", "vat"],
    "shipping": ["parcel", "delivery", "courier", "tracking", "shipped", "arrived", "package", "address", "late",
                 "warehouse", "postage", "dispatch", "lost", "box", "carrier", "doorstep"],
    "technical": ["crash", "error", "app", "update", "bug", "screen", "login", "slow", "install", "freeze",
                  "reboot", "version", "sync", "button", "loading", "settings"],
    "account": ["password", "username", "email", "profile", "delete", "account", "verify", "reset", "locked",
                "signup", "privacy", "newsletter", "notifications", "name", "phone", "security"],
}
FILLER = ("i my the a an it is was this that please help me with can you hi hello thanks thank still not "
          "again today yesterday since week order need want why how when what there have has been already "
          "just got any some would could should urgent asap team support your our we they".split())


def load_messages(o: dict[str, Any]) -> RawData:
    rng = np.random.default_rng(o["data_seed"])
    names = list(TOPICS)
    n = o["n_samples"]
    y = rng.integers(0, len(names), size=n)
    texts = []
    for label in y:
        words = list(rng.choice(TOPICS[names[label]], size=int(rng.integers(2, 5)), replace=False))
        if rng.random() < o["distractor"]:
            other = names[(label + int(rng.integers(1, len(names)))) % len(names)]
            words.append(str(rng.choice(TOPICS[other])))
        words += list(rng.choice(FILLER, size=int(rng.integers(4, 14))))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + str(rng.choice([".", "!", "?", ""])))
    flip = rng.random(n) < o["noise"]
    y[flip] = (y[flip] + rng.integers(1, len(names), size=int(flip.sum()))) % len(names)
    return RawData(np.asarray(texts, dtype=object), y, "classification", "tokens", names)


# --- after the split: fit the tokenizer on the training texts, encode every split ----------

def build_text_dataset(raw: RawData, data: DataSpec, seed: int, name: str, title: str,
                       options: dict[str, Any]) -> Dataset:
    texts = raw.x
    # Split the row numbers exactly as any dataset is split (seeded, stratified), then read the texts.
    rows = RawData(np.arange(len(texts))[:, None], raw.y, raw.task, "tokens", raw.class_names, title=raw.title)
    split = build_dataset(rows, data, seed, name, title)
    train_texts = [str(texts[i]) for i in split.x_train[:, 0]]
    length = options["max_length"]
    if options["pretrained"]:
        tokenizer_doc, encode = _pretrained(options["pretrained"], length)
    else:
        tok = train_tokenizer(train_texts, options["vocab_size"], options["tokenizer"])
        tokenizer_doc = tok.to_str()
        encode = _encoder(tok, length)

    def ids(part: np.ndarray) -> np.ndarray:
        if len(part) == 0:
            return np.zeros((0, length), np.int64)
        return encode([str(texts[i]) for i in part[:, 0]])

    info = split.info
    from dataclasses import replace

    info = replace(info, input_shape=(length,), feature_names=[f"t{i + 1}" for i in range(length)])
    return Dataset(info, ids(split.x_train), split.y_train, ids(split.x_val), split.y_val,
                   ids(split.x_test), split.y_test, split.normalizer, tokenizer=tokenizer_doc)


def train_tokenizer(texts: list[str], vocab_size: int, model: str = "wordpiece") -> Any:
    """A tokenizer fitted on `texts` only: lower-cased, split on whitespace and
    punctuation, WordPiece (as BERT) or BPE subwords, at most `vocab_size` ids."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    if model == "bpe":
        tok = Tokenizer(models.BPE(unk_token=UNK))
        trainer: Any = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    else:
        tok = Tokenizer(models.WordPiece(unk_token=UNK))
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _encoder(tok: Any, length: int):
    tok.enable_truncation(max_length=length)
    tok.enable_padding(length=length, pad_id=tok.token_to_id(PAD), pad_token=PAD)

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray([e.ids for e in tok.encode_batch(texts)], dtype=np.int64).reshape(len(texts), length)
    return encode


def encode_texts(tokenizer_json: str, texts: list[str], length: int) -> np.ndarray:
    """New texts as a run saw its training texts: the run's tokenizer (its JSON) and max_length."""
    from tokenizers import Tokenizer

    return _encoder(Tokenizer.from_str(tokenizer_json), length)(texts)


# --- pretrained (Hugging Face folder) tokenizers ------------------------------------------

def _pretrained(folder: str, length: int) -> tuple[str, Any]:
    """(what is stored with the run, the encoder) for a model folder's tokenizer. Stored: the
    tokenizer itself when it is a fast one (its `tokenizers` JSON, special tokens included),
    else a document naming the folder."""
    tok = load_pretrained_tokenizer(folder)
    backend = getattr(tok, "backend_tokenizer", None)
    doc = (backend.to_str() if backend is not None
           else json.dumps({"pretrained": str(Path(folder).expanduser().resolve())}))

    def encode(texts: list[str]) -> np.ndarray:
        out = tok(texts, padding="max_length", truncation=True, max_length=length)
        return np.asarray(out["input_ids"], dtype=np.int64).reshape(len(texts), length)
    return doc, encode


def load_pretrained_tokenizer(folder: str) -> Any:
    """The tokenizer saved in a model folder, never downloaded; a folder without
    one says so, naming the folder and the files it looked for."""
    from engine.hf_folder import HOW, ModelFolderError, check_model_folder

    try:
        path = check_model_folder(folder, need_weights=False)
    except ModelFolderError as e:
        raise DataError(f"data.options.pretrained: {e} — {HOW}") from None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as e:
        raise DataError(f"data.options.pretrained: cannot read the tokenizer in {path}: "
                        f"{str(e).splitlines()[0]}") from None


# --- with the run ----------------------------------------------------------------------------

def save_tokenizer(tokenizer_doc: Optional[str], directory: str | Path) -> Optional[Path]:
    """Write a text dataset's tokenizer next to the run's checkpoints (no-op for other data)."""
    if not tokenizer_doc:
        return None
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    name = PRETRAINED_FILE if '"pretrained"' in tokenizer_doc[:40] else TOKENIZER_FILE
    path = folder / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tokenizer_doc, encoding="utf-8")
    tmp.replace(path)
    return path


def read_run_tokenizer(directory: str | Path) -> Optional[str]:
    """The tokenizer document saved by `save_tokenizer` in a run's checkpoint folder, or None."""
    for name in (TOKENIZER_FILE, PRETRAINED_FILE):
        path = Path(directory) / name
        if path.exists():
            return path.read_text(encoding="utf-8")
    return None


def data_for_model(data: DataSpec, blocks: list[Any]) -> DataSpec:
    """A text dataset read by a PretrainedTextClassifier must use that model's tokenizer:
    `options.pretrained` is filled in from the block when empty, and a different folder is refused."""
    first = blocks[0] if blocks else None
    if first is None or getattr(first, "type", None) != "PretrainedTextClassifier":
        return data
    folder = str(first.params.get("path") or "")
    if data.name not in ("text_csv", "messages"):
        raise DataError(f"block 1 PretrainedTextClassifier reads text, but data.name is {data.name!r}; "
                        "use text_csv or messages")
    given = str(data.options.get("pretrained") or "")
    if not given:
        return data.model_copy(update={"options": {**data.options, "pretrained": folder}})
    if Path(given).expanduser().resolve() != Path(folder).expanduser().resolve():
        raise DataError(f"data.options.pretrained is {given} but block 1 PretrainedTextClassifier loads {folder}; "
                        "a model reads ids from its own tokenizer: make them the same folder (or leave "
                        "data.options.pretrained empty)")
    return data


def read_new_texts(pre: Any, path: Path) -> Any:
    """A CSV of new texts for a text run (`layerdeck predict`): its text column read by the
    run's own tokenizer (Preprocessing.extras), with the answers when the label column is there."""
    from engine.data.new_data import NewData, _set_truth

    column, target = pre.extras.get("text_column", "text"), pre.extras.get("label_column") or "label"
    rows, header = _read_text_rows(path)
    if column not in header:
        raise DataError(f"{path.name} has no column {column!r}, which holds the texts this run was trained on; "
                        f"its columns: {', '.join(header) or 'none'}")
    texts = [row.get(column) or "" for row in rows]
    x = encode_texts(pre.extras["tokenizer"], texts, int(pre.input_shape[0]))
    data = NewData(x, [f"row {i + 1} (line {i + 2})" for i in range(len(rows))])
    if target in header:
        _set_truth(pre, data, [(row.get(target) or "").strip() for row in rows])
    return data
