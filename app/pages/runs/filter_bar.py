"""The Runs page's filter bar: one box for free text or an expression, a
status combo, saved filters, and the expression's error in red underneath.

Free text (`digits cnn`) matches every word against name, tags, dataset and
model; anything with a comparison or parentheses is an expression parsed by
engine.query (never eval). The bar emits `filter_changed` with a ready
predicate over table rows, after a short pause in typing.
"""
from __future__ import annotations

import json
from typing import Callable, Optional

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.pages.runs.table_model import STATUSES, RunRow
from engine.query import FIELDS_HELP, QueryError, looks_like_query, parse_query

SETTINGS_KEY = "runs/saved_filters"
DEBOUNCE_MS = 200


class FilterBar(QWidget):
    filter_changed = Signal(object)
    """The rows to show changed (payload: a predicate RunRow -> bool, or None for all)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QLineEdit(objectName="runs_filter")
        self.text.setPlaceholderText(
            'Filter: words, or an expression like val/accuracy > 0.9 and optimizer.type == "AdamW"')
        self.text.setClearButtonEnabled(True)
        self.text.setToolTip(FIELDS_HELP)
        self.status = QComboBox(objectName="runs_status_filter")
        self.status.addItem("All statuses", None)
        for s in STATUSES:
            self.status.addItem(s, s)
        self.saved = QToolButton(objectName="runs_saved_filters", text="Saved")
        self.saved.setPopupMode(QToolButton.InstantPopup)
        self.saved.setToolTip("Save the current filter, or apply one saved before")
        self.saved.setMenu(QMenu(self.saved))
        self.saved.menu().aboutToShow.connect(self._fill_saved_menu)
        self.error = QLabel(objectName="runs_filter_error")
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        self.error.hide()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.status)
        row.addWidget(self.saved)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.error)

        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply)
        self.text.textChanged.connect(lambda _t: self._timer.start())
        self.text.returnPressed.connect(self.apply)
        self.status.currentIndexChanged.connect(lambda _i: self.apply())

    # the predicate ---------------------------------------------------------------
    def predicate(self) -> Optional[Callable[[RunRow], bool]]:
        """The current filter as a row predicate; raises QueryError for a bad expression."""
        raw = self.text.text()
        text = raw.strip()
        status = self.status.currentData()
        tests: list[Callable[[RunRow], bool]] = []
        if status:
            tests.append(lambda row: row.run.status == status)
        if text and looks_like_query(text):
            query = parse_query(raw)  # unstripped: error columns match what the user sees
            tests.append(lambda row: query.matches(row.run))
        elif text:
            words = text.casefold().split()
            tests.append(lambda row: all(w in row.haystack for w in words))
        if not tests:
            return None
        if len(tests) == 1:
            return tests[0]
        return lambda row: all(t(row) for t in tests)

    def apply(self) -> None:
        """Parse now and emit; a bad expression keeps the last good filter and says why."""
        self._timer.stop()
        try:
            pred = self.predicate()
        except QueryError as e:
            self.error.setText(f"{e} — {_EXAMPLE}")
            self.error.show()
            self.text.setStyleSheet("QLineEdit { border: 1px solid #c62828; }")
            return
        self.error.hide()
        self.error.clear()
        self.text.setStyleSheet("")
        self.filter_changed.emit(pred)

    # saved filters -------------------------------------------------------------------
    def saved_filters(self) -> dict[str, str]:
        raw = QSettings().value(SETTINGS_KEY, "{}")
        try:
            data = json.loads(raw) if isinstance(raw, str) else {}
        except json.JSONDecodeError:
            data = {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def save_filter(self, name: str, text: str) -> None:
        filters = self.saved_filters()
        filters[name] = text
        QSettings().setValue(SETTINGS_KEY, json.dumps(filters))

    def delete_filter(self, name: str) -> None:
        filters = self.saved_filters()
        filters.pop(name, None)
        QSettings().setValue(SETTINGS_KEY, json.dumps(filters))

    def use_filter(self, text: str) -> None:
        self.text.setText(text)
        self.apply()

    def _fill_saved_menu(self) -> None:
        menu = self.saved.menu()
        menu.clear()
        current = self.text.text().strip()
        save = menu.addAction("Save current filter…", self._ask_save)
        save.setEnabled(bool(current))
        filters = self.saved_filters()
        if filters:
            menu.addSeparator()
            for name, text in sorted(filters.items()):
                act = menu.addAction(name, lambda t=text: self.use_filter(t))
                act.setToolTip(text)
            menu.addSeparator()
            delete = menu.addMenu("Delete")
            for name in sorted(filters):
                delete.addAction(name, lambda n=name: self.delete_filter(n))

    def _ask_save(self) -> None:
        name, ok = QInputDialog.getText(self, "Save filter", "Name for this filter:",
                                        text=self.text.text().strip()[:40])
        if ok and name.strip():
            self.save_filter(name.strip(), self.text.text().strip())


_EXAMPLE = 'e.g. val/accuracy > 0.9 and optimizer.type == "AdamW"'
