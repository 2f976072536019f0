"""Dataset previews loaded off the UI thread, latest request wins.

`load_preview` is a plain function (tested without a GUI): it loads the
dataset through engine.data and keeps only what the page draws — a few
samples in their original units, class counts, the split sizes. Loading can
take seconds (mnist1d is generated, image folders are decoded), so
`PreviewLoader` runs it in the background (app.background) and delivers
only the newest request's result. `CatalogueScanner` fills in the dataset
list's sizes in the background, one dataset at a time, and stops when asked.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.background import Background

log = logging.getLogger(__name__)

MAX_POINTS = 3000  # a scatter of more points than this says nothing new and draws slower
TABLE_ROWS = 60


@dataclass(frozen=True)
class PreviewData:
    """What the page shows for one (DataSpec, seed); `error` set means nothing loaded."""

    generation: int
    data: Any  # engine.spec.DataSpec
    seed: int
    info: Any = None  # engine.data.DatasetInfo
    samples: list[tuple[np.ndarray, Any]] = field(default_factory=list)  # (x, class index or targets)
    points: Optional[tuple[np.ndarray, np.ndarray]] = None  # (x (N, F), y (N,) or (N, T)) of training data
    class_counts: dict[str, int] = field(default_factory=dict)
    targets: Optional[np.ndarray] = None  # regression: every first-target value, for the histogram
    error: Optional[str] = None


def load_preview(data: Any, seed: int, generation: int = 0) -> PreviewData:
    """Load `data` (a DataSpec) and pick what the preview draws; errors come back in words."""
    from engine.data import DataError, load_dataset

    try:
        ds = load_dataset(data, seed)
    except DataError as e:
        return PreviewData(generation, data, seed, error=str(e))
    except Exception as e:  # a bug, not the user's file: still words on the page, the traceback in the log
        log.warning("loading %s failed", data.name, exc_info=True)
        return PreviewData(generation, data, seed, error=f"{data.name}: could not load ({type(e).__name__}: {e})")
    info = ds.info
    classification = info.task == "classification"
    n_samples = {"image": 40, "tabular": TABLE_ROWS, "tokens": TABLE_ROWS}.get(info.kind, 0)
    if info.kind in ("sequence", "signal"):
        n_samples = min(20, max(8, 2 * (info.num_classes or 0))) if classification else 8
    samples = ds.preview(n_samples) if n_samples else []
    points = None
    if info.kind == "points" or (info.kind == "tabular" and len(info.input_shape) == 1 and info.input_shape[0] <= 2):
        x = ds.x_train[:MAX_POINTS]
        if ds.normalizer is not None:
            x = ds.normalizer.invert(x)
        points = (np.asarray(x).reshape(len(x), -1), np.asarray(ds.y_train[:MAX_POINTS]))
    counts = ds.class_counts() if classification else {}
    targets = None
    if not classification:
        ys = [y.reshape(len(y), -1)[:, 0] for y in (ds.y_train, ds.y_val, ds.y_test) if len(y)]
        targets = np.concatenate(ys).astype(np.float64) if ys else np.zeros(0)
    return PreviewData(generation, data, seed, info, samples, points, counts, targets)


def stats_text(info: Any) -> str:
    """The dataset list's short line: "1797 · 10 cls" or "442 · regr."."""
    total = sum(int(v) for v in info.sizes.values())
    if info.task == "classification":
        return f"{total} · {info.num_classes} cls"
    return f"{total} · regr."


def scan_one(name: str, stop: threading.Event) -> Optional[tuple[str, str]]:
    """(name, stats text) of one built-in dataset; None when stopped or it cannot load."""
    if stop.is_set():
        return None
    from engine.data import dataset_info
    from engine.spec import DataSpec

    try:
        info = dataset_info(DataSpec(name=name), 0)
    except Exception:  # a dataset that cannot load shows no size; choosing it says why
        log.info("scanning %s failed", name, exc_info=True)
        return None
    return None if stop.is_set() else (name, stats_text(info))


class PreviewLoader(QObject):
    """request() as often as the form changes; ready() fires for the newest request only."""

    ready = Signal(object)
    """The preview of the latest request is loaded (payload: PreviewData, maybe with error)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._background = Background(self, latest_only=True, name="layerdeck-preview")
        self._generation = 0

    def latest_generation(self) -> int:
        return self._generation

    def request(self, data: Any, seed: int) -> int:
        self._generation += 1
        generation = self._generation
        self._background.submit(lambda: load_preview(data, seed, generation), self.ready.emit)
        return generation

    def pending(self) -> bool:
        """True while the latest request has no result yet."""
        return self._background.pending()

    def wait(self, msecs: int = -1) -> bool:
        return self._background.wait(msecs)


class CatalogueScanner(QObject):
    """Sizes and class counts of the built-in datasets, for the list's second column."""

    found = Signal(str, str)
    """One dataset's stats are known (payload: name, text such as "150 · 3 cls")."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._background = Background(self, name="layerdeck-scan")
        self._stop = threading.Event()
        self._started = False

    def start(self, names: list[str]) -> None:
        if self._started or not names:
            return
        self._started = True
        stop = self._stop
        for name in names:  # one job each, in order: stopping drops the rest
            self._background.submit(lambda name=name: scan_one(name, stop), self._on_scanned)

    @property
    def stop_event(self) -> threading.Event:
        """Set it to stop the scan (usable after this object is gone)."""
        return self._stop

    def stop(self) -> None:
        """Finish the dataset in hand and stop (closing the page waits only for that one)."""
        self._stop.set()
        self._background.clear()

    def wait(self, msecs: int = -1) -> bool:
        return self._background.wait(msecs)

    def _on_scanned(self, result: Optional[tuple[str, str]]) -> None:
        if result is not None:
            self.found.emit(*result)
