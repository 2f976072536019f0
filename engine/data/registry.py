"""The dataset registry: name -> entry (what a picker shows) and loader.

Listing imports nothing heavy; sklearn, mnist1d and Pillow load only when a
dataset of theirs is loaded.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from engine.data import bundled, cache, files, synthetic, text
from engine.data.dataset import DataError, Dataset, DatasetEntry, DatasetInfo
from engine.data.splits import RawData, build_dataset
from engine.spec import DataSpec

Scalar = Union[int, float, str, bool]


@dataclass(frozen=True)
class Option:
    """One dataset option, enough for the GUI to build a spin box or a combo."""

    default: Scalar
    help: str
    low: Optional[float] = None
    high: Optional[float] = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Registered:
    entry: DatasetEntry
    options: dict[str, Option]
    # Bundled and synthetic loaders take the options; file loaders also need the spec.
    load: Callable[[DataSpec, dict[str, Any]], RawData]
    # Text sets split first and fit their tokenizer on the training split (engine/data/text.py).
    build: Optional[Callable[..., Dataset]] = None


def _n(default: int) -> Option:
    return Option(default, "Number of samples to generate.", 20, 1_000_000)


def _noise(default: float, what: str = "Standard deviation of the noise added to each point.") -> Option:
    return Option(default, what, 0.0, 100.0)


_DATA_SEED = Option(0, "Seed of the generator (the run seed only changes splits and training).", 0, 2**31 - 1)
_TASK = Option("auto", "classification or regression; auto decides from the target values.",
               choices=("auto", "classification", "regression"))

_REGISTRY: dict[str, _Registered] = {}


def _add(name: str, title: str, task: str, kind: str, source: str, description: str,
         load: Callable[..., RawData], options: Optional[dict[str, Option]] = None,
         needs: tuple[str, ...] = (), takes_spec: bool = False,
         build: Optional[Callable[..., Dataset]] = None) -> None:
    opts = options or {}
    entry = DatasetEntry(name, title, task, kind, source, description,  # type: ignore[arg-type]
                         {k: o.default for k, o in opts.items()}, needs,
                         {k: o.help for k, o in opts.items()})
    loader = load if takes_spec else (lambda spec, o, _f=load: _f(o))
    _REGISTRY[name] = _Registered(entry, opts, loader, build)


_add("digits", "Digits (8x8)", "classification", "image", "bundled",
     "1,797 handwritten digits as 8x8 grey images (values 0-16), 10 classes; scikit-learn.",
     bundled.load_digits)
_add("mnist1d", "MNIST-1D", "classification", "signal", "bundled",
     "10 digit templates as 40-point 1-D signals, shifted, scaled and noised; 4,000 train / "
     "1,000 test (its own test set). Generated locally by the mnist1d package, cached.",
     bundled.load_mnist1d,
     {"data_seed": Option(42, "Generator seed (42 is the published dataset).", 0, 2**31 - 1)})
_add("iris", "Iris", "classification", "tabular", "bundled",
     "150 iris flowers, 4 measurements, 3 species; scikit-learn.", bundled.load_iris)
_add("wine", "Wine", "classification", "tabular", "bundled",
     "178 wines, 13 chemical measurements, 3 cultivars; scikit-learn.", bundled.load_wine)
_add("breast_cancer", "Breast cancer (Wisconsin)", "classification", "tabular", "bundled",
     "569 tumours, 30 cell-nucleus features, malignant or benign; scikit-learn.",
     bundled.load_breast_cancer)
_add("diabetes", "Diabetes", "regression", "tabular", "bundled",
     "442 patients, 10 baseline variables; target: disease progression after one year; scikit-learn.",
     bundled.load_diabetes)

_add("moons", "Two moons", "classification", "points", "synthetic",
     "Two interleaving half circles in 2-D.", synthetic.load_moons,
     {"n_samples": _n(1000), "noise": _noise(0.1), "data_seed": _DATA_SEED})
_add("circles", "Circles", "classification", "points", "synthetic",
     "A small circle inside a large one in 2-D.", synthetic.load_circles,
     {"n_samples": _n(1000), "noise": _noise(0.05),
      "factor": Option(0.5, "Inner radius as a share of the outer one.", 0.01, 0.99),
      "data_seed": _DATA_SEED})
_add("spirals", "Spirals", "classification", "points", "synthetic",
     "Interleaved spiral arms in 2-D, one class per arm; needs a non-linear model.",
     synthetic.load_spirals,
     {"n_samples": _n(1000), "noise": _noise(0.2, "Noise, as a share of a tenth of the spiral radius."),
      "arms": Option(2, "Number of arms (classes).", 2, 10), "data_seed": _DATA_SEED})
_add("blobs", "Blobs", "classification", "points", "synthetic",
     "Gaussian clusters in 2-D, one class per cluster.", synthetic.load_blobs,
     {"n_samples": _n(1000), "noise": _noise(1.0, "Standard deviation of each cluster."),
      "centers": Option(3, "Number of clusters (classes).", 2, 50), "data_seed": _DATA_SEED})
_add("curve", "Sine curve", "regression", "points", "synthetic",
     "y = sin(x) + noise for x in [-3, 3]: one input, one target.", synthetic.load_curve,
     {"n_samples": _n(500), "noise": _noise(0.1), "data_seed": _DATA_SEED})
_add("sequence", "Running sum", "classification", "sequence", "synthetic",
     "Sequences of noisy random steps, shaped (steps, 1); class: does the running sum end "
     "above zero? A task for RNN, LSTM and GRU blocks.", synthetic.load_sequence,
     {"n_samples": _n(2000), "noise": _noise(0.1, "Noise on each observed step (steps have std 1)."),
      "length": Option(20, "Steps per sequence.", 2, 10_000), "data_seed": _DATA_SEED})
_add("tokens", "Token order", "classification", "tokens", "synthetic",
     "Sequences of integer token ids, shaped (steps,), for an Embedding block: each holds one "
     "token 1 and one token 2 among random filler ids (3 and up; 0 is never used, so it can be "
     "a padding id). Class: does token 1 come before token 2? A task for Embedding followed by "
     "RNN, LSTM or GRU blocks. Ids are never normalized.", synthetic.load_tokens,
     {"n_samples": _n(2000),
      "noise": Option(0.0, "Share of labels flipped at random (0 to 0.5).", 0.0, 0.5),
      "length": Option(20, "Tokens per sequence.", 2, 10_000),
      "vocab_size": Option(30, "Number of token ids (0 to vocab_size - 1); set Embedding's "
                           "num_embeddings to at least this.", 4, 1_000_000),
      "data_seed": _DATA_SEED})

_add("regression", "Wide regression", "regression", "tabular", "synthetic",
     "scikit-learn's make_regression: a linear target of n_features inputs (10 of them informative), "
     "scaled to standard deviation 1, plus noise. Choose the width to try wide MLPs (the classic "
     "1,000-feature recipes).",
     synthetic.load_regression,
     {"n_samples": _n(1000), "n_features": Option(1000, "Input width (features per sample).", 1, 100_000),
      "noise": _noise(0.1, "Noise added to the target, as a share of its spread (the target has "
                             "standard deviation 1 before the noise)."), "data_seed": _DATA_SEED})
_add("classification", "Wide classification", "classification", "tabular", "synthetic",
     "scikit-learn's make_classification: one Gaussian cluster per class on n_informative "
     "dimensions, hidden among n_features inputs. Choose the width and the number of classes.",
     synthetic.load_classification,
     {"n_samples": _n(1000), "n_features": Option(1000, "Input width (features per sample).", 2, 100_000),
      "n_informative": Option(20, "Dimensions that carry the class (at most n_features).", 1, 100_000),
      "n_classes": Option(10, "Number of classes.", 2, 1000), "data_seed": _DATA_SEED})

_add("csv", "CSV file", "classification", "tabular", "file",
     "A table with a header line. Choose the target column; numeric columns are used as they are, "
     "text columns are one-hot encoded. The task is detected from the target (text or a few "
     "integers: classification; other numbers: regression).", files.load_csv,
     {"task": _TASK,
      "delimiter": Option("auto", "Field separator (auto detects , ; tab |).", choices=("auto", ",", ";", "\t", "|")),
      "drop": Option("", "Comma-separated columns to ignore (identifiers, free text)."),
      "missing": Option("error", "Empty cells: error (refuse, with the count per column), drop_rows, or fill "
                        "(median for numbers, most frequent value for text, fitted on the training split).",
                        choices=("error", "drop_rows", "fill"))},
     needs=("path", "target"), takes_spec=True)
_add("npz", "NPZ arrays", "classification", "tabular", "file",
     "A numpy .npz file with arrays x (N, ...) and y (N,) or (N, targets). Integer or text y: "
     "classification (an optional class_names array names them); float y: regression. "
     "x of shape (N, C, H, W) is an image set, (N, T, F) a sequence set.", files.load_npz,
     {"task": _TASK}, needs=("path",), takes_spec=True)
_add("image_folder", "Image folder", "classification", "image", "file",
     "A folder with one subfolder of images per class; images are resized to data.image_size "
     f"(default {files.DEFAULT_IMAGE_SIZE}) and scaled to 0-1, as (channels, height, width).",
     files.load_image_folder,
     {"color": Option("auto", "grayscale, rgb, or auto (grayscale when every image is).",
                      choices=("auto", "grayscale", "rgb"))},
     needs=("path",), takes_spec=True)

_TEXT_OPTIONS = {
    "vocab_size": Option(8000, "Most token ids the tokenizer may use (fitted on the training split); "
                         "set Embedding's num_embeddings to this.", 8, 1_000_000),
    "max_length": Option(64, "Tokens per text: longer texts are cut, shorter ones padded with id 0.", 2, 100_000),
    "tokenizer": Option("wordpiece", "Subword model fitted on the training texts: wordpiece (as BERT) or bpe.",
                        choices=("wordpiece", "bpe")),
    "pretrained": Option("", "A Hugging Face model folder whose own tokenizer to use instead of fitting one "
                         "(for a PretrainedTextClassifier block; filled in from that block when empty)."),
}
_add("text_csv", "Text CSV", "classification", "tokens", "file",
     "A CSV with a text column (options.text) and a label column (data.target). A WordPiece or BPE "
     "tokenizer is fitted on the training split only and saved with the run; each text becomes "
     "max_length token ids for an Embedding block or a pretrained model.",
     text.load_text_csv,
     {"text": Option("text", "The column that holds the texts."), **_TEXT_OPTIONS},
     needs=("path", "target"), takes_spec=True, build=text.build_text_dataset)
_add("messages", "Support messages (generated)", "classification", "tokens", "synthetic",
     "Generated here, not collected: short customer-support messages in 4 classes (billing, shipping, "
     "technical, account). Each is 2-4 words typical of its class (refund, parcel, crash, password, ...) "
     "mixed with 4-13 common words, sometimes one word of another class (options.distractor), in random "
     "order, from a seeded generator, e.g. \"Order could has just can we username i why there want your when "
     "password?\" (account). Tokenized like a text CSV; the preview shows the token ids.",
     text.load_messages,
     {"n_samples": _n(2000),
      "distractor": Option(0.3, "Share of messages that also hold one word of another class.", 0.0, 1.0),
      "noise": Option(0.0, "Share of labels changed to another class at random.", 0.0, 0.9),
      "data_seed": _DATA_SEED, **_TEXT_OPTIONS},
     build=text.build_text_dataset)


def list_datasets() -> list[DatasetEntry]:
    return [r.entry for r in _REGISTRY.values()]


def get_entry(name: str) -> DatasetEntry:
    return _lookup(name).entry


def dataset_options(name: str) -> dict[str, Option]:
    """Each option of a dataset with its default, help, range or choices."""
    return dict(_lookup(name).options)


def load_dataset(data: DataSpec, seed: int = 0) -> Dataset:
    """Load, split and normalize; cached, so a second load is a memory copy.
    Raises DataError (a ValueError) with a message for the user."""
    return _load(data, seed, copy=True)


def dataset_info(data: DataSpec, seed: int = 0) -> DatasetInfo:
    """Shapes, classes and split sizes (loads the dataset once, then cached)."""
    return _load(data, seed, copy=False).info


def _load(data: DataSpec, seed: int, copy: bool) -> Dataset:
    reg = _lookup(data.name)
    options = resolve_options(data.name, data.options)
    stamp = files.fingerprint(data) if reg.entry.source == "file" else ()
    # Augmentation acts on training batches, not on the loaded data: it is no part of the key.
    key = (data.model_dump_json(exclude={"options", "augment"}), tuple(sorted(options.items())), seed, stamp)

    def load() -> Dataset:
        try:
            raw = reg.load(data, options)
        except OSError as e:  # permissions, a file vanishing mid-read: the user's to fix, not a traceback
            raise DataError(f"{data.name}: cannot read {e.filename or data.path} ({e.strerror or e}); "
                            f"check that the file exists and is readable") from None
        if reg.build is not None:
            return reg.build(raw, data, seed, data.name, reg.entry.title, options)
        return build_dataset(raw, data, seed, data.name, reg.entry.title)

    return cache.cached(key, load, copy)


def resolve_options(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, each value checked against its type and range."""
    reg = _lookup(name)
    unknown = sorted(set(given) - set(reg.options))
    if unknown:
        known = ", ".join(reg.options) or "none"
        raise DataError(f"data.options.{unknown[0]}: {name} has no such option (its options: {known})")
    out: dict[str, Any] = {}
    for key, opt in reg.options.items():
        value = given.get(key, opt.default)
        out[key] = _check_option(f"data.options.{key}", value, opt)
    return out


def _check_option(path: str, value: Any, opt: Option) -> Any:
    d = opt.default
    if isinstance(d, bool) or isinstance(d, str):
        if type(value) is not type(d):
            raise DataError(f"{path}: must be {'true or false' if isinstance(d, bool) else 'text'}, got {value!r}")
        if opt.choices and value not in opt.choices:
            raise DataError(f"{path}: must be one of {', '.join(map(repr, opt.choices))}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{path}: must be a number, got {value!r}")
    if isinstance(d, int):
        if float(value) != int(value):
            raise DataError(f"{path}: must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if opt.low is not None and value < opt.low or opt.high is not None and value > opt.high:
        raise DataError(f"{path}: must be between {_num(opt.low)} and {_num(opt.high)}, got {value!r}")
    return value


def _num(v: Optional[float]) -> str:
    return "any" if v is None else f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def _lookup(name: str) -> _Registered:
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise DataError(f"data.name: unknown dataset {name!r}; {hint}known: {', '.join(_REGISTRY)}")
