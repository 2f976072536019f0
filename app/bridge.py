"""Qt adaptor over engine.runner: runner events become typed Qt signals.

The runner calls its subscribers on reader threads (one per worker). Each
event is re-emitted here as a signal whose payload is the engine/protocol.py
dataclass itself; the bridge lives in the UI thread, so Qt queues every
emission and slots run on the UI thread, in the order the events came.

One bridge per AppState (`get_bridge(state)`): every page sees the same
runs. The Runner is created on a background thread (it opens the store and
asks NVML how many GPUs there are; neither belongs on the UI thread) and
the first call that needs it waits for it.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional, Union

from PySide6.QtCore import QObject, Signal

from engine.spec import RunSpec

RunnerFactory = Callable[[str], Any]

# Held by background threads of this app while they import engine modules that
# pull in torch (engine.runner through engine.protocol, engine.model): two
# threads importing torch at once can see it half initialized.
ENGINE_IMPORT_LOCK = threading.Lock()


class RunBridge(QObject):
    started = Signal(object)
    """A worker has its data and model and trains now (payload: engine.protocol.Started)."""
    metrics = Signal(object)
    """A batch of metric points (payload: engine.protocol.Metrics)."""
    epoch = Signal(object)
    """An epoch ended, with its values and the ETA (payload: engine.protocol.Epoch)."""
    system = Signal(object)
    """System samples taken by a worker (payload: engine.protocol.System)."""
    log = Signal(object)
    """A line for the run's log (payload: engine.protocol.Log)."""
    status = Signal(object)
    """queued / running / paused took effect (payload: engine.protocol.Status)."""
    checkpoint = Signal(object)
    """A best or last checkpoint was written (payload: engine.protocol.Checkpoint)."""
    finished = Signal(object)
    """A run ended: completed, stopped, failed or crashed (payload: engine.protocol.Finished)."""

    # Event kinds shown, each re-emitted on the signal of the same name. Matched by
    # `KIND`, not by class: engine.protocol imports torch (through engine.training)
    # and this module is imported on the UI thread; the runner imports it in the
    # background instead.
    _SHOWN = frozenset({"started", "metrics", "epoch", "system", "log", "status", "checkpoint", "finished"})

    def __init__(self, db_url: str, *, runner: Any = None, runner_factory: Optional[RunnerFactory] = None,
                 parent: Optional[QObject] = None):
        """runner: an engine.runner.Runner (or anything with its methods) to use
        as is; runner_factory(db_url) builds one in the background instead
        (default: engine.runner.Runner)."""
        super().__init__(parent)
        self.db_url = db_url
        self._runner = runner
        self._runner_error: Optional[BaseException] = None
        self._unsubscribe: Optional[Callable[[], None]] = None
        self._closed = False
        self._submitted: list[int] = []
        if runner is not None:
            self._unsubscribe = runner.subscribe(self._on_event)
            self._ready = threading.Event()
            self._ready.set()
        else:
            self._ready = threading.Event()
            factory = runner_factory or _default_runner
            threading.Thread(target=self._make_runner, args=(factory,), name="runner-start",
                             daemon=True).start()

    def _make_runner(self, factory: RunnerFactory) -> None:
        try:
            runner = factory(self.db_url)
            self._unsubscribe = runner.subscribe(self._on_event)
            self._runner = runner
        except BaseException as e:  # reported in words by the first call that needs it
            self._runner_error = e
        finally:
            self._ready.set()

    @property
    def runner(self) -> Any:
        """The engine Runner, waiting for its start if needed."""
        self._ready.wait()
        if self._runner is None:
            raise RuntimeError(f"the run queue could not start: {self._runner_error}") from self._runner_error
        return self._runner

    # --- events (reader threads) ------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        kind = getattr(event, "KIND", "")
        if kind not in self._SHOWN or self._closed:  # heartbeats: nothing to show
            return
        try:
            getattr(self, kind).emit(event)
        except RuntimeError:  # the bridge was deleted while a worker still talked
            pass

    # --- commands (UI thread) ---------------------------------------------------------
    def submit(self, spec: Union[RunSpec, dict[str, Any]]) -> int:
        """Queue a run; its queued row exists when this returns. A bad spec
        raises engine.spec.SpecError and nothing is created."""
        run_id = self.runner.submit(spec)
        self._submitted.append(run_id)
        return run_id

    def pause(self, run_id: int) -> bool:
        return bool(self.runner.pause(run_id))

    def resume(self, run_id: int) -> bool:
        return bool(self.runner.resume(run_id))

    def stop(self, run_id: int) -> bool:
        """Graceful: the batch finishes, a checkpoint is saved, the run ends stopped."""
        return bool(self.runner.stop(run_id))

    def stop_external(self, run_id: int) -> Optional[str]:
        """Stop a run this window did not launch (left training by an app that
        has closed) through its worker's pid: the worker finishes its batch,
        saves a checkpoint and writes `stopped` to its row, which the page reads
        back from the store. None once asked; else why it cannot be, in words
        (nothing was signalled then). See engine.runner.external."""
        return self._external("stop", run_id)

    def pause_external(self, run_id: int) -> Optional[str]:
        """Pause a running run this window did not launch (SIGUSR1 to its worker,
        POSIX only): it pauses after its batch and writes `paused` to its row.
        None once asked; else why it cannot be, in words."""
        return self._external("pause", run_id)

    def resume_external(self, run_id: int) -> Optional[str]:
        """Resume a paused run this window did not launch (SIGUSR2 to its worker):
        it trains on and writes `running` to its row. None once asked; else why not."""
        return self._external("resume", run_id)

    def _external(self, action: str, run_id: int) -> Optional[str]:
        """engine.runner.external's `<action>_external` on the runner's store."""
        try:
            runner = self.runner  # started: engine.runner is imported, off this thread
        except RuntimeError as e:
            return str(e)
        store = getattr(runner, "store", None)
        if store is None:
            done = {"stop": "stopped", "pause": "paused", "resume": "resumed"}[action]
            return f"run {run_id} cannot be {done} from here: this run queue has no store to check it in"
        with ENGINE_IMPORT_LOCK:  # already imported with the runner; the lock only orders a first import
            from engine.runner import external
        return getattr(external, f"{action}_external")(store, run_id)

    def active_runs(self) -> list[int]:
        """Runs of this window that are queued or running (none before the runner started)."""
        if not self._ready.is_set() or self._runner is None:
            return []
        return list(self._runner.active_runs())

    def submitted(self) -> list[int]:
        """Every run submitted through this bridge, oldest first."""
        return list(self._submitted)

    def can_detach(self) -> bool:
        """Whether runs can outlive this process (the runner has `detach`)."""
        return self._runner is not None and callable(getattr(self._runner, "detach", None))

    def shutdown(self, stop_runs: bool = True, timeout: Optional[float] = 30.0) -> None:
        """Before the app quits. stop_runs: stop every run gracefully (each saves
        a checkpoint and ends `stopped`). Otherwise detach them (the runner's
        `detach`): running ones train on in their worker processes after this
        one exits; queued ones end `stopped`, never started."""
        if self._closed:
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if not self._ready.is_set() or self._runner is None:
            return
        if stop_runs:
            self._runner.shutdown(stop_runs=True, timeout=timeout)
        elif self.can_detach():
            # Returns at once: the workers train on after this process exits and
            # write their own rows; the next start reads them from the store.
            self._runner.detach()
        # A runner without detach has nothing to call here: shutdown(stop_runs=False)
        # would block until the runs finish. Its workers, whose supervisor is then
        # gone, stop with a checkpoint (engine.worker), so nothing is lost.


def _default_runner(db_url: str) -> Any:
    with ENGINE_IMPORT_LOCK:
        from engine.runner import Runner

    return Runner(db_url)


_BRIDGES_ATTR = "_layerdeck_run_bridge"


def get_bridge(state: Any) -> RunBridge:
    """The one bridge of this AppState (created on first use, over state.store_url)."""
    bridge = getattr(state, _BRIDGES_ATTR, None)
    if bridge is None:
        bridge = RunBridge(state.store_url, parent=state)
        setattr(state, _BRIDGES_ATTR, bridge)
    return bridge


def set_bridge(state: Any, bridge: RunBridge) -> None:
    """Use `bridge` for this AppState (tests and benchmarks with a fake runner)."""
    setattr(state, _BRIDGES_ATTR, bridge)
