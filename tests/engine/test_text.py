"""Text classification offline: the generated messages set, text CSVs, the
tokenizer fitted on the training split only and saved with the run, the
block-built Transformer template, and a tiny BERT from a local folder."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from engine.data import DataError, get_entry, load_dataset
from engine.data.text import TOKENIZER_FILE, encode_texts, read_run_tokenizer
from engine.model import summarize_spec
from engine.spec import DataSpec, parse_spec
from tests.engine.test_templates import TEMPLATE_DIR
from tests.engine.tiny_bert import make_tiny_bert, shared_tiny_bert


@pytest.fixture
def one_thread():
    """Training in the test process on one thread: on this shared 2-core machine two
    OpenMP threads per process spin against each other (a worker takes its share the same way)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_messages_are_generated_seeded_and_say_so():
    entry = get_entry("messages")
    assert entry.source == "synthetic" and entry.description.startswith("Generated here, not collected")
    spec = DataSpec(name="messages", normalize="none", options={"n_samples": 200, "max_length": 16})
    a, b = load_dataset(spec, 0), load_dataset(spec, 0)
    assert a.info.class_names == ["billing", "shipping", "technical", "account"]
    assert a.x_train.shape == (160, 16) and a.x_train.dtype.kind == "i"
    assert (a.x_train == b.x_train).all()
    other = load_dataset(spec.model_copy(update={"options": {**spec.options, "data_seed": 1}}), 0)
    assert not (other.x_train == a.x_train).all()


def test_the_tokenizer_learns_words_of_the_training_split_only(tmp_path):
    # Each row carries its own made-up word three times: a word of a validation row must not
    # enter the vocabulary, a word of a training row must.
    letters = "bcdfghjklmnpqrstvwxz"
    words = [f"{letters[i % 20]}{letters[(i // 20) % 20]}{letters[i // 400]}qu" for i in range(60)]
    rows = [(f"my parcel {w} {w} {w}" if i % 2 else f"the invoice {w} {w} {w}", "ship" if i % 2 else "bill")
            for i, w in enumerate(words)]
    path = write_csv(tmp_path / "messages.csv", rows)
    data = DataSpec(name="text_csv", path=str(path), target="label", val_fraction=0.25, normalize="none",
                    options={"text": "text", "vocab_size": 8000, "max_length": 8})
    ds = load_dataset(data, 0)
    vocab = json.loads(ds.tokenizer)["model"]["vocab"]
    learned = [w for w in words if w in vocab]
    assert len(learned) == ds.info.sizes["train"] == 45
    assert ds.info.class_names == ["bill", "ship"] and ds.x_val.shape == (15, 8)
    # New text is read with the same tokenizer: known words keep their ids, padding is id 0.
    ids = encode_texts(ds.tokenizer, [f"the invoice {learned[0]}"], 8)
    assert ids[0, 2] == vocab[learned[0]] and ids[0, -1] == 0


def test_bpe_is_the_other_subword_model():
    data = DataSpec(name="messages", normalize="none",
                    options={"n_samples": 200, "max_length": 16, "tokenizer": "bpe", "vocab_size": 200})
    ds = load_dataset(data, 0)
    doc = json.loads(ds.tokenizer)
    assert doc["model"]["type"] == "BPE" and len(doc["model"]["vocab"]) <= 200
    assert int(ds.x_train.max()) < 200 and (ds.x_train[:, -1] == 0).any()  # ids fit the vocabulary; 0 pads


def test_text_csv_names_a_missing_column(tmp_path):
    path = write_csv(tmp_path / "m.csv", [("hi", "a"), ("yo", "b")] * 3, header=("message", "label"))
    data = DataSpec(name="text_csv", path=str(path), target="label")
    with pytest.raises(DataError, match=r"m.csv has no column 'text' \(data.options.text\); its columns: "
                                        r"message, label"):
        load_dataset(data, 0)


