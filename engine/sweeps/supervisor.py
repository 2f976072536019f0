"""The sweep supervisor: asks Optuna for trials, runs each as an ordinary
run through a Runner, feeds the pruner every epoch and tells Optuna how each
trial ended. One supervisor per sweep, in the process that called `run()`
(`layerdeck sweep`); it writes its pid, host and heartbeat on the sweep's row.

Its journal is the row's `state` JSON:

    {"planned": 12, "finished": 5, "failures": 1,
     "done": {"<run id>": "completed" | "pruned" | "failed" | "crashed" | "stopped" | "no-metric"},
     "pruning": [run ids being stopped by the pruner],
     "best_value": 0.97}

`done` holds the trials this sweep has settled. On resume (a new supervisor
after one died) every trial's run is read back: completed, pruned, failed
and crashed ones are put back into a fresh in-memory study as they ended; a
run the pruner was stopping becomes `pruned`; a trial whose run ended
`stopped` (or `crashed`) without being settled was cut short by the
supervisor's death: it keeps its run, trial number and checkpoint, does not
count towards the budget, and a new trial (the next number; its
"sweep/params" document names the run it retries, which is also its
parent) continues it from its last checkpoint, or trains its values from
the start if it has none. Trial numbers only grow, so none repeats.
"""
from __future__ import annotations

import os
import queue
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from engine.protocol import Epoch, Event, Finished
from engine.runner import Runner
from engine.spec import SpecError
from engine.status import ACTIVE, ordered
from engine.store import RunStore
from engine.store.convert import utcnow
from engine.sweeps.control import check_no_live_supervisor
from engine.sweeps.document import SweepDocument, build_trial_spec, planned_trials
from engine.sweeps.study import add_finished, distributions, grid_points, new_study, point_key
from engine.sweeps.trials import PARAMS_DOC, document, epoch_values, list_trials, metric_value

POLL_S = 0.25  # events are handled as they come; the sweep row is read this often
HEARTBEAT_S = 2.0
LEFTOVER_WAIT_S = 120.0  # on resume: how long a dead supervisor's trials get to stop by themselves
FAILED_STATUSES = ("failed", "crashed", "no-metric")


@dataclass(frozen=True)
class TrialResult:
    """One trial as it ended; status is the trial's: completed, pruned,
    failed, crashed, stopped (by the user, or cut short by a sweep stop), or
    no-metric (the run completed without logging the sweep's metric)."""

    number: int
    run_id: int
    params: dict[str, Any]
    value: Optional[float]
    status: str
    error: Optional[str] = None


def start_sweep(store: RunStore, doc: SweepDocument) -> int:
    """The sweep's row (status queued), holding the document with its base inlined."""
    sweep_id = store.create_sweep(name=doc.name, spec=doc.to_dict(), method=doc.method, metric=doc.metric,
                                  goal=doc.goal)
    store.update_sweep(sweep_id, state={"planned": planned_trials(doc), "finished": 0, "failures": 0,
                                        "done": {}, "pruning": []})
    return sweep_id


