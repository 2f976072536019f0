"""Optuna as a library: the sweep's distributions, sampler, pruner and an
in-memory study, rebuilt from LayerDeck's own rows whenever a supervisor
starts. Optuna's RDBStorage is never used: it keeps its own Alembic version
table, which clashes with LayerDeck's migrations in the same database.
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, Literal, Optional

from engine.sweeps.document import Parameter, SweepDocument

if TYPE_CHECKING:
    import optuna


def distribution(p: Parameter) -> "optuna.distributions.BaseDistribution":
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if p.kind == "values":
        return CategoricalDistribution(list(p.values))
    if p.kind == "int":
        return IntDistribution(int(p.low or 0), int(p.high or 0))
    return FloatDistribution(float(p.low or 0), float(p.high or 0), log=p.log)


def distributions(doc: SweepDocument) -> dict[str, "optuna.distributions.BaseDistribution"]:
    return {p.path: distribution(p) for p in doc.parameters}


def grid_points(doc: SweepDocument) -> list[dict[str, Any]]:
    """Every combination, in document order (the last parameter varies fastest)."""
    names = [p.path for p in doc.parameters]
    return [dict(zip(names, combo)) for combo in itertools.product(*(p.values for p in doc.parameters))]


def point_key(params: dict[str, Any]) -> str:
    """A grid point's identity, whatever order its keys come in."""
    import json

    return json.dumps(params, sort_keys=True)


def make_sampler(doc: SweepDocument) -> "optuna.samplers.BaseSampler":
    """random: RandomSampler; tpe: TPESampler; grid: a RandomSampler that is
    never consulted, because every grid trial is enqueued with all its values
    (see docs/DESIGN-NOTES.md, "Sweeps": why not GridSampler)."""
    import optuna

    if doc.method == "tpe":
        return optuna.samplers.TPESampler(seed=doc.seed)
    return optuna.samplers.RandomSampler(seed=doc.seed)


def make_pruner(doc: SweepDocument) -> "optuna.pruners.BasePruner":
    import optuna

    o = doc.pruner_options
    if doc.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=o["startup_trials"], n_warmup_steps=o["warmup_epochs"])
    if doc.pruner == "hyperband":
        epochs = int(doc.base["training"]["epochs"])
        return optuna.pruners.HyperbandPruner(min_resource=min(o["min_epochs"], epochs), max_resource=epochs,
                                              reduction_factor=o["reduction_factor"])
    return optuna.pruners.NopPruner()


def new_study(doc: SweepDocument) -> "optuna.Study":
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep prints its own lines
    direction: Literal["maximize", "minimize"] = "maximize" if doc.maximize else "minimize"
    return optuna.create_study(direction=direction, sampler=make_sampler(doc), pruner=make_pruner(doc))


def add_finished(study: "optuna.Study", doc: SweepDocument, state: str, params: dict[str, Any],
                 value: Optional[float], intermediate: dict[int, float], run_id: Optional[int]) -> None:
    """Put one stored trial back into the study (state: complete | pruned | fail)."""
    import optuna
    from optuna.trial import TrialState

    dists = distributions(doc)
    kept = {k: v for k, v in params.items() if k in dists and _contains(dists[k], v)}
    trial_state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "fail": TrialState.FAIL}[state]
    if trial_state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
        trial_state = TrialState.FAIL
    study.add_trial(optuna.trial.create_trial(
        state=trial_state, value=value if trial_state == TrialState.COMPLETE else None,
        params=kept, distributions={k: dists[k] for k in kept},
        intermediate_values={e: v for e, v in intermediate.items() if math.isfinite(v)},
        user_attrs={"run_id": run_id} if run_id is not None else {}))


def _contains(dist: "optuna.distributions.BaseDistribution", value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False