def test_a_folder_that_is_not_a_model_is_refused_by_name(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    spec = parse_spec({"data": {"name": "messages", "normalize": "none"}, "model": {"blocks": [
        {"type": "PretrainedTextClassifier", "path": str(folder), "num_labels": 4}]}})
    summary, _ = summarize_spec(spec)
    assert not summary.valid
    assert summary.errors[0] == (f"block 1 (PretrainedTextClassifier) got (64,): {folder} is not a Hugging Face "
                                 "model folder: it has no config.json, no weights (model.safetensors or "
                                 "pytorch_model.bin) and no tokenizer (tokenizer.json or vocab.txt) — choose a "
                                 "folder saved with model.save_pretrained(folder) and "
                                 "tokenizer.save_pretrained(folder)")
    bad = DataSpec(name="messages", normalize="none", options={"pretrained": str(folder)})
    with pytest.raises(DataError, match="data.options.pretrained: .*not-a-model is not a Hugging Face model folder"):
        load_dataset(bad, 0)


def test_the_pretrained_block_reads_ids_from_its_own_folders_tokenizer(tmp_path):
    from engine.data.text import data_for_model

    folder = shared_tiny_bert()
    spec = parse_spec({"data": {"name": "messages", "normalize": "none", "options": {"max_length": 24}},
                       "model": {"blocks": [{"type": "PretrainedTextClassifier", "path": folder, "num_labels": 4}]}})
    assert data_for_model(spec.data, spec.model.blocks).options["pretrained"] == folder
    other = spec.data.model_copy(update={"options": {"pretrained": str(tmp_path)}})
    with pytest.raises(DataError, match="a model reads ids from its own tokenizer"):
        data_for_model(other, spec.model.blocks)


@pytest.mark.slow
def test_the_transformer_template_learns_the_messages(tmp_path, one_thread):
    from engine.training import train

    spec = parse_spec(json.loads((TEMPLATE_DIR / "messages_transformer.json").read_text()))
    assert [b.type for b in spec.model.blocks] == ["Embedding", "PositionalEmbedding", "TransformerEncoderLayer",
                                                   "TransformerEncoderLayer", "SequencePool", "Linear"]
    result = train(spec, checkpoint_dir=tmp_path, device="cpu")
    assert result.status == "completed", result.error
    assert result.final_metrics["val/accuracy"] >= 0.90
    # The tokenizer fitted for this run is saved beside its checkpoints.
    saved = read_run_tokenizer(tmp_path)
    assert saved is not None and (tmp_path / TOKENIZER_FILE).exists() and (tmp_path / "best.pt").exists()
    assert json.loads(saved)["model"]["type"] == "WordPiece"


@pytest.mark.slow
def test_a_tiny_bert_folder_fine_tunes_in_a_worker_and_its_run_completes(tmp_path, db_url, capsys):
    from engine.cli import main
    from engine.runner.paths import checkpoint_dir
    from engine.store import RunStore

    folder = make_tiny_bert(tmp_path / "tiny-bert")
    spec = {"name": "messages-tiny-bert", "data": {"name": "messages", "normalize": "none",
                                                   "options": {"n_samples": 320, "max_length": 24}},
            "model": {"blocks": [{"type": "PretrainedTextClassifier", "path": str(folder), "num_labels": 4}]},
            "optimizer": {"type": "AdamW", "lr": 0.001}, "training": {"epochs": 1, "batch_size": 32, "device": "cpu"}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["train", str(path), "--db", db_url]) == 0, capsys.readouterr().err
    run = RunStore(db_url).list_runs()[0]
    assert run.status == "completed"
    (curve,) = RunStore(db_url).get_curves([run.id], ["train/loss"])
    assert len(curve) == 1  # one epoch, recorded
    saved = read_run_tokenizer(checkpoint_dir(db_url, run.id))
    assert saved is not None and "[CLS]" in saved  # the folder's own tokenizer, kept with the run
    # `layerdeck predict` reads new texts with the tokenizer the run kept.
    new = write_csv(tmp_path / "new.csv", [("my parcel never arrived, tracking says lost", "shipping"),
                                           ("i was charged twice, please refund the payment", "billing")])
    out = tmp_path / "predictions.csv"
    capsys.readouterr()
    assert main(["predict", str(run.id), str(new), "--out", str(out), "--db", db_url]) == 0, capsys.readouterr().err
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["true"] for r in rows] == ["shipping", "billing"]
    assert all(r["predicted"] in ("billing", "shipping", "technical", "account") for r in rows)
    assert all(abs(sum(float(r[f"p({c})"]) for c in ("billing", "shipping", "technical", "account")) - 1) < 1e-4
               for r in rows)


def test_new_texts_that_are_not_utf8_are_refused_with_what_to_do(tmp_path):
    """`layerdeck predict` on a Latin-1 file: a message naming the file, not a UnicodeDecodeError."""
    from types import SimpleNamespace

    import pytest

    from engine.data import DataError
    from engine.data.text import read_new_texts

    path = tmp_path / "new.csv"
    path.write_bytes("text,label\ncafé crème,pos\n".encode("latin-1"))
    with pytest.raises(DataError, match="new.csv: not UTF-8 text .*save the file as UTF-8"):
        read_new_texts(SimpleNamespace(extras={}), path)
