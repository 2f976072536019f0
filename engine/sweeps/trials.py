"""A sweep's trials as the store holds them: runs with `sweep_id`, their
parameters (the run document "sweep/params", else read off the run's spec)
and the sweep metric's value. Shared by the supervisor (rebuilding its
study), `layerdeck sweeps show` and the app's sweep view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from engine.store import RunStore
from engine.store.entities import Run
from engine.sweeps.document import SweepDocument, parse_sweep
from engine.sweeps.paths import get_value

PARAMS_DOC = "sweep/params"  # run document: {"params": {path: value}, "retry_of": run id or null}


@dataclass(frozen=True)
class Trial:
    number: int
    run_id: int
    status: str  # the run's status (completed, pruned, failed, stopped, crashed, or still active)
    params: dict[str, Any]
    value: Optional[float]  # the sweep metric's last value; None when the run has none (yet)
    retry_of: Optional[int] = None  # run id of the cut-short trial this one trains again


def document(store: RunStore, sweep_id: int) -> SweepDocument:
    sweep = store.get_sweep(sweep_id)
    return parse_sweep(sweep.spec, source=f"sweep {sweep_id}")


def metric_value(run: Run, metric: str) -> Optional[float]:
    entry = (run.summary.get("metrics") or {}).get(metric)
    value = entry.get("last") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def trial_params(store: RunStore, run: Run, doc: SweepDocument) -> tuple[dict[str, Any], Optional[int]]:
    """(params, retry_of): from the run's document, else read off its spec (a
    supervisor that died between creating the run and writing the document)."""
    stored = store.get_document(run.id, PARAMS_DOC)
    if stored and isinstance(stored.get("params"), dict):
        return dict(stored["params"]), stored.get("retry_of")
    params: dict[str, Any] = {}
    for p in doc.parameters:
        try:
            params[p.path] = get_value(run.spec, p.path)
        except KeyError:
            pass  # dropped for this trial's optimizer type
    return params, None


def list_trials(store: RunStore, sweep_id: int, doc: Optional[SweepDocument] = None,
                best_first: bool = False) -> list[Trial]:
    """Every trial of the sweep, by trial number, or the best first (then the
    rest by number: completed trials with a value, best to worst, lead)."""
    doc = doc or document(store, sweep_id)
    out = []
    for run in store.list_runs(sweep_id=sweep_id):
        params, retry_of = trial_params(store, run, doc)
        out.append(Trial(number=run.trial_number or 0, run_id=run.id, status=run.status, params=params,
                         value=metric_value(run, doc.metric), retry_of=retry_of))
    out.sort(key=lambda t: (t.number, t.run_id))
    if best_first:
        sign = -1.0 if doc.maximize else 1.0
        out.sort(key=lambda t: (t.status != "completed" or t.value is None,
                                sign * (t.value or 0.0) if t.status == "completed" else 0.0, t.number))
    return out


def epoch_values(store: RunStore, run_id: int, metric: str) -> dict[int, float]:
    """The metric at the end of each epoch (what the pruner was fed), for a rebuilt study."""
    out: dict[int, float] = {}
    for curve in store.get_curves([run_id], [metric], buckets=None):
        for epoch, value in zip(curve.epochs.tolist(), curve.values.tolist()):
            if epoch > 0 and math.isfinite(value):
                out[int(epoch)] = float(value)
    return out
