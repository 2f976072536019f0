"""The Evaluation tab of run details: a view over the run's stored
evaluation (engine.evaluation). Classification: the confusion matrix as a
heatmap (a click on a cell lists its samples), the per-class table and the
misclassified samples (a gallery of images or signal plots, rows for tables). Regression:
residuals against predictions and the per-target table. A finished run
without an evaluation gets an Evaluate button; evaluating, like every store
read here, runs off the UI thread. "Predict on file…" opens the predict dialog.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from app.pages.runs.confusion_view import ConfusionView
from app.pages.runs.eval_samples import SampleList
from engine.status import TERMINAL

NARROW = 760  # px: below this width the matrix and the samples stack


class EvaluationView(QWidget):
    """objectName evaluation_view."""

    loaded = Signal(int)
    """The run's evaluation (or its absence) is shown (payload: run id)."""
    samples_ready = Signal(int)
    """The evaluated split's inputs arrived for the sample list (payload: run id)."""

    def __init__(self, parent: QWidget | None = None, *, in_window: bool = False):
        """in_window: this view is already the window of its own (no "Open in window")."""
        super().__init__(parent)
        self.setObjectName("evaluation_view")
        self.in_window = in_window
        self._store: Optional[Callable[[], Any]] = None
        self._bg = Background(self, name="layerdeck-evaluation")
        self.run: Optional[Any] = None
        self.doc: Optional[dict[str, Any]] = None
        self.inputs: Optional[np.ndarray] = None
        self.feature_names: list[str] = []

        self.summary = QLabel(objectName="eval_summary")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)
        self.evaluate_button = QPushButton("Evaluate", objectName="evaluate_button")
        self.evaluate_button.setToolTip("Evaluate the run's best checkpoint on its test split "
                                        "(validation when it has none) and keep the result with the run")
        self.predict_button = QPushButton("Predict on file…", objectName="predict_button")
        self.predict_button.setToolTip("Predict with this run on a new CSV, NPZ file or image folder")
        self.empty = QLabel(objectName="eval_empty", alignment=Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #666;")

        self.matrix = ConfusionView()
        self.per_class = _table("per_class_table")
        self.samples = SampleList()
        left = QSplitter(Qt.Vertical)
        left.addWidget(self.matrix)
        left.addWidget(self.per_class)
        left.setSizes([300, 250])
        self.classify = classify = QSplitter(Qt.Horizontal)
        classify.addWidget(left)
        classify.addWidget(self.samples)
        classify.setSizes([420, 380])

        self.residuals = pg.PlotWidget(objectName="residual_plot", background="w")
        self.residuals.setLabel("bottom", "predicted")
        self.residuals.setLabel("left", "residual (true − predicted)")
        self.residuals.showGrid(x=True, y=True, alpha=0.2)
        self.per_target = _table("per_target_table")
        regress = QSplitter(Qt.Vertical)
        regress.addWidget(self.residuals)
        regress.addWidget(self.per_target)
        regress.setSizes([360, 120])

        self.body = QStackedWidget()
        self.body.addWidget(self.empty)
        self.body.addWidget(classify)
        self.body.addWidget(regress)
        self._pages = {"empty": self.empty, "classification": classify, "regression": regress}

        self.window_button = QPushButton("Open in window", objectName="eval_window_button")
        self.window_button.setToolTip("This evaluation in a window of its own, with room for the matrix and samples")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.window_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addLayout(buttons)
        lay.addWidget(self.body, 1)
        self._windows: list[EvaluationView] = []

        self.evaluate_button.clicked.connect(self.evaluate)
        self.predict_button.clicked.connect(self.open_predict)
        self.window_button.clicked.connect(self.open_window)
        self.matrix.cell_chosen.connect(self.show_cell)

    def resizeEvent(self, event: Any) -> None:
        # Beside the runs table the panel is narrow: matrix and samples stack instead of sharing a row.
        orientation = Qt.Vertical if self.width() < NARROW else Qt.Horizontal
        if orientation != self.classify.orientation():
            self.classify.setOrientation(orientation)
            self.classify.setSizes([600, 400] if orientation == Qt.Vertical else [420, 380])
        super().resizeEvent(event)

    def set_store(self, store_getter: Callable[[], Any]) -> None:
        """The page's RunStore getter (called on worker threads only)."""
        self._store = store_getter

    # showing -------------------------------------------------------------------------
    def show_run(self, run: Optional[Any]) -> None:
        same = run is not None and self.run is not None and run.id == self.run.id
        if same and run.status == self.run.status:  # a reload of the same run: nothing new to read
            self.run = run
            return
        self.run = run
        if not same:
            self.doc, self.inputs = None, None
        self._show_empty("Reading the evaluation…" if run is not None and self._store is not None else "")
        if run is not None and self._store is not None:
            store, run_id = self._store, run.id
            self._bg.submit(lambda: _read(store(), run_id),
                            lambda res: self._on_doc(run_id, *res), self._on_error)

    def _on_doc(self, run_id: int, doc: Optional[dict[str, Any]], has_checkpoint: bool = True) -> None:
        if self.run is None or self.run.id != run_id:
            return
        self.doc = doc
        if doc is None:
            self._show_empty(self._why_none(has_checkpoint))
        elif doc["task"] == "classification":
            self._show_classification(doc)
        else:
            self._show_regression(doc)
        self.loaded.emit(run_id)

    def _why_none(self, has_checkpoint: bool) -> str:
        run = self.run
        assert run is not None
        self.evaluate_button.setText("Evaluate")
        self.evaluate_button.setEnabled(False)
        if run.status not in TERMINAL:
            return "The evaluation appears here when the run finishes."
        if not has_checkpoint:
            return ("This run has no checkpoint to evaluate: it ended before its first epoch finished, "
                    "or its checkpoint files were deleted. Train it again to evaluate it.")
        self.evaluate_button.setEnabled(True)
        return ("This run has no evaluation yet. Click Evaluate to measure its best checkpoint on the "
                "test split (validation when there is none): confusion matrix, per-class scores, mistakes.")

    def _show_empty(self, text: str) -> None:
        self.summary.setText("")
        self.empty.setText(text)
        self.body.setCurrentWidget(self.empty)
        for button in (self.evaluate_button, self.predict_button, self.window_button):
            button.setVisible(self.run is not None)
        self.window_button.setVisible(self.run is not None and not self.in_window)

    def _header(self, doc: dict[str, Any], scores: str) -> None:
        ck = doc.get("checkpoint") or {}
        split = "test" if doc["split"] == "test" else "validation"
        self.summary.setText(f"<b>{split} split</b> · {doc['n']} samples · {ck.get('kind', '?')} checkpoint "
                             f"(epoch {ck.get('epoch', '?')}) · {scores}")
        self.evaluate_button.setText("Evaluate again")
        self.evaluate_button.setEnabled(True)

    def _show_classification(self, doc: dict[str, Any]) -> None:
        auc = doc["roc_auc"]["average"]
        top = " · ".join(f"top-{k} {v:.3f}" for k, v in doc["top_k"].items())
        self._header(doc, f"accuracy <b>{doc['accuracy']:.4f}</b> · macro F1 <b>{doc['macro_f1']:.4f}</b>"
                          + (f" · ROC AUC {auc:.4f}" if auc is not None else "") + (f" · {top}" if top else ""))
        names = doc["class_names"]
        self.matrix.show_matrix(doc["confusion_matrix"], names)
        rows = [[c["class"], c["precision"], c["recall"], c["f1"], c["support"], c["auc"]] for c in doc["per_class"]]
        rows += [[f"{a} avg", doc[a]["precision"], doc[a]["recall"], doc[a]["f1"], doc["n"], None]
                 for a in ("macro", "weighted")]
        _fill(self.per_class, ["class", "precision", "recall", "F1", "support", "AUC"], rows)
        self.body.setCurrentWidget(self._pages["classification"])
        self._list_misclassified()
        if self.inputs is None and self._store is not None and self.run is not None:
            store, run_id, split = self._store, self.run.id, doc["split"]
            from engine.evaluation.run_eval import split_inputs

            self._bg.submit(lambda: split_inputs(store(), run_id, split),
                            lambda res: self._on_inputs(run_id, res), lambda m, t: None)

    def _on_inputs(self, run_id: int, result: tuple[np.ndarray, list[str]]) -> None:
        if self.run is None or self.run.id != run_id or self.doc is None:
            return
        self.inputs, self.feature_names = result
        self._list_misclassified()
        self.samples_ready.emit(run_id)

    def _list_misclassified(self) -> None:
        doc = self.doc
        assert doc is not None
        wrong = doc["misclassified"]
        title = (f"<b>{len(wrong)} misclassified</b>, surest first · click a matrix cell to list its samples"
                 if wrong else "No sample is misclassified · click a matrix cell to list its samples")
        self._list(title, wrong)

    def show_cell(self, true: int, predicted: int) -> None:
        """List the samples of one confusion-matrix cell."""
        if self.doc is None or self.doc["task"] != "classification":
            return
        from engine.evaluation.run_eval import samples_in_cell

        names = self.doc["class_names"]
        hits = samples_in_cell(self.doc, true, predicted)
        samples = [{"index": i, "true": true, "predicted": predicted, "confidence": c} for i, c in hits]
        self._list(f"<b>true {names[true]} → predicted {names[predicted]}</b>: {len(samples)} sample(s)", samples)

    def _list(self, title: str, samples: list[dict[str, Any]]) -> None:
        assert self.doc is not None
        self.samples.show_samples(title, samples, self.doc["class_names"], self.inputs, self.feature_names,
                                  str(self.doc.get("kind", "")))

    def _show_regression(self, doc: dict[str, Any]) -> None:
        self._header(doc, f"MAE <b>{doc['mae']:.4g}</b> · RMSE {doc['rmse']:.4g} · R² <b>{doc['r2']:.4f}</b>")
        res = doc["residuals"]
        pred = np.asarray(res["predicted"], dtype=float)
        resid = np.asarray(res["residual"], dtype=float)
        self.residuals.clear()
        if pred.size:
            self.residuals.plot(pred[:, 0], resid[:, 0], pen=None, symbol="o", symbolSize=6,
                                symbolBrush=pg.mkBrush(31, 119, 180, 150), symbolPen=None)
            self.residuals.addLine(y=0, pen=pg.mkPen("#888", width=1, style=Qt.DashLine))
        self.residuals.setTitle(f"residuals of {doc['target_names'][0]} against predictions")
        rows = [[t["target"], t["mae"], t["rmse"], t["r2"]] for t in doc["per_target"]]
        _fill(self.per_target, ["target", "MAE", "RMSE", "R²"], rows)
        self.body.setCurrentWidget(self._pages["regression"])

    # actions ---------------------------------------------------------------------------
    def evaluate(self) -> None:
        """Evaluate the shown run off the UI thread and show the result."""
        if self.run is None or self._store is None:
            return
        store, run_id = self._store, self.run.id
        from engine.evaluation.run_eval import evaluate_run

        self.evaluate_button.setEnabled(False)
        self._show_empty("Evaluating the best checkpoint…")
        self.inputs = None
        self._bg.submit(lambda: evaluate_run(store(), run_id), lambda doc: self._on_doc(run_id, doc),
                        self._on_error)

    def _on_error(self, message: str, trace: str) -> None:
        import logging

        logging.getLogger(__name__).info("evaluation: %s\n%s", message, trace)
        self.evaluate_button.setEnabled(self.run is not None and self.run.status in TERMINAL)
        self._show_empty(f"Could not evaluate: {message}")

    def open_window(self) -> None:
        """The shown run's evaluation in a window of its own (the side panel is narrow)."""
        if self.run is None or self._store is None:
            return
        from engine.labels import run_label

        window = EvaluationView(in_window=True)
        window.setAttribute(Qt.WA_DeleteOnClose)
        window.setWindowTitle(f"Evaluation of {run_label(self.run.id, self.run.name)}")
        window.set_store(self._store)
        window.resize(1150, 720)
        window.show_run(self.run)
        window.show()
        self._windows = [w for w in self._windows if _alive(w)] + [window]

    def open_predict(self) -> None:
        if self.run is None or self._store is None:
            return
        from app.pages.runs.predict_dialog import PredictDialog

        dialog = PredictDialog(self._store, self.run, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()


def _alive(widget: QWidget) -> bool:
    from shiboken6 import isValid

    return isValid(widget) and widget.isVisible()


def _read(store: Any, run_id: int) -> tuple[Optional[dict[str, Any]], bool]:
    """The run's stored evaluation, and whether it has a checkpoint file to evaluate (worker thread)."""
    from pathlib import Path

    from engine.evaluation.run_eval import stored_evaluation

    doc = stored_evaluation(store, run_id)
    return doc, doc is not None or any(Path(c.path).is_file() for c in store.checkpoints(run_id))


def _table(name: str) -> QTableWidget:
    t = QTableWidget(0, 0, objectName=name)
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.verticalHeader().hide()
    t.verticalHeader().setDefaultSectionSize(20)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    t.horizontalHeader().setMinimumSectionSize(64)
    return t


def _fill(table: QTableWidget, headers: list[str], rows: list[list[Any]]) -> None:
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(rows))
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)  # names take the spare width
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            text = "–" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            table.setItem(r, c, item)
