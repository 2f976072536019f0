"""The shell: a sidebar of pages, the page stack, menus and the status bar.

Pages come from the registry in app.pages (PAGES) and are imported when first
shown, so start-up pays only for the Build page; a page whose module is not
there yet shows what it is for instead of a blank.
"""
from __future__ import annotations

import importlib
import logging
import os
import threading

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.menus import FileController
from app.pages import PAGES, PageEntry
from app.settings import Settings
from app.state import AppState
from engine.store.paths import shown_url

log = logging.getLogger(__name__)


def _empty_state(entry: PageEntry, text: str) -> QWidget:
    page = QWidget()
    page.setObjectName(f"page_{entry.key}")
    title = QLabel(entry.title)
    f = title.font()
    f.setPointSizeF(f.pointSizeF() * 1.6)
    f.setBold(True)
    title.setFont(f)
    body = QLabel(text)
    body.setWordWrap(True)
    body.setObjectName("empty_state")
    for w in (title, body):
        w.setAlignment(Qt.AlignCenter)
    layout = QVBoxLayout(page)
    layout.addStretch(1)
    layout.addWidget(title)
    layout.addWidget(body)
    layout.addStretch(2)
    return page


def load_page(entry: PageEntry, state: AppState) -> QWidget:
    """Build `entry`'s page; one that cannot be imported or built says so (the log has the traceback)."""
    module_name, _, class_name = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as e:  # a broken install: the other pages still work
        log.exception("page %s failed to import", entry.key)
        return _empty_state(entry, f"This page could not be loaded ({e}). The log has the details.")
    if entry.key != "build":
        theme.sync_pyqtgraph()  # plots take the palette's colours before they are created
    try:
        page = cls(state)
    except Exception as e:  # another page's bug must not take the window down
        log.exception("page %s failed to build", entry.key)
        return _empty_state(entry, f"This page could not be loaded ({type(e).__name__}: {e}). The log has the details.")
    page.setObjectName(f"page_{entry.key}")
    return page


