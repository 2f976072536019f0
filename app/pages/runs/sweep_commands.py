"""What the Sweep view's buttons do: pause, resume or stop a sweep as a whole
(engine.sweeps.control.request: the sweep's supervisor, wherever it runs,
polls its row and applies it), and re-run a failed trial.

Re-running a failed trial launches a new run with the failed trial's exact
spec through the app's Runner (the Train page shows it like any run), as a
trial of the same sweep numbered after the last, its parameters recorded
in the "sweep/params" run document with `retry_of` naming the failed run.
While a supervisor runs the sweep this is refused: the supervisor numbers
the trials and its sampler would not know the extra one; pause is not
enough for the same reason. Stop the sweep (or let it finish) first.
"""
from __future__ import annotations

from typing import Any, Optional


def sweep_command(store: Any, sweep_id: int, action: str) -> str:
    """Pause, resume or stop; returns what was done in words (ValueError: why not, with the fix)."""
    from engine.sweeps.control import request

    return request(store, sweep_id, action)  # type: ignore[arg-type]


def rerun_problem(store: Any, sweep_id: int) -> Optional[str]:
    """Why a trial of this sweep cannot be re-run now (None: it can)."""
    from engine.sweeps.control import supervisor_alive

    sweep = store.get_sweep(sweep_id)
    if sweep.status in ("running", "paused", "queued") and supervisor_alive(sweep):
        return (f"sweep {sweep_id} is {sweep.status} and its supervisor numbers the trials; "
                f"stop the sweep (or let it finish), then re-run the failed trial")
    return None


def rerun_trial(store: Any, runner: Any, run_id: int) -> int:
    """Launch the failed trial `run_id` again as a new trial of its sweep; the new run's id.
    ValueError says why it cannot be (not a sweep's trial, its supervisor is running)."""
    from engine.sweeps.trials import PARAMS_DOC

    run = store.get_run(run_id)
    if run.sweep_id is None:
        raise ValueError(f"run {run_id} is not a sweep's trial")
    problem = rerun_problem(store, run.sweep_id)
    if problem:
        raise ValueError(problem)
    numbers = [r.trial_number for r in store.list_runs(sweep_id=run.sweep_id) if r.trial_number is not None]
    number = max(numbers, default=0) + 1
    sweep = store.get_sweep(run.sweep_id)
    spec = dict(run.spec)
    spec["name"] = f"{sweep.name} #{number}"[:200]
    new_id = int(runner.submit(spec, name=spec["name"], parent_id=run_id, sweep_id=run.sweep_id,
                               trial_number=number))
    stored = store.get_document(run_id, PARAMS_DOC) or {}
    params = stored.get("params") if isinstance(stored.get("params"), dict) else {}
    store.put_document(new_id, PARAMS_DOC, {"params": params, "retry_of": run_id})
    return new_id


def connect_view(page: Any, view: Any) -> None:
    """Wire a Sweep view window to the Runs page: trials select runs, buttons act."""
    view.trials_selected.connect(page.select_runs)
    view.command_requested.connect(lambda sweep_id, action: _command(page, view, sweep_id, action))
    view.rerun_requested.connect(lambda run_id: _rerun(page, view, run_id))


def _command(page: Any, view: Any, sweep_id: int, action: str) -> None:
    def done(text: str) -> None:
        view.say(text[:1].upper() + text[1:])
        page.state.status_message.emit(text)
        view.reload()
        page.sweeps.reload(force=True)

    page.worker.submit(lambda: sweep_command(page.store(), sweep_id, action), done,
                       lambda message, _trace: view.say(f"Cannot {action} sweep {sweep_id}: {message}", error=True))


def _rerun(page: Any, view: Any, run_id: int) -> None:
    from app.bridge import get_bridge
    from engine.spec import SpecError

    try:
        new_id = rerun_trial(page.store(), get_bridge(page.state).runner, run_id)
    except SpecError as e:
        view.say(f"Cannot re-run run {run_id}: its spec is refused: {'; '.join(e.errors)}", error=True)
        return
    except (ValueError, RuntimeError) as e:
        view.say(f"Cannot re-run run {run_id}: {e}", error=True)
        return
    view.say(f"Re-running the failed trial (run #{run_id}) as run #{new_id}; the Train page shows it training")
    page.state.runs_changed.emit()
    page.sweeps.reload(force=True)  # an ended sweep gained a trial
    view.reload()
