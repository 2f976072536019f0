"""The Build page: palette | model list | inspector.

The page is a view over `state.spec.model`: every edit becomes an undoable
command that hands a new RunSpec to `state.set_spec`, and the page redraws
from `state.spec_changed`, whoever changed the spec (the Data page, a clone
from the Runs page, File ▸ Open). Summaries are computed off the UI thread.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QLabel, QMenu, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.pages.build import actions
from app.pages.build import format as fmt
from app.pages.build import tree_ops as ops
from app.pages.build.block_model import BlockListModel
from app.pages.build.commands import BlocksCommand, EditParamCommand, InitFromCommand
from app.pages.build.diagram import ModelDiagram
from app.pages.build.init_weights import InitFromDialog, InitFromPanel, source_runs
from app.pages.build.inspector import WEIGHT_OPTIONS, Inspector
from app.pages.build.palette import Palette
from app.pages.build.problems import ProblemPanel
from app.pages.build.summary import SummaryResult, SummaryService
from app.pages.build.view import BlockListView
from app.state import AppState
from app.sweep_draft import add_to_sweep
from engine.blocks import BLOCK_OPTIONS
from engine.spec import SpecError, parse_spec

OPTION_DEFAULTS = {o.name: o.default for o in BLOCK_OPTIONS}


class BuildPage(QWidget):
    summary_shown = Signal()
    """The list, messages and totals now show the summary of the current spec."""

    # The edit actions (made and enabled in actions.py; the Edit menu, shortcuts, right-click menu).
    undo_action: QAction
    redo_action: QAction
    delete_action: QAction
    duplicate_action: QAction
    wrap_action: QAction
    unwrap_action: QAction
    wrap_branch_action: QAction
    add_branch_action: QAction
    branch_left_action: QAction
    branch_right_action: QAction
    up_action: QAction
    down_action: QAction
    load_weights_action: QAction

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("page_build")
        self.state = state
        self.undo_stack = QUndoStack(self)
        self.summary_service = SummaryService(self)
        self._blocks: list[dict] = []
        self._applying = False
        self._collapsed: set[ops.Path] = set()
        self._result: SummaryResult | None = None

        self.palette = Palette()
        self.model = BlockListModel(self)
        self.view = BlockListView()
        self.view.setModel(self.model)
        self.input_label = QLabel()
        self.input_label.setObjectName("model_input")
        self.problems = ProblemPanel()
        self.message_label = self.problems.message
        self.totals = QLabel()
        self.totals.setObjectName("model_totals")
        self.inspector = Inspector()
        self.init_from = InitFromPanel()

        self.diagram = ModelDiagram()
        diagram_scroll = QScrollArea()
        diagram_scroll.setWidget(self.diagram)
        diagram_scroll.setWidgetResizable(True)
        diagram_scroll.setMinimumWidth(200)
        self._lists = lists = QSplitter(Qt.Horizontal)
        lists.addWidget(self.view)
        lists.addWidget(diagram_scroll)
        lists.setStretchFactor(0, 1)
        lists.setSizes([520, 220])
        lists.setChildrenCollapsible(True)
        center = QWidget()
        c = QVBoxLayout(center)
        c.setContentsMargins(8, 0, 8, 0)
        c.addWidget(self.input_label)
        c.addWidget(lists, 1)
        c.addWidget(self.problems)
        c.addWidget(self.totals)
        c.addWidget(self.init_from)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.palette)
        splitter.addWidget(center)
        splitter.addWidget(self.inspector)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 760, 280])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

        self._make_actions()
        self.palette.block_chosen.connect(lambda t: self.add_block(t))
        # Queued: drops arrive inside the view's own drop handling, and the model is rebuilt.
        self.model.insert_requested.connect(self._on_drop_insert, Qt.QueuedConnection)
        self.model.move_requested.connect(self._on_drop_move, Qt.QueuedConnection)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.collapsed.connect(lambda i: self._collapsed.add(self.model.path_of(i)))
        self.view.expanded.connect(lambda i: self._collapsed.discard(self.model.path_of(i)))
        self.inspector.param_edited.connect(self.set_param)
        self.inspector.sweep_requested.connect(lambda path, domain: add_to_sweep(state, path, domain))
        self.problems.fix_chosen.connect(self.apply_fix)
        self.init_from.remove_requested.connect(lambda: self.set_init_from(None))
        self.init_from.change_requested.connect(self.choose_init_from)
        self.model.trainable_toggled.connect(self.set_trainable, Qt.QueuedConnection)
        self.diagram.block_clicked.connect(lambda path: self.select([tuple(path)]))
        self.summary_service.ready.connect(self._show_summary)
        self.diagram.width_needed.connect(self._fit_diagram)
        state.spec_changed.connect(self._on_spec_changed)
        state.dirty_changed.connect(lambda dirty: dirty or self.undo_stack.setClean())
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._on_spec_changed(state.spec)

    # --- public API ------------------------------------------------------------
    def edit_actions(self) -> list[QAction | None]:
        """The Edit menu's actions, in order (None: a separator)."""
        return actions.edit_menu(self)

    @property
    def blocks(self) -> list[dict]:
        """The block list shown (the spec's model.blocks as dicts); read-only: edits go through commands."""
        return self._blocks

    def selected_paths(self) -> list[ops.Path]:
        rows = self.view.selectionModel().selectedRows(0)
        return ops.top_level(self.model.path_of(i) for i in rows)

    def select(self, paths: list[ops.Path]) -> None:
        sel = QItemSelection()
        for p in paths:
            idx = self.model.index_for(p)
            if idx.isValid():
                sel.select(idx, idx.siblingAtColumn(self.model.columnCount() - 1))
        sm = self.view.selectionModel()
        sm.select(sel, QItemSelectionModel.ClearAndSelect)
        if paths and self.model.index_for(paths[0]).isValid():
            sm.setCurrentIndex(self.model.index_for(paths[0]), QItemSelectionModel.NoUpdate)
            self.view.scrollTo(self.model.index_for(paths[0]))
        self._on_selection()

    def add_block(self, block_type: str, parent: ops.Path | None = None, row: int | None = None) -> None:
        """Add a block after the selected one (or at parent/row)."""
        if parent is None:
            sel = self.selected_paths()
            parent, row = (sel[-1][:-1], sel[-1][-1] + 1) if sel else ((), -1)
            if len(sel) == 1 and ops.get(self._blocks, sel[0]).get("blocks") == []:
                parent, row = sel[0], 0  # an empty container (a new branch): fill it
        siblings = (ops.get(self._blocks, parent).get("blocks") or []) if parent else self._blocks
        if row is None or not 0 <= row <= len(siblings):
            row = len(siblings)
        after = ops.insert(self._blocks, parent, row, [self._new_block(block_type)])
        self._push(BlocksCommand(f"add {block_type}", self._blocks, after, self._apply,
                                 self.selected_paths(), [parent + (row,)]))

    def set_param(self, path: ops.Path, name: str, value: Any) -> None:
        if not ops.exists(self._blocks, path):
            return
        if name in WEIGHT_OPTIONS and value == OPTION_DEFAULTS[name]:
            value = None  # trainable: true, init: default are what no key means; keep the spec short
        after = ops.set_param(self._blocks, path, name, value)
        if after != self._blocks:
            self._push(EditParamCommand(path, name, value, self._blocks, after, self._apply))

    def delete_selected(self) -> None:
        sel = self.selected_paths()
        if sel:
            after = ops.remove(self._blocks, sel)
            n = len(ops.top_level(sel))
            # Select the block that took the first removed one's place, so Delete can be pressed again.
            nxt = [sel[0]] if ops.exists(after, sel[0]) else ([sel[0][:-1] + (sel[0][-1] - 1,)] if sel[0][-1] else [])
            self._push(BlocksCommand(f"delete {n} block{'s' if n > 1 else ''}", self._blocks, after,
                                     self._apply, sel, nxt))

    def duplicate_selected(self) -> None:
        sel = self.selected_paths()
        if sel:
            after, new = ops.duplicate(self._blocks, sel)
            self._push(BlocksCommand("duplicate", self._blocks, after, self._apply, sel, new))

    def wrap_selected(self) -> None:
        sel = self.selected_paths()
        done = ops.wrap(self._blocks, sel) if sel else None
        if done is None:
            if sel:
                self._say("Only blocks side by side in the same list can be wrapped together.")
            return
        after, path = done
        self._push(BlocksCommand("wrap in Residual", self._blocks, after, self._apply, sel, [path]))

    def wrap_selected_in_branch(self) -> None:
        sel = self.selected_paths()
        done = ops.wrap_in_branch(self._blocks, sel) if sel else None
        if done is None:
            if sel:
                self._say("Only blocks side by side in the same list can be wrapped together.")
            return
        after, path = done
        self._push(BlocksCommand("wrap in Branch", self._blocks, after, self._apply, sel, [path]))

    def add_branch(self) -> None:
        """A new, empty branch on the selected Branch (or the Branch around the selection)."""
        sel = self.selected_paths()
        done = ops.add_branch(self._blocks, sel[0]) if len(sel) == 1 else None
        if done is not None:
            after, path = done
            self._push(BlocksCommand("add branch", self._blocks, after, self._apply, sel, [path]))

    def move_selected_to_branch(self, delta: int) -> None:
        sel = self.selected_paths()
        done = ops.move_to_branch(self._blocks, sel, delta) if sel else None
        if done is not None:
            after, paths = done
            self._push(BlocksCommand(f"move to branch {'left' if delta < 0 else 'right'}", self._blocks, after,
                                     self._apply, sel, paths))

    def unwrap_selected(self) -> None:
        sel = self.selected_paths()
        done = ops.unwrap(self._blocks, sel[0]) if len(sel) == 1 else None
        if done is not None:
            after, inner = done
            self._push(BlocksCommand("unwrap", self._blocks, after, self._apply, sel, inner))

    def move_selected(self, delta: int) -> None:
        sel = self.selected_paths()
        done = ops.shift(self._blocks, sel[0], delta) if len(sel) == 1 else None
        if done is not None:
            after, path = done
            self._push(BlocksCommand("move up" if delta < 0 else "move down", self._blocks, after,
                                     self._apply, sel, [path]))

    def set_trainable(self, path: ops.Path, trainable: bool) -> None:
        """Freeze a block (`trainable: false`) or train it again (the key removed: the default)."""
        self.set_param(tuple(path), "trainable", None if trainable else False)

    def apply_fix(self, fix) -> None:
        """Carry out a suggestion of the model check (an engine.fixes.Fix) as one undoable edit."""
        try:
            after = fix.apply(self._blocks)
        except (IndexError, KeyError, TypeError, ValueError):
            self._say(f"The fix \"{fix.text}\" no longer fits the model; it changed since it was checked.")
            return
        self._push(BlocksCommand(f"fix: {fix.text}", self._blocks, after, self._apply, self.selected_paths(),
                                 [p for p in fix.touched() if ops.exists(after, p)]))

    def choose_init_from(self) -> None:
        """'Load Weights from Run…': pick a finished run and checkpoint to start from."""
        current = self.state.spec.model.init_from
        dialog = InitFromDialog(source_runs(self.state.store_url),
                                current.model_dump(mode="json") if current else None, self)
        if dialog.exec() == InitFromDialog.Accepted and dialog.choice() is not None:
            self.set_init_from(dialog.choice())

    def set_init_from(self, value: dict | None) -> None:
        """Start from run `value["run"]`'s weights (None: from the blocks' own initialization); undoable."""
        current = self.state.spec.model.init_from
        before = current.model_dump(mode="json") if current else None
        if value != before:
            self.undo_stack.push(InitFromCommand(before, value, self._apply_init_from))

    def _apply_init_from(self, value: dict | None) -> None:
        d = self.state.spec.to_dict()
        d["model"] = {k: v for k, v in d["model"].items() if k != "init_from"}
        if value is not None:
            d["model"]["init_from"] = value
        self._applying = True
        try:
            self.state.set_spec(parse_spec(d))
        finally:
            self._applying = False

    def move_blocks(self, paths: list[ops.Path], parent: ops.Path, row: int) -> None:
        after, new = ops.move(self._blocks, paths, parent, row)
        if after != self._blocks:
            self._push(BlocksCommand("move", self._blocks, after, self._apply, paths, new))

    # --- editing machinery --------------------------------------------------------
    def _new_block(self, block_type: str) -> dict:
        from engine.blocks import default_params

        # The parameters a spec must write (Linear's out_features...); the rest keep their defaults.
        return {"type": block_type, **default_params(block_type)}

    def _spec_with(self, blocks: list[dict]):
        d = self.state.spec.to_dict()
        d["model"] = {**d["model"], "blocks": blocks}  # the rest of the model (init_from) stays as it is
        return parse_spec(d)

    def _push(self, command: BlocksCommand) -> None:
        try:
            self._spec_with(command.after)  # never push an edit the spec rejects
        except SpecError as e:
            self._say("; ".join(e.errors))
            return
        self.undo_stack.push(command)

    def _apply(self, blocks: list[dict], select: list[ops.Path]) -> None:
        self._applying = True
        try:
            self.state.set_spec(self._spec_with(blocks))
        finally:
            self._applying = False
        self.select([p for p in select if ops.exists(self._blocks, p)])

    def _on_spec_changed(self, spec) -> None:
        blocks = [b.to_dict() for b in spec.model.blocks]
        if not self._applying and blocks != self._blocks:
            self.undo_stack.clear()  # a new document (open, template, clone): its history starts here
            self._collapsed.clear()
        keep = self.selected_paths()
        structure_changed = [(p, b["type"]) for p, b in ops.walk(blocks)] != [
            (p, b["type"]) for p, b in ops.walk(self._blocks)]
        self._blocks = blocks
        self.model.set_blocks(blocks)
        if structure_changed:
            self.view.expandAll()
            for p in self._collapsed:
                self.view.collapse(self.model.index_for(p))
            if not self._applying:
                self.select([p for p in keep if ops.exists(blocks, p)])
        self._on_selection()
        self.input_label.setText(f"input  …  ({spec.data.name})")
        last = self._result
        self.diagram.set_model(blocks, last.summary.rows if last and last.summary else None,
                               last.info.input_shape if last and last.info else None)
        self.problems.set_fixes_enabled(False)  # they were made for the blocks before this change
        self.init_from.request(self.state.store_url, spec)
        self.summary_service.request(spec)
        self._update_actions()

    def _on_selection(self, *_: Any) -> None:
        sel = self.selected_paths()
        self.diagram.set_selected(sel)
        current = self.model.path_of(self.view.currentIndex())
        path = current if current in sel else (sel[0] if sel else None)
        if path is None or not ops.exists(self._blocks, path):
            self.inspector.show_block(None, None, "")
        else:
            number = self.model.index_for(path).data() or ".".join(str(i + 1) for i in path)
            row = next((r for r in self._result.summary.rows if tuple(r.path) == path), None) if (
                self._result is not None and self._result.summary is not None) else None
            self.inspector.show_block(path, ops.get(self._blocks, path), number,
                                      weights=bool(getattr(row, "params", 0)))
        self._update_actions()

    def context_menu(self) -> QMenu:
        """The block list's right-click menu: the Edit menu's block actions."""
        return actions.context_menu(self)

    def _context_menu(self, pos) -> None:
        self._update_actions()
        self.context_menu().exec(self.view.viewport().mapToGlobal(pos))

    def _fit_diagram(self, need: int) -> None:
        """Widen the diagram's pane for side-by-side branches (up to half the room), never narrow it."""
        list_w, diagram_w = self._lists.sizes()
        want = min(need + 24, (list_w + diagram_w) // 2)  # + the scroll area's frame and scroll bar
        if want > diagram_w:
            self._lists.setSizes([list_w + diagram_w - want, want])

    def _on_drop_insert(self, block_type: str, parent: ops.Path, row: int) -> None:
        self.add_block(block_type, tuple(parent), row)

    def _on_drop_move(self, paths: list, parent: ops.Path, row: int) -> None:
        self.move_blocks([tuple(p) for p in paths], tuple(parent), row)

    def _on_clean_changed(self, clean: bool) -> None:
        try:
            self.state.set_dirty(not clean)
        except RuntimeError:
            pass  # the app is shutting down and the state is gone

    # --- summary ------------------------------------------------------------------
    def _show_summary(self, result: SummaryResult) -> None:
        self._result = result
        info, summary = result.info, result.summary
        if info is not None:
            extra = getattr(info, "title", None) or self.state.spec.data.name
            n = getattr(info, "num_classes", None)
            if getattr(info, "task", "") == "classification" and n:
                extra += f" · {n} classes"
            self.input_label.setText(f"input  {fmt.shape(info.input_shape)}   ({extra})")
        else:
            self.input_label.setText(f"input  —   ({self.state.spec.data.name})")
        self.model.set_summary(summary.rows if summary is not None else None)
        self.diagram.set_model(self._blocks, summary.rows if summary is not None else None,
                               info.input_shape if info is not None else None)
        problems = list(summary.errors) if summary is not None else [result.error or "no summary"]
        if summary is not None and not summary.valid and not problems:
            problems = ["the model is not valid"]
        if summary is not None and not self._blocks:
            problems = []
        self.problems.show_problems(problems, summary.fixes if summary is not None else None)
        self._fit_diagram(self.diagram.minimumWidth())
        self._on_selection()  # the inspector offers trainable/init once it knows the block has weights
        if not self._blocks:
            self.totals.setText("params 0 · add blocks to see their shapes and sizes")
        elif summary is None or not summary.valid:
            self.totals.setText("params, MACs, memory: invalid — fix the marked block")
        else:
            self.totals.setText(fmt.totals(summary, self.state.spec.training.batch_size))
        self.summary_shown.emit()

    def _say(self, text: str) -> None:
        self.problems.say(text)

    # --- actions --------------------------------------------------------------------
    def _make_actions(self) -> None:
        actions.make(self)

    def _update_actions(self) -> None:
        actions.update(self)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_actions()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._update_actions()