class _DeviceProbe(QObject):
    found = Signal(str, str)  # (label text, tooltip)

    def start(self) -> None:
        threading.Thread(target=self._run, name="device-probe", daemon=True).start()

    def _run(self) -> None:
        # NVML only, never torch.cuda: a CUDA context in the GUI would hold GPU memory for the
        # app's whole life, memory the workers train in.
        try:
            from engine.monitor import SystemSampler

            sampler = SystemSampler()
            names = [g.name for g in sampler.gpus]
            tip = sampler.message or ""
        except Exception as e:
            names, tip = [], f"GPU detection failed: {e}"
        if names:
            text = names[0] if len(names) == 1 else f"{len(names)} GPUs: {names[0]}, …"
            self.found.emit(text, "\n".join(names))
        else:
            self.found.emit("CPU only", tip or "No NVIDIA GPU detected; runs train on the CPU.")


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, settings: Settings | None = None):
        super().__init__()
        self.state = state
        self.settings = settings or Settings()
        self.files = FileController(state, self.settings, self)
        self.setWindowTitle("[*]LayerDeck")
        self.setAcceptDrops(True)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setIconSize(QSize(22, 22))
        self.sidebar.setSpacing(2)
        self.sidebar.setFixedWidth(120)
        self.stack = QStackedWidget()
        self._pages: dict[str, QWidget | None] = {}
        for entry in PAGES:
            icon = self.style().standardIcon(getattr(QStyle.StandardPixmap, entry.icon, QStyle.SP_FileIcon))
            item = QListWidgetItem(icon, entry.title)
            item.setToolTip(entry.about)
            item.setSizeHint(QSize(0, 36))
            self.sidebar.addItem(item)
            self.stack.addWidget(QWidget())  # placeholder until the page is first shown
            self._pages[entry.key] = None
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.build_page = self.page("build")
        self._make_status_bar()
        self._make_menus()
        self.sidebar.currentRowChanged.connect(lambda i: self.show_page(PAGES[i].key))
        state.page_requested.connect(self.show_page)
        state.path_changed.connect(lambda _: self._update_title())
        state.dirty_changed.connect(lambda _: self._update_title())
        state.status_message.connect(self.training_label.setText)
        self.files.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.show_page("build")
        self._update_title()
        self.resize(1280, 800)
        if (geometry := self.settings.geometry()) is not None:
            self.restoreGeometry(geometry)

    # --- pages ------------------------------------------------------------------------
    def page(self, key: str) -> QWidget:
        """The page for `key`, built on first use."""
        if self._pages.get(key) is None:
            i = [e.key for e in PAGES].index(key)
            self.set_page(key, load_page(PAGES[i], self.state))
        return self._pages[key]  # type: ignore[return-value]

    def set_page(self, key: str, page: QWidget) -> None:
        """Put `page` in the slot for `key` (the screenshots give the Monitor
        page a simulated GPU this way)."""
        i = [e.key for e in PAGES].index(key)
        old = self.stack.widget(i)
        self.stack.insertWidget(i, page)
        self.stack.removeWidget(old)
        old.deleteLater()
        self._pages[key] = page

    def show_page(self, key: str) -> None:
        keys = [e.key for e in PAGES]
        if key not in keys:
            return
        i = keys.index(key)
        self.stack.setCurrentWidget(self.page(key))
        self.sidebar.setCurrentRow(i)
        self._view_actions[i].setChecked(True) if hasattr(self, "_view_actions") else None

    def new_from_template(self) -> bool:
        """File ▸ New from Template…: the gallery; the chosen template opens in the builder."""
        if self.files.gallery_dialog():
            self.show_page("build")
            return True
        return False

    def current_page_key(self) -> str:
        return PAGES[self.stack.currentIndex()].key

    # --- menus and status bar ------------------------------------------------------------
    def _make_menus(self) -> None:
        bar, f = self.menuBar(), self.files

        def add(menu, text, slot, keys=None, tip=""):
            action = menu.addAction(text)
            if keys is not None:
                action.setShortcut(QKeySequence(keys))
            action.setStatusTip(tip)
            action.triggered.connect(lambda *_: slot())
            return action

        m = bar.addMenu("&File")
        add(m, "&New", f.new_spec, QKeySequence.New, "Start an empty spec")
        self.gallery_action = add(m, "New from &Template…", self.new_from_template, QKeySequence("Ctrl+Shift+N"),
                                  "Start from a working model: the template gallery")
        add(m, "&Open…", f.open_dialog, QKeySequence.Open, "Open a run spec (.json)")
        recent = m.addMenu("Open &Recent")
        recent.aboutToShow.connect(lambda: f.fill_recent_menu(recent))
        f.fill_recent_menu(recent)
        m.addSeparator()
        add(m, "&Save", f.save, QKeySequence.Save, "Save the spec")
        add(m, "Save &As…", f.save_as, QKeySequence("Ctrl+Shift+S"), "Save the spec under a new name")
        add(m, "&Export as Python…", f.export_dialog, QKeySequence("Ctrl+E"),
            "Write the model as a standalone PyTorch module")
        m.addSeparator()
        add(m, "&Quit", self.close, QKeySequence.Quit)

        from app.export_actions import Exporter, add_export_menu

        self.exporter = Exporter(self, self.state.store_url)
        self.exporter.message.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.exporter.problem.connect(lambda text: self.statusBar().showMessage(text, 30_000))
        add_export_menu(bar, lambda fmt: self.exporter.spec_dialog(fmt, self.state))

        m = bar.addMenu("&Edit")
        for action in self.build_page.edit_actions():
            m.addSeparator() if action is None else m.addAction(action)

        m = bar.addMenu("&Run")
        self.launch_action = add(m, "&Launch", self._launch, QKeySequence("Ctrl+Return"),
                                 "Train the current spec")
        self.launch_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.stop_action = add(m, "&Stop", self._stop, QKeySequence("Ctrl+."),
                               "Stop the selected run (it saves a checkpoint first)")
        m.addSeparator()  # the Train page's probes (app/pages/train/probes.py)
        add(m, "Find Learning &Rate…", lambda: self._open_probe("open_lr_finder"), None,
            "The LR range test on the current spec, in its own process")
        add(m, "&Check Before Training…", lambda: self._open_probe("open_sanity"), None,
            "Initial loss, overfit one batch, zeroed inputs: quick checks of the current spec")

        m = bar.addMenu("&View")
        group = QActionGroup(self)
        self._view_actions: list[QAction] = []
        for i, entry in enumerate(PAGES):
            action = add(m, entry.title, lambda k=entry.key: self.show_page(k), QKeySequence(f"Ctrl+{i + 1}"),
                         entry.about)
            action.setCheckable(True)
            group.addAction(action)
            self._view_actions.append(action)
        self._view_actions[self.stack.currentIndex()].setChecked(True)

    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        self.file_label = QLabel()
        self.file_label.setObjectName("status_file")
        self.training_label = QLabel("nothing training")
        self.training_label.setObjectName("status_training")
        self.device_label = QLabel("looking for GPUs…")
        self.device_label.setObjectName("status_device")
        self.db_label = QLabel(_store_text(self.state.store_url))
        self.db_label.setObjectName("status_db")
        self.db_label.setToolTip(f"Run store: {shown_url(self.state.store_url)}")
        for w in (self.file_label, self.training_label, self.device_label, self.db_label):
            w.setStyleSheet("QLabel { padding: 0 8px; border-left: 1px solid palette(mid); }")
            bar.addPermanentWidget(w)
        self._probe = _DeviceProbe(self)
        self._probe.found.connect(self._show_device)

    def probe_device(self) -> None:
        """Look for GPUs (NVML) in the background; called once the window has painted."""
        self._probe.start()

    def start_monitor_history(self) -> None:
        """Sample the machine from now on, for the Monitor page to show when first
        opened. Called after the first paint, as probe_device is: it loads pyqtgraph."""
        if self.state.monitor_history is None and self._pages.get("monitor") is None:
            from app.pages.monitor.history import MonitorHistory

            self.state.monitor_history = MonitorHistory(self.state.store_url, parent=self)
            self.state.monitor_history.start()

    def _show_device(self, text: str, tip: str) -> None:
        self.device_label.setText(text)
        self.device_label.setToolTip(tip)

    def _update_title(self) -> None:
        name = os.path.basename(self.state.path) if self.state.path else "untitled"
        self.setWindowTitle(f"{name}[*] — LayerDeck")
        self.setWindowModified(self.state.dirty)
        self.file_label.setText(name + ("*" if self.state.dirty else ""))
        self.file_label.setToolTip(self.state.path or "Not saved yet (File ▸ Save)")

    def _launch(self) -> None:
        # The Train page owns launching and shows the run; build it (and show
        # it) first, or nothing would be listening before its first visit.
        self.show_page("train")
        self.state.launch_requested.emit()

    def _open_probe(self, opener: str) -> None:
        self.show_page("train")
        getattr(self.page("train").probes, opener)()

    def _stop(self) -> None:
        if self._pages.get("train") is not None:
            self.state.stop_requested.emit()

    # --- window events ---------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if any(u.toLocalFile().endswith(".json") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.toLocalFile().endswith(".json")]
        if paths:
            event.acceptProposedAction()
            self.files.open_path(paths[0])

    def closeEvent(self, event) -> None:
        if not self.files.confirm_discard():
            event.ignore()
            return
        train = self._pages.get("train")
        # Runs still training: stop them with a checkpoint, keep them going, or stay.
        if train is not None and hasattr(train, "confirm_close") and not train.confirm_close():
            event.ignore()
            return
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_last_spec(self.state.path)
        self.settings.sync()
        event.accept()


def _store_text(url: str) -> str:
    """runs.db for a SQLite file, the URL without its password otherwise."""
    if url.startswith("sqlite:///"):
        return os.path.basename(url[len("sqlite:///"):]) or url
    return shown_url(url)
