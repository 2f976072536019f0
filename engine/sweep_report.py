"""What a sweep's trials say, as plain data for the Sweep view (and anything
else that reports on a sweep): the parameters and their scales, one `Trial`
per run with its parameter values and its value of the sweep's metric,
progress (N of M, best so far, ETA), the best-so-far curve, each trial's
metric per epoch (the intermediate values the pruner was fed), the top-k%
trials, and parameter importance from Optuna's evaluators.

Pure functions over store entities (engine.store Sweep and Run); no Qt, and
Optuna is imported only by `param_importance`. Parameter values are read
from each trial's own stored spec, so a report never depends on how the
supervisor recorded its sampling.

    runs = store.list_runs(sweep_id=3)
    report = build_report(store.get_sweep(3), runs,
                          intermediate=epoch_ends(store, [r.id for r in runs], "val/accuracy"))
    report.done, report.planned, report.best_value, report.eta_s, report.intermediate
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from engine.status import ACTIVE, RunStatus
from engine.sweeps.trials import metric_value

MISSING = object()  # a path the spec does not have
LOG_KINDS = ("log_uniform", "log_int")
RANGE_KINDS = ("uniform", "log_uniform", "int", "log_int")
# Trials whose metric counts: a pruned trial's value is its last report (as Optuna does).
VALUED = frozenset({RunStatus.COMPLETED, RunStatus.PRUNED})


@dataclass(frozen=True)
class SweepParam:
    """One swept parameter: its spec path and its domain as the sweep document gives it."""

    path: str
    kind: str  # values | uniform | log_uniform | int | log_int
    low: Optional[float] = None
    high: Optional[float] = None
    values: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind in LOG_KINDS

    @property
    def categorical(self) -> bool:
        """Values that are not all numbers (words, flags): plotted as categories."""
        return self.kind == "values" and not all(_is_number(v) for v in self.values)


@dataclass(frozen=True)
class Trial:
    run_id: int
    number: int
    name: str
    status: str
    params: dict[str, Any]
    value: Optional[float]  # the sweep's metric for this trial (None: not measured)
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None

    @property
    def duration_s(self) -> Optional[float]:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass
class SweepReport:
    sweep_id: int
    name: str
    status: str
    method: str
    metric: str
    goal: str  # maximize | minimize
    params: list[SweepParam]
    trials: list[Trial]  # by trial number
    planned: Optional[int]  # the trials the sweep will run (None: unknown)
    parallel: int = 1
    best: Optional[Trial] = None
    eta_s: Optional[float] = None
    counts: dict[str, int] = field(default_factory=dict)
    # run id -> (epochs, values): the metric at the end of each epoch (engine.store.epochs.epoch_ends)
    intermediate: dict[int, tuple[list[int], list[float]]] = field(default_factory=dict)

    @property
    def done(self) -> int:
        """Trials that ended, whatever their end."""
        return sum(1 for t in self.trials if t.status not in ACTIVE)

    @property
    def best_value(self) -> Optional[float]:
        return None if self.best is None else self.best.value

    def valued(self) -> list[Trial]:
        """Trials with a value of the metric, by trial number."""
        return [t for t in self.trials if t.value is not None]

    def trial_of(self, run_id: int) -> Optional[Trial]:
        return next((t for t in self.trials if t.run_id == run_id), None)


# --- reading the sweep document ------------------------------------------------------------

def sweep_params(doc: dict[str, Any]) -> list[SweepParam]:
    """The parameters of a sweep document ({"optimizer.lr": {"log_uniform": [1e-4, 0.1]}, ...})."""
    out = []
    for path, domain in (doc.get("parameters") or {}).items():
        if not isinstance(domain, dict) or len(domain) != 1:
            continue
        kind, arg = next(iter(domain.items()))
        if kind == "values" and isinstance(arg, list):
            out.append(SweepParam(path, "values", values=tuple(arg)))
        elif kind in RANGE_KINDS and isinstance(arg, list) and len(arg) == 2:
            out.append(SweepParam(path, kind, low=float(arg[0]), high=float(arg[1])))
    return out


def planned_trials(doc: dict[str, Any]) -> Optional[int]:
    """Grid: the product of the values lists; otherwise the document's `trials`."""
    if doc.get("method") == "grid":
        params = sweep_params(doc)
        if not params or any(p.kind != "values" for p in params):
            return None
        return math.prod(len(p.values) for p in params)
    trials = doc.get("trials")
    return int(trials) if isinstance(trials, int) and not isinstance(trials, bool) else None


def read_path(spec: Any, path: str) -> Any:
    """The value at `path` ("model.blocks.1.out_features") in a spec dict, or MISSING."""
    node = spec
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


# --- trials ---------------------------------------------------------------------------------

def trial_from_run(run: Any, params: Sequence[SweepParam], metric: str) -> Trial:
    """One trial; its value is what the supervisor told Optuna (engine.sweeps.trials.metric_value)."""
    spec = run.spec if isinstance(run.spec, dict) else {}
    values = {p.path: read_path(spec, p.path) for p in params}
    value = metric_value(run, metric) if run.status in VALUED else None
    number = run.trial_number if run.trial_number is not None else run.id
    return Trial(run.id, int(number), run.name, str(run.status),
                 {k: v for k, v in values.items() if v is not MISSING}, value,
                 run.started_at, run.finished_at)