class SweepSupervisor:
    """Runs sweep `sweep_id` of the store at `db_url` to its end: `run()`
    returns its final status (completed, stopped or failed).

    executor: the Runner's executor factory (None: local workers; a Ray
    executor for a cluster). on_trial(TrialResult) is called as each trial
    ends, on_note(str) with what the supervisor does (pruning, pausing, ...).
    """

    def __init__(self, db_url: str, sweep_id: int, *, executor: Any = None,
                 worker_command: Optional[list[str]] = None,
                 on_trial: Optional[Callable[[TrialResult], None]] = None,
                 on_note: Optional[Callable[[str], None]] = None, poll_s: float = POLL_S):
        self.store = RunStore(db_url)
        self.sweep_id = sweep_id
        self.doc = document(self.store, sweep_id)
        self.planned = planned_trials(self.doc)
        self.on_trial = on_trial or (lambda result: None)
        self.on_note = on_note or (lambda text: None)
        self.poll_s = poll_s
        concurrency = {"cpu": self.doc.parallel}
        if executor is None:
            from engine.runner.local import gpu_count

            concurrency.update({f"cuda:{i}": self.doc.parallel for i in range(gpu_count())})
        self.runner = Runner(db_url, executor=executor, worker_command=worker_command, concurrency=concurrency)
        self.study = new_study(self.doc)
        self.dists = distributions(self.doc)
        self.state: dict[str, Any] = {}
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._live: dict[int, Any] = {}  # run id -> optuna Trial
        self._numbers: dict[int, int] = {}  # run id -> trial number
        self._params: dict[int, dict[str, Any]] = {}
        self._reported: dict[int, int] = {}  # run id -> the last epoch told to its trial
        self._retries: list[dict[str, Any]] = []  # parameters of cut-short trials, to ask for again
        # A cut-short trial's point -> (its run, its last checkpoint): the next trial with those values
        # continues from there instead of starting over.
        self._continue: dict[str, tuple[int, Optional[str]]] = {}
        self._grid_left: list[dict[str, Any]] = grid_points(self.doc) if self.doc.method == "grid" else []
        self._paused_runs: set[int] = set()
        self._paused = False
        self._stopping = False

    # --- the whole sweep ---------------------------------------------------------------------
    def run(self) -> str:
        """Claim the sweep, rebuild the study from its stored trials, run the rest."""
        check_no_live_supervisor(self.store, self.sweep_id)
        note = getattr(self.runner.executor, "cpu_note", None)
        if note:  # parallel past the cores: CPU trials queue (LocalExecutor)
            self.on_note(note)
        self._beat(status="running")
        self._rebuild()
        unsubscribe = self.runner.subscribe(self._events.put)
        status = "stopped"
        try:
            status = self._loop()
        except KeyboardInterrupt:
            self.on_note("interrupted: stopping the live trials (each saves a checkpoint)")
            self._stop_trials()
            self._wait_live()
            status = "stopped"
        except Exception:  # the store or the executor failed under us: leave it resumable
            self._stop_trials()
            status = "stopped"
            raise
        finally:
            unsubscribe()
            self.runner.shutdown(stop_runs=True, timeout=30)
            self._save(status=status, pid=None, heartbeat_at=utcnow())
            self.store.close()
        return status

    def _loop(self) -> str:
        last_read = 0.0
        while True:
            self._handle_events(self.poll_s)
            if time.monotonic() - last_read < self.poll_s:
                continue
            last_read = time.monotonic()
            requested = self.store.get_sweep(self.sweep_id).status
            self._beat()
            if requested == "stopped":
                self.on_note("stop requested: stopping the live trials (each saves a checkpoint)")
                self._stop_trials()
                self._wait_live()
                return "stopped"
            if self._failed_out():
                self.on_note(f"{self.state['failures']} trials failed, more than max_failures "
                             f"{self.doc.max_failures}: stopping the sweep")
                self._stop_trials()
                self._wait_live()
                return "failed"
            self._apply_pause(requested == "paused")
            if not self._paused:
                while len(self._live) < self.doc.parallel and self._left_to_launch() > 0:
                    self._launch()
            if not self._live and self._left_to_launch() <= 0:
                return "completed"

    def _left_to_launch(self) -> int:
        return self.planned - int(self.state["finished"]) - len(self._live)

    def _failed_out(self) -> bool:
        return self.doc.max_failures is not None and int(self.state["failures"]) > self.doc.max_failures

    # --- trials ------------------------------------------------------------------------------
    def _launch(self) -> None:
        if self.doc.method == "grid":
            live = {point_key(p) for p in self._params.values()}
            point = next(p for p in self._grid_left if point_key(p) not in live)
            self.study.enqueue_trial(point)
        elif self._retries:
            self.study.enqueue_trial(self._retries.pop(0))
        trial = self.study.ask(self.dists)
        number = trial.number + 1
        params = dict(trial.params)
        try:
            spec = build_trial_spec(self.doc, params, number)
        except SpecError as e:  # a combination of values the document check could not foresee
            self.study.tell(trial, state=_fail())
            self._count(None, "failed")
            self.on_trial(TrialResult(number, 0, params, None, "failed", f"the trial's spec is refused: {e}"))
            self._grid_done(params)
            return
        retry_of, resume_from = self._continue.pop(point_key(params), (None, None))
        run_id = self.runner.submit(spec, sweep_id=self.sweep_id, trial_number=number, parent_id=retry_of,
                                    resume_from=resume_from)
        trial.set_user_attr("run_id", run_id)
        self.store.put_document(run_id, PARAMS_DOC, {"params": params, "retry_of": retry_of})
        self._live[run_id], self._numbers[run_id], self._params[run_id] = trial, number, params

    def _handle_events(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if isinstance(event, Epoch):
                self._on_epoch(event)
            elif isinstance(event, Finished) and event.run_id in self._live:
                self._settle(event.run_id, event.status, event.error)

    def _on_epoch(self, event: Epoch) -> None:
        trial = self._live.get(event.run_id)
        value = event.metrics.get(self.doc.metric)
        if trial is None or value is None or value != value:
            return
        told = self._reported.get(event.run_id, 0)
        if event.epoch <= told:  # a run followed through the store repeats an epoch as more of its keys land
            return
        if event.epoch > told + 1:
            # Epochs between two events (a run on a Ray cluster is followed through the store, a few
            # reads a second): the pruner compares trials epoch by epoch, so it is told each of them.
            for epoch, missed in sorted(epoch_values(self.store, event.run_id, self.doc.metric).items()):
                if told < epoch < event.epoch:
                    trial.report(missed, epoch)
        trial.report(float(value), event.epoch)
        self._reported[event.run_id] = event.epoch
        if (self.doc.pruner != "none" and event.epoch < event.total_epochs
                and event.run_id not in self.state["pruning"] and trial.should_prune()):
            self.state["pruning"].append(event.run_id)
            self._save()  # before the stop: a supervisor dying now still ends it pruned on resume
            self.on_note(f"trial {self._numbers[event.run_id]}: pruned at epoch {event.epoch} "
                         f"({self.doc.metric} {value:.4g}); stopping run {event.run_id} with a checkpoint")
            self.runner.stop(event.run_id)

    def _settle(self, run_id: int, status: str, error: Optional[str]) -> None:
        from optuna.trial import TrialState

        trial = self._live.pop(run_id)
        number, params = self._numbers.pop(run_id), self._params.pop(run_id)
        self._reported.pop(run_id, None)
        self._paused_runs.discard(run_id)
        value: Optional[float] = None
        if status == "stopped" and run_id in self.state["pruning"]:
            self.store.set_status(run_id, "pruned", only_from=["stopped"])
            status = "pruned"
        if status == "stopped" and self._stopping:  # cut short by the sweep's own stop: retried on resume
            self.study.tell(trial, state=TrialState.FAIL)
            self.on_trial(TrialResult(number, run_id, params, None, "stopped", error))
            return
        if status == "completed":
            value = metric_value(self.store.get_run(run_id), self.doc.metric)
            if value is None:
                status, error = "no-metric", f"the run ended without logging {self.doc.metric}"
                self.study.tell(trial, state=TrialState.FAIL)
            else:
                self.study.tell(trial, value)
        elif status == "pruned":
            value = metric_value(self.store.get_run(run_id), self.doc.metric)  # where it stood when pruned
            self.study.tell(trial, state=TrialState.PRUNED)
        else:  # failed, crashed, or stopped by hand: the sampler learns nothing good here
            self.study.tell(trial, state=TrialState.FAIL)
        self._grid_done(params)
        self._count(run_id, status)
        self._update_best()
        self._save()
        self.on_trial(TrialResult(number, run_id, params, value, status, error))

    def _count(self, run_id: Optional[int], status: str) -> None:
        self.state["finished"] = int(self.state["finished"]) + 1
        if status in FAILED_STATUSES:
            self.state["failures"] = int(self.state["failures"]) + 1
        if run_id is not None:
            self.state["done"][str(run_id)] = status
        if run_id in self.state["pruning"]:
            self.state["pruning"].remove(run_id)

    def _grid_done(self, params: dict[str, Any]) -> None:
        key = point_key(params)
        self._grid_left = [p for p in self._grid_left if point_key(p) != key]

    def _update_best(self) -> None:
        from optuna.trial import TrialState

        if not any(t.state == TrialState.COMPLETE for t in self.study.get_trials(deepcopy=False)):
            return
        best = self.study.best_trial
        self.state["best_value"] = best.value
        if best.user_attrs.get("run_id") is not None:
            self.store.update_sweep(self.sweep_id, best_run_id=int(best.user_attrs["run_id"]))

    # --- pause and stop ------------------------------------------------------------------------
    def _apply_pause(self, wanted: bool) -> None:
        if wanted:
            if not self._paused:
                self.on_note("paused: live trials pause, no new trial starts")
            self._paused = True
            for run_id in list(self._live):
                if run_id not in self._paused_runs and self.runner.pause(run_id):
                    self._paused_runs.add(run_id)
        elif self._paused:
            self.on_note("resumed")
            self._paused = False
            for run_id in list(self._paused_runs):
                self.runner.resume(run_id)
            self._paused_runs.clear()

    def _stop_trials(self) -> None:
        self._stopping = True
        for run_id in list(self._live):
            self.runner.stop(run_id)

    def _wait_live(self) -> None:
        while self._live:
            self._handle_events(self.poll_s)
            self._beat()

    # --- the row ------------------------------------------------------------------------------
    def _beat(self, status: Optional[str] = None) -> None:
        values: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(), "heartbeat_at": utcnow()}
        if status is not None:
            values["status"] = status
        last = getattr(self, "_last_beat", 0.0)
        if status is None and time.monotonic() - last < HEARTBEAT_S:
            return
        self._last_beat = time.monotonic()
        self.store.update_sweep(self.sweep_id, **values)

    def _save(self, **values: Any) -> None:
        self.store.update_sweep(self.sweep_id, state=self.state, **values)

    # --- resume ----------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Put every stored trial back into the study, as the docstring at the top says."""
        sweep = self.store.get_sweep(self.sweep_id)
        state = dict(sweep.state)
        done: dict[str, str] = dict(state.get("done") or {})
        pruning = [int(r) for r in state.get("pruning") or []]
        self._settle_leftovers()
        trials = list_trials(self.store, self.sweep_id, self.doc)
        retried = {t.retry_of for t in trials if t.retry_of is not None}
        finished = failures = cut = 0
        next_number = 1
        for t in trials:
            while next_number < t.number:  # a number asked for but never run (a refused spec)
                add_finished(self.study, self.doc, "fail", {}, None, {}, None)
                next_number += 1
            status = t.status
            if status == "stopped" and t.run_id in pruning:
                self.store.set_status(t.run_id, "pruned", only_from=["stopped"])
                status = "pruned"
            settled = done.get(str(t.run_id))
            cut_short = status in ("stopped", "crashed") and settled is None
            intermediate = epoch_values(self.store, t.run_id, self.doc.metric)
            kind = {"completed": "complete", "pruned": "pruned"}.get(status, "fail")
            add_finished(self.study, self.doc, kind, t.params, t.value, intermediate, t.run_id)
            next_number = t.number + 1
            if cut_short:
                cut += 1
                if t.run_id not in retried:
                    self._retries.append(t.params)
                    self._continue[point_key(t.params)] = (t.run_id, self._last_checkpoint(t.run_id))
                continue
            finished += 1
            outcome = settled or ("no-metric" if status == "completed" and t.value is None else status)
            failures += outcome in FAILED_STATUSES
            done[str(t.run_id)] = outcome
            self._grid_done(t.params)
        self.state = {"planned": self.planned, "finished": finished, "failures": failures, "done": done,
                      "pruning": [], "best_value": None}
        if self.doc.method == "grid":
            self._retries = []  # the grid's points left are what it runs
        self._update_best()
        self._save()
        if trials:
            self.on_note(f"resumed: {finished} of {self.planned} trials finished"
                         + (f"; {cut} cut short (each continues from its checkpoint as a new trial)"
                            if cut else ""))

    def _last_checkpoint(self, run_id: int) -> Optional[str]:
        last = self.store.checkpoint(run_id, "last")
        return last.path if last is not None else None

    def _settle_leftovers(self) -> None:
        """Trials a dead supervisor left active: queued ones never start (the
        queue died with it); running ones stop themselves with a checkpoint
        when its pipe closes, or are asked to stop through the store."""
        active = self.store.list_runs(sweep_id=self.sweep_id, status=ordered(ACTIVE))
        for run in active:
            if run.status == "queued":
                self.store.set_status(run.id, "stopped", error="not started: the sweep's supervisor ended",
                                      only_from=["queued"])
        live = [r.id for r in active if r.status != "queued"]
        if live:
            self.on_note(f"waiting for {len(live)} trial(s) of the previous supervisor to stop")
        deadline = time.monotonic() + LEFTOVER_WAIT_S
        asked = False
        while live:
            live = [r for r in live if self.store.get_run(r).status in ACTIVE]
            if live and not asked and time.monotonic() > deadline - LEFTOVER_WAIT_S + 10:
                for run_id in live:  # a detached or remote worker: no pipe closed for it
                    self.runner.stop(run_id)
                asked = True
            if live and time.monotonic() > deadline:
                raise RuntimeError(f"trial run(s) {', '.join(map(str, live))} of sweep {self.sweep_id} are "
                                   "still running; stop them (layerdeck runs stop ID) and resume again")
            if live:
                time.sleep(self.poll_s)
            self._beat()


def _fail() -> Any:
    from optuna.trial import TrialState

    return TrialState.FAIL
