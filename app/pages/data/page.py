"""The Data page: dataset list and options | preview.

The form describes a candidate DataSpec; every change loads it off the UI
thread (latest request wins). Only a dataset that loads becomes the run's
`spec.data` (through `state.set_spec`), so a broken CSV is reported on the
page in words while the run keeps its last good dataset. The page follows
`state.spec_changed` too: opening a spec file or cloning a run shows its
dataset here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.pages.data.augment_tab import AugmentTab
from app.pages.data.columns_panel import ColumnsPanel
from app.pages.data.dataset_list import DatasetList
from app.pages.data.loader import CatalogueScanner, PreviewData, PreviewLoader, stats_text
from app.pages.data.options import DataOptions, csv_columns
from app.pages.data.preview import ClassBars, SamplePreview
from app.state import AppState
from engine.data import dataset_options, list_datasets
from engine.spec import DataSpec, SpecError, format_loc

ERROR_STYLE = "color: #c82828;"
DEBOUNCE_MS = 150  # arrow-key steps in a spin box coalesce into one load
SHARED_FIELDS = ("val_fraction", "test_fraction", "normalize")  # kept when switching datasets


class DataPage(QWidget):
    preview_shown = Signal()
    """The preview, sizes and message now show the result of the latest request."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("page_data")
        self.state = state
        theme.sync_pyqtgraph()
        self._entries = {e.name: e for e in list_datasets()}
        self._memory: dict[str, DataSpec] = {}  # each dataset's last good settings, this session
        self._name = state.spec.data.name
        self._path: str | None = None
        self._shown: PreviewData | None = None
        self._applying = False
        self._stats_from_load: set[str] = set()

        self.loader = PreviewLoader(self)
        self.scanner = CatalogueScanner(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_from_form)

        # Left: choose and set up.
        self.dataset_list = DatasetList(self._entries.values())
        self.open_button = QPushButton("Open CSV / NPZ / folder…")
        self.open_button.setObjectName("open_data")
        self.open_button.setToolTip("Use your own data: a CSV table, a NumPy .npz file (arrays x and y), "
                                    "or a folder with one subfolder of images per class.")
        menu = QMenu(self.open_button)
        menu.addAction("CSV or NPZ file…", self.open_file_dialog)
        menu.addAction("Image folder…", self.open_folder_dialog)
        self.open_button.setMenu(menu)
        self.options = DataOptions()
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 6, 0)
        lv.addWidget(_caption("Dataset"))
        lv.addWidget(self.dataset_list, 1)  # the list scrolls; the options below stay in view
        lv.addWidget(self.open_button)
        lv.addSpacing(4)
        lv.addWidget(self.options)
        lv.addStretch(0)  # takes what the list (capped at its rows) leaves
        left.setMinimumWidth(280)

        # Right: what it is and what it looks like.
        self.title_label = QLabel()
        self.title_label.setObjectName("data_title")
        font = QFont(self.title_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.description_label = QLabel()
        self.description_label.setObjectName("data_description")
        self.description_label.setWordWrap(True)
        self.info_label = QLabel()
        self.info_label.setObjectName("data_info")
        self.info_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label = QLabel()
        self.error_label.setObjectName("data_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.hide()
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("data_busy")
        self.busy_bar.setRange(0, 0)  # indeterminate: a load has no steps to count
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedSize(120, 10)
        self.busy_label = QLabel()
        busy_row = QHBoxLayout()
        busy_row.setContentsMargins(0, 0, 0, 0)
        busy_row.addWidget(self.info_label, 1)
        busy_row.addWidget(self.busy_label)
        busy_row.addWidget(self.busy_bar)
        self.samples = SamplePreview()
        self.bars = ClassBars()
        plots = QSplitter(Qt.Horizontal)
        plots.addWidget(self.samples)
        plots.addWidget(self.bars)
        plots.setStretchFactor(0, 2)
        plots.setStretchFactor(1, 1)
        plots.setChildrenCollapsible(False)
        plots.setSizes([640, 320])
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        rv.addWidget(self.title_label)
        rv.addWidget(self.description_label)
        rv.addLayout(busy_row)
        rv.addWidget(self.error_label)
        self.augment = AugmentTab()
        self.columns = ColumnsPanel()
        self.tabs = QTabWidget(objectName="data_tabs")
        self.tabs.addTab(plots, "Samples")
        self.tabs.addTab(self.augment, "Augmentation")
        self.tabs.addTab(self.columns, "Columns")
        rv.addWidget(self.tabs, 1)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([290, 990])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

        self.dataset_list.dataset_chosen.connect(self.select_dataset)
        self.options.changed.connect(self._debounce.start)
        self.loader.ready.connect(self._show_result)
        self.augment.changed.connect(self._set_augment)
        self.scanner.found.connect(self._on_scanned)
        state.spec_changed.connect(self._on_spec_changed)
        stop = self.scanner.stop_event
        self.destroyed.connect(lambda *_: stop.set())  # a closing page waits for one dataset, not the list
        self._set_busy(False)
        self._show_form(state.spec.data, state.spec.seed)
        self._request(state.spec.data, state.spec.seed)

    # --- public API ------------------------------------------------------------------
    def current_name(self) -> str:
        """The dataset the form shows (it becomes spec.data once it loads)."""
        return self._name

    def select_dataset(self, name: str) -> None:
        """Choose a dataset by registry name, keeping the split settings."""
        if name not in self._entries:
            return
        current = self.options.values()
        base = self._memory.get(name) or DataSpec(name=name)
        data = self._with_shared(base, current)
        self._show_form(data, current["seed"])
        if self._entries[name].source == "file" and not data.path:
            self._show_needs_file(name)
            return
        self._request(data, current["seed"])

    def open_path(self, path: str) -> None:
        """Use a CSV, NPZ or image folder (what the Open menu does after its dialog)."""
        p = Path(path).expanduser()
        name = "image_folder" if p.is_dir() else "npz" if p.suffix.lower() == ".npz" else "csv"
        current = self.options.values()
        base = self._memory.get(name) or DataSpec(name=name)
        updates: dict[str, Any] = {"path": str(p)}
        if name == "csv":
            columns = csv_columns(str(p), str(base.options.get("delimiter", "auto")))
            keep = base.target if base.path == str(p) and base.target in columns else None
            updates["target"] = keep or (columns[-1] if columns else None)  # the usual layout: label last
        data = self._with_shared(base.model_copy(update=updates), current)
        self._show_form(data, current["seed"])
        self._request(data, current["seed"])

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a CSV or NPZ file", self._start_dir(),
                                              "Data files (*.csv *.tsv *.txt *.npz);;All files (*)")
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an image folder (one subfolder per class)",
                                                self._start_dir())
        if path:
            self.open_path(path)

    def shown(self) -> PreviewData | None:
        """The result on screen (its data is spec.data unless an error is showing)."""
        return self._shown

    # --- form -> candidate -> load ---------------------------------------------------
    def _with_shared(self, base: DataSpec, current: dict[str, Any]) -> DataSpec:
        shared = {k: current[k] for k in SHARED_FIELDS}
        try:
            return DataSpec(**{**base.model_dump(), **shared})
        except ValidationError:
            return base

    def _show_form(self, data: DataSpec, seed: int) -> None:
        self._name, self._path = data.name, data.path
        entry = self._entries.get(data.name)
        if entry is None:
            self._say(f"data.name: unknown dataset {data.name!r}; choose one from the list")
            return
        self.dataset_list.set_current(data.name)
        columns = None
        if data.name == "csv" and data.path:
            columns = csv_columns(data.path, str(data.options.get("delimiter", "auto")))
        self.options.show_spec(data, seed, entry, dataset_options(data.name), columns)
        self.title_label.setText(entry.title)
        where = f"\n{data.path}" if data.path else ""
        self.description_label.setText(entry.description + where)

    def _request_from_form(self) -> None:
        values = self.options.values()
        seed = values.pop("seed")
        entry = self._entries[self._name]
        if self._name == "csv" and self._path:
            self._refresh_columns(values)
        try:
            data = DataSpec(**{"name": self._name, "path": self._path, **values})
        except ValidationError as e:
            self._say(_validation_text(e))
            return
        if entry.source == "file" and not data.path:
            self._show_needs_file(self._name)
            return
        self._request(data, seed)

    def _refresh_columns(self, values: dict[str, Any]) -> None:
        """A changed delimiter changes the columns the target combo offers."""
        columns = csv_columns(self._path or "", str(values["options"].get("delimiter", "auto")))
        shown = [self.options.target.itemData(i) for i in range(self.options.target.count())]
        if columns and columns != shown:
            target = values.get("target") if values.get("target") in columns else columns[-1]
            values["target"] = target
            try:
                data = DataSpec(name="csv", path=self._path, **values)
            except ValidationError:
                return  # the caller reports the same problem
            self._show_form(data, self.options.seed.value())

    def _request(self, data: DataSpec, seed: int) -> None:
        self._set_busy(True, self._entries[data.name].title if data.name in self._entries else data.name)
        self.loader.request(data, seed)

    # --- results ----------------------------------------------------------------------
    def _show_result(self, result: PreviewData) -> None:
        self._set_busy(False)
        self.columns.show_for(result.data)  # a refused CSV too: its missing cells per column
        if result.error:
            # The page describes the dataset the form names; the run keeps the last one that loaded.
            keep = self.state.spec.data
            kept = self._entries[keep.name].title if keep.name in self._entries else keep.name
            tail = "" if result.data == keep else f"\nThe run still uses {kept}."
            self._say(result.error + tail)
            self._show_empty("Nothing to preview: fix the problem above, or choose another dataset.")
            self.preview_shown.emit()
            return
        self._say("")
        self._shown = result
        info, data = result.info, result.data
        self._memory[data.name] = data
        target = data.target or ("class" if info.task == "classification" else "target")
        self.samples.show_result(result, target)
        self.bars.show()
        if info.task == "classification":
            self.bars.set_counts(result.class_counts)
        else:
            self.bars.set_histogram(result.targets, target)
        self.info_label.setText(info_text(info))
        self.augment.show_data(result.samples, info.kind, list(self.state.spec.data.augment), result.seed)
        self.options.set_ids_only(info.kind == "tokens")
        own = bool(info.has_own_test_split)
        self.options.set_own_test_split(own, f"{info.title} has its own test set ({info.sizes.get('test', 0)} "
                                              f"samples); the test fraction does not apply." if own else "")
        entry = self._entries.get(data.name)
        if entry is not None and entry.source == "file":
            self.dataset_list.set_stats(data.name, Path(data.path or "").name)
        else:
            self.dataset_list.set_stats(data.name, stats_text(info))
            self._stats_from_load.add(data.name)
        self._apply(data, result.seed)
        self.scanner.start([n for n, e in self._entries.items() if e.source != "file"])
        self.preview_shown.emit()

    def _apply(self, data: DataSpec, seed: int) -> None:
        spec = self.state.spec
        data = data.model_copy(update={"augment": spec.data.augment})  # the Augmentation tab owns it
        if spec.data == data and spec.seed == seed:
            return
        try:
            new = spec.copy_with(data=data, seed=seed)
        except SpecError:  # another part of the spec does not parse (a half-built model): keep it as is
            new = spec.model_copy(update={"data": data, "seed": seed})
        self._applying = True
        try:
            self.state.set_spec(new)
        finally:
            self._applying = False

    def _set_augment(self, raw: list[dict]) -> None:
        """The Augmentation tab changed data.augment."""
        spec = self.state.spec
        try:
            data = DataSpec.model_validate({**spec.data.model_dump(mode="json"), "augment": raw})
        except ValidationError as e:
            self._say(_validation_text(e))
            return
        new = spec.model_copy(update={"data": data})
        self._applying = True
        try:
            self.state.set_spec(new)
        finally:
            self._applying = False

    def _on_spec_changed(self, spec: Any) -> None:
        if self._applying:
            return
        self.augment.set_transforms(list(spec.data.augment))
        shown = self._shown
        same = spec.data.model_copy(update={"augment": shown.data.augment}) if shown is not None else None
        if shown is not None and shown.data == same and shown.seed == spec.seed and self._name == spec.data.name:
            return
        self._show_form(spec.data, spec.seed)
        if self._entries.get(spec.data.name) is not None:
            self._request(spec.data, spec.seed)

    def _on_scanned(self, name: str, text: str) -> None:
        if name not in self._stats_from_load:
            self.dataset_list.set_stats(name, text)

    # --- bits ---------------------------------------------------------------------------
    def _show_needs_file(self, name: str) -> None:
        self._say("")
        what = "a folder with one subfolder of images per class" if name == "image_folder" else \
            f"a {Path('x.' + name).suffix[1:].upper()} file"
        self._show_empty(f"{self._entries[name].title}: choose {what} with “Open CSV / NPZ / folder…” on the left.")

    def _show_empty(self, text: str) -> None:
        self.info_label.setText("")
        self.samples.show_empty(text)
        self.bars.clear_bars()
        self.bars.hide()  # an empty chart beside an empty state says nothing

    def _say(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _set_busy(self, busy: bool, what: str = "") -> None:
        self.busy_bar.setVisible(busy)
        self.busy_label.setVisible(busy)
        self.busy_label.setText(f"loading {what}…" if busy else "")

    def _start_dir(self) -> str:
        return str(Path(self._path).parent) if self._path else str(Path.home())

    def closeEvent(self, event) -> None:
        self.scanner.stop()
        super().closeEvent(event)


def info_text(info: Any) -> str:
    """"input 1 × 8 × 8 · classification · 10 classes · train 1437 · val 360 · test 0"."""
    shape = " × ".join(str(d) for d in info.input_shape)
    if info.task == "classification":
        what = f"classification · {info.num_classes} classes"
    else:
        what = f"regression · {info.num_targets} target{'s' if info.num_targets != 1 else ''}"
    sizes = " · ".join(f"{k} {info.sizes.get(k, 0)}" for k in ("train", "val", "test"))
    return f"input {shape} · {what} · {sizes}"


def _validation_text(e: ValidationError) -> str:
    """The first problem as "data.field: message", without pydantic's "Value error," prefix."""
    err = e.errors()[0]
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    return f"data.{format_loc(tuple(err['loc']))}: {msg}"


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label