def build_report(sweep: Any, runs: Sequence[Any], now: Optional[datetime] = None,
                 intermediate: Optional[dict[int, tuple[list[int], list[float]]]] = None) -> SweepReport:
    """The report of `sweep` (a store Sweep) from its trial runs (store Runs);
    `intermediate`: each run's metric per epoch, when the caller read it."""
    doc = sweep.spec if isinstance(sweep.spec, dict) else {}
    params = sweep_params(doc)
    trials = sorted((trial_from_run(r, params, sweep.metric) for r in runs),
                    key=lambda t: (t.number, t.run_id))
    parallel = doc.get("parallel")
    parallel = parallel if isinstance(parallel, int) and parallel > 0 else 1
    report = SweepReport(sweep.id, sweep.name, sweep.status, sweep.method, sweep.metric, sweep.goal,
                         params, trials, sweep.state.get("planned") or planned_trials(doc), parallel)
    valued = [t for t in report.valued() if t.status == RunStatus.COMPLETED]  # a pruned trial never wins
    if valued:
        pick = max if sweep.goal == "maximize" else min
        report.best = pick(valued, key=lambda t: t.value)  # type: ignore[arg-type,return-value]
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    report.counts = counts
    mine = {t.run_id for t in trials}
    report.intermediate = {k: v for k, v in (intermediate or {}).items() if k in mine}
    report.eta_s = estimate_eta(report, now or datetime.now(timezone.utc))
    return report


def estimate_eta(report: SweepReport, now: datetime) -> Optional[float]:
    """Seconds until the planned trials are done: the mean trial time times the
    trials left, `parallel` at a time, less what the running ones have done."""
    if report.planned is None or report.status not in ("queued", "running"):
        return None
    left = report.planned - report.done
    if left <= 0:
        return 0.0
    times = [d for t in report.trials if t.status not in ACTIVE and (d := t.duration_s) is not None]
    if not times:
        return None
    mean = sum(times) / len(times)
    running = [t for t in report.trials if t.status in ACTIVE and t.started_at is not None]
    spent = sum(min(mean, (now - t.started_at).total_seconds()) for t in running if t.started_at is not None)
    return max(0.0, (left * mean - spent) / report.parallel)


def best_so_far(values: Sequence[float], goal: str) -> list[float]:
    """The running best of `values` in the sweep's direction."""
    out: list[float] = []
    pick = max if goal == "maximize" else min
    for v in values:
        out.append(v if not out else pick(out[-1], v))
    return out


def top_trials(report: SweepReport, percent: float) -> set[int]:
    """Run ids of the best `percent` % of the valued trials (at least one when any is valued)."""
    valued = report.valued()
    if percent >= 100 or not valued:
        return {t.run_id for t in valued}
    k = max(1, math.ceil(len(valued) * percent / 100))
    ranked = sorted(valued, key=lambda t: t.value, reverse=report.goal == "maximize")  # type: ignore[arg-type,return-value]
    return {t.run_id for t in ranked[:k]}


# --- parameter importance ------------------------------------------------------------------

EVALUATORS = ("fanova", "ped_anova", "mean_decrease_impurity")
EVALUATOR_NAMES = {"fanova": "fANOVA", "ped_anova": "PED-ANOVA", "mean_decrease_impurity": "mean decrease impurity"}


class ImportanceError(ValueError):
    """Importance cannot be computed yet; the message says why in words."""


def param_importance(report: SweepReport, evaluator: str = "fanova") -> dict[str, float]:
    """How much each parameter explains the metric (Optuna's evaluators over an
    in-memory study of the valued trials); {path: share}, largest first."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    varied = [p for p in report.params if p.kind != "values" or len(set(map(repr, p.values))) > 1]
    # Completed trials only, as Optuna's evaluators take them (a pruned trial's value is an early one).
    trials = [t for t in report.valued()
              if t.status == RunStatus.COMPLETED and all(p.path in t.params for p in varied)]
    if len(varied) < 1:
        raise ImportanceError("no parameter varies in this sweep")
    if len(trials) < 2:
        raise ImportanceError(f"importance needs at least 2 completed trials with {report.metric} "
                              f"(this sweep has {len(trials)})")
    dists: dict[str, Any] = {}
    for p in varied:
        if p.kind == "values":
            dists[p.path] = CategoricalDistribution([_hashable(v) for v in p.values])
        elif p.kind in ("int", "log_int"):
            dists[p.path] = IntDistribution(int(p.low or 0), int(p.high or 0), log=p.log)
        else:
            dists[p.path] = FloatDistribution(float(p.low or 0), float(p.high or 0), log=p.log)
    made = []
    for t in trials:
        params = {p.path: _hashable(t.params[p.path]) for p in varied}
        try:
            made.append(optuna.trial.create_trial(params=params, distributions=dists, value=t.value))
        except ValueError:  # a value outside the document's range (the spec was edited): leave it out
            continue
    if len(made) < 2:
        raise ImportanceError("importance needs at least 2 completed trials inside the sweep's ranges")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if report.goal == "maximize" else "minimize")
    study.add_trials(made)
    ev = {"fanova": lambda: optuna.importance.FanovaImportanceEvaluator(seed=0),
          "ped_anova": lambda: optuna.importance.PedAnovaImportanceEvaluator(),
          "mean_decrease_impurity": lambda: optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0),
          }[evaluator]()
    try:
        result = optuna.importance.get_param_importances(study, evaluator=ev)
    except (ValueError, RuntimeError) as e:
        raise ImportanceError(f"importance could not be computed: {e}") from e
    return {k: float(v) for k, v in result.items()}


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
