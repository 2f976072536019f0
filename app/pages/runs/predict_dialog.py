"""Predict on file…: a run's predictions for a new CSV, NPZ file or image
folder (engine.evaluation.predict), computed off the UI thread, shown as a
table and saved as CSV. A file that does not fit the run says why in the
dialog; the traceback of anything unexpected goes to the log."""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from engine.labels import run_label

log = logging.getLogger(__name__)
MAX_ROWS_SHOWN = 5_000  # a table of more is slow to fill; Save as CSV writes them all


class PredictDialog(QDialog):
    """objectName predict_dialog."""

    finished_predicting = Signal(bool)
    """A prediction ended (payload: True when it produced a table)."""

    def __init__(self, store_getter: Callable[[], Any], run: Any, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("predict_dialog")
        self.setWindowTitle(f"Predict with {run_label(run.id, run.name)}")
        self.resize(760, 480)
        self._store = store_getter
        self.run = run
        self.result: Optional[Any] = None
        self._bg = Background(self, name="layerdeck-predict")

        self.file_button = QPushButton("Open file…", objectName="predict_open_file")
        self.file_button.setToolTip("A CSV (with or without the target column) or an NPZ file with an array x")
        self.folder_button = QPushButton("Open image folder…", objectName="predict_open_folder")
        self.folder_button.setToolTip("A folder of images, or one subfolder of images per class")
        self.path = QLabel("Choose a file of the run's kind of data.", objectName="predict_path")
        self.path.setStyleSheet("color: #555;")
        self.message = QLabel(objectName="predict_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.table = QTableWidget(0, 0, objectName="predict_table")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.save_button = QPushButton("Save as CSV…", objectName="predict_save")
        self.save_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.addButton(self.save_button, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.reject)

        top = QHBoxLayout()
        top.addWidget(self.file_button)
        top.addWidget(self.folder_button)
        top.addWidget(self.path, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)

        self.file_button.clicked.connect(self._choose_file)
        self.folder_button.clicked.connect(self._choose_folder)
        self.save_button.clicked.connect(self._choose_save)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Predict on file", "", "Data files (*.csv *.tsv *.txt *.npz)")
        if path:
            self.predict(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Predict on an image folder")
        if path:
            self.predict(path)

    def predict(self, path: str) -> None:
        """Predict on `path` off the UI thread; the table fills when done."""
        from engine.evaluation.predict import predict_file

        store, run_id = self._store, self.run.id
        self.path.setText(path)
        self.message.setStyleSheet("color: #555;")
        self.message.setText("Predicting…")
        self.save_button.setEnabled(False)
        self._bg.submit(lambda: predict_file(store(), run_id, path), self._on_done, self._on_error)

    def _on_done(self, result: Any) -> None:
        self.result = result
        rows = result.rows[:MAX_ROWS_SHOWN]
        self.table.clear()
        self.table.setColumnCount(len(result.columns))
        self.table.setHorizontalHeaderLabels(result.columns)
        self.table.setRowCount(len(rows))
        true_col = result.columns.index("true") if "true" in result.columns else None
        pred_col = result.columns.index("predicted") if "predicted" in result.columns else None
        for r, row in enumerate(rows):
            wrong = true_col is not None and pred_col is not None and row[true_col] != row[pred_col]
            for c, v in enumerate(row):
                item = QTableWidgetItem(f"{v:.4f}" if isinstance(v, float) else str(v))
                if isinstance(v, float):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if wrong and c == pred_col:
                    item.setForeground(QColor("#c62828"))
                self.table.setItem(r, c, item)
        words = [f"{len(result.rows)} predictions"]
        if len(result.rows) > len(rows):
            words.append(f"the first {len(rows)} shown; Save as CSV writes them all")
        if result.accuracy is not None:
            words.append(f"accuracy against the file's answers {result.accuracy:.4f}")
        if result.mae is not None:
            words.append(f"MAE against the file's answers {result.mae:.4g}")
        self.message.setStyleSheet("color: #555;")
        self.message.setText(" · ".join(words) + "".join(f"\nNote: {n}" for n in result.notes))
        self.save_button.setEnabled(True)
        self.finished_predicting.emit(True)

    def _on_error(self, message: str, trace: str) -> None:
        log.info("predict: %s\n%s", message, trace)
        self.result = None
        self.table.setRowCount(0)
        self.message.setStyleSheet("color: #c62828;")
        self.message.setText(message)
        self.finished_predicting.emit(False)

    def _choose_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save predictions", "predictions.csv", "CSV (*.csv)")
        if path:
            self.save(path)

    def save(self, path: str) -> None:
        from engine.evaluation.predict import write_csv

        if self.result is None:
            return
        try:
            write_csv(self.result, path)
        except OSError as e:
            self.message.setStyleSheet("color: #c62828;")
            self.message.setText(f"Could not write {path}: {e.strerror or e}")
            return
        self.message.setText(f"Saved {len(self.result.rows)} predictions to {path}")
