"""Qt adaptor over engine.runner: the app's one way to its runs.

The Runner owns every active run of the store, the ones launched here and
the ones it adopts (a closed app's, a terminal's, another machine's), and
calls its subscribers on its reader threads. Each event is re-emitted here
as a signal whose payload is the engine/protocol.py dataclass itself; the
bridge lives in the UI thread, so Qt queues every emission and slots run on
the UI thread, in the order the events came. Commands go back through the
Runner, which picks the channel that reaches the run's worker.

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


class RunBridge(QObject):
    owned = Signal(object)
    """The runner took charge of a run: launched (queued) or adopted from the store, with
    its name and epochs; the first signal of every run (payload: engine.protocol.Owned)."""
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
    _SHOWN = frozenset({"owned", "started", "metrics", "epoch", "system", "log", "status", "checkpoint",
                        "finished"})

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
        self._following = False
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

    def follow_store(self) -> None:
        """Start adopting the store's other active runs (their events begin to
        arrive); called once, by the view that shows runs, after it connected
        to the signals, so no event of theirs is emitted to nobody."""
        if self._following:
            return
        self._following = True

        def adopt() -> None:
            self._ready.wait()
            adopt_runs = getattr(self._runner, "adopt", None)
            if callable(adopt_runs) and not self._closed:
                adopt_runs()

        threading.Thread(target=adopt, name="adopt-runs", daemon=True).start()

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
    def submit(self, spec: Union[RunSpec, dict[str, Any]], *, name: Optional[str] = None,
               parent_id: Optional[int] = None, resume_from: Optional[str] = None,
               cluster: Optional[str] = None) -> int:
        """Queue a run (a new one, a clone, or one resumed from `resume_from`, a
        checkpoint file of run `parent_id`); its queued row exists and `owned`
        has been emitted when this returns. A bad spec raises
        engine.spec.SpecError and nothing is created. cluster: a Ray cluster's
        address to run it on (a store it cannot share, SQLite, raises
        ValueError saying so, before any row exists)."""
        runner = self.runner
        if cluster is None:
            return int(runner.submit(spec, name=name, parent_id=parent_id, resume_from=resume_from))
        from engine.runner.ray_executor import ray_executor

        place = f"ray:{cluster}"
        runner.add_executor(place, ray_executor(cluster))
        return int(runner.submit(spec, name=name, parent_id=parent_id, resume_from=resume_from, on=place))

    def pause(self, run_id: int) -> Optional[str]:
        """Ask the run to pause after its batch; None once asked, else why not, in words.
        `status` says when it took effect."""
        return self._command("pause", run_id)

    def resume(self, run_id: int) -> Optional[str]:
        return self._command("resume", run_id)

    def stop(self, run_id: int) -> Optional[str]:
        """Graceful: the batch finishes, a checkpoint is saved, the run ends stopped
        (`finished` says when). None once asked, else why not."""
        return self._command("stop", run_id)

    def _command(self, action: str, run_id: int) -> Optional[str]:
        try:
            delivery = getattr(self.runner, action)(run_id)
        except RuntimeError as e:  # the runner could not start
            return str(e)
        if delivery:
            return None
        return getattr(delivery, "problem", None) or f"run {run_id} is not active"

    def active_runs(self) -> list[int]:
        """Runs launched from this window that are queued or running (none before the
        runner started); adopted runs train on whatever this window does."""
        if not self._ready.is_set() or self._runner is None:
            return []
        return list(self._runner.active_runs())

    def can_detach(self) -> bool:
        """Whether runs can outlive this process (the runner has `detach`)."""
        return self._runner is not None and callable(getattr(self._runner, "detach", None))

    def shutdown(self, stop_runs: bool = True, timeout: Optional[float] = 30.0) -> None:
        """Before the app quits. stop_runs: stop every run launched from this
        window gracefully (each saves a checkpoint and ends `stopped`). Otherwise
        detach them (the runner's `detach`): running ones train on in their worker
        processes after this one exits; queued ones end `stopped`, never started.
        Adopted runs were never this window's: they train on either way."""
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
            # write their own rows; the next start adopts them.
            self._runner.detach()
        # A runner without detach has nothing to call here: shutdown(stop_runs=False)
        # would block until the runs finish. Its workers, whose supervisor is then
        # gone, stop with a checkpoint (engine.worker), so nothing is lost.


def _default_runner(db_url: str) -> Any:
    from engine.runner import Runner

    return Runner(db_url, adopt=True)  # every active run of the store shows, wherever it started


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
