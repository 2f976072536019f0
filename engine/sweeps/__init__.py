"""Hyperparameter sweeps: many runs of one spec with some fields varied.

The public API (what the CLI and the app use):

Documents (engine.sweeps.document, engine.sweeps.paths):
    load_sweep(path) -> SweepDocument          read a sweep file; `base` may be a path beside it
    parse_sweep(dict, base_dir=, source=) -> SweepDocument
        raise SweepError (a SpecError: `.errors` is a list of "json.path: message", all at once)
        for unknown keys, an unknown parameter path ("did you mean optimizer.lr?"), a range
        that is not [low, high], a value the run spec refuses (checked with engine.spec.parse_spec
        before any trial starts), a grid with a non-`values` parameter or fewer `trials` than
        its combinations (naming the count).
    SweepDocument: name, base (the run spec dict, defaults written out), method (grid | random
        | tpe), metric, goal (maximize | minimize), trials, parallel, pruner (none | median |
        hyperband), parameters (tuple of Parameter), seed, max_failures; .to_dict() is the
        document with its base inlined (what the sweeps table stores; parse_sweep reads it back).
    Parameter: path ("model.blocks.1.out_features"), kind (values | uniform | log_uniform | int),
        values, low, high, .log (draw on a log scale).
    planned_trials(doc) -> int                 a grid's cartesian product, else doc.trials
    apply_params(spec_dict, {path: value}) -> dict     the spec with the values written in
    build_trial_spec(doc, params, trial_number) -> dict    a trial's validated run spec
    valid_paths(spec_dict) -> list[str]        every path a parameter may name

Running (engine.sweeps.supervisor, engine.sweeps.control):
    start_sweep(store, doc) -> int             the sweeps row (status queued)
    SweepSupervisor(db_url, sweep_id, executor=, on_trial=).run() -> str
        runs the sweep to its end in this process: trials are Runner runs with sweep_id and
        trial_number (1, 2, ...); returns the sweep's final status (completed | stopped | failed).
    request(store, sweep_id, "pause" | "resume" | "stop")   from anywhere: the supervisor polls
        the row's status and applies it to the sweep's live trials.
    trials(store, sweep_id) -> list[Trial]     the sweep's trials, best first (Trial: run, number,
        params, value, status).

Store: a sweep is a `sweeps` row (status, best_run_id, supervisor pid/host/heartbeat_at,
state JSON) and its trials are runs with `sweep_id` and `trial_number`; each trial's
parameters are the run document "sweep/params". Optuna's study lives in memory and is
rebuilt from these rows on resume; Optuna's own storage is never used.
"""
from engine.sweeps.document import (
    METHODS,
    METRICS,
    PRUNERS,
    Parameter,
    SweepDocument,
    SweepError,
    build_trial_spec,
    grid_size,
    load_sweep,
    parse_sweep,
    planned_trials,
)
from engine.sweeps.paths import apply_params, get_value, split_path, valid_paths

__all__ = ["METHODS", "METRICS", "PRUNERS", "Parameter", "SweepDocument", "SweepError", "apply_params",
           "build_trial_spec", "get_value", "grid_size", "load_sweep", "parse_sweep", "planned_trials",
           "split_path", "valid_paths"]
