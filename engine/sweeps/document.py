"""The sweep document: parse and validate it, all problems at once.

    {"name": "digits-lr", "base": "digits_mlp.json", "method": "grid",
     "metric": "val/accuracy", "goal": "maximize", "trials": 20, "parallel": 1,
     "pruner": "none", "seed": 0, "max_failures": 3,
     "parameters": {"optimizer.lr": {"log_uniform": [0.0001, 0.1]},
                    "model.blocks.1.out_features": {"values": [32, 64, 128]},
                    "training.batch_size": {"int": [16, 128]},
                    "regularization.label_smoothing": {"uniform": [0.0, 0.2]}}}

Every problem is one "json.path: message" line in SweepError.errors. A
document that parses is known to be runnable: every parameter path exists in
the base spec, and every value a trial can get (each listed value, both ends
of each range; every grid combination up to GRID_CHECK_LIMIT) makes a spec
that engine.spec.parse_spec accepts.
"""
from __future__ import annotations

import difflib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from engine.blocks.base import key_step
from engine.spec import SpecError, parse_spec
from engine.store.summary import higher_is_better
from engine.sweeps.paths import apply_params, closest_path, join_path, section_type_for, split_path, valid_paths

METHODS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "hyperband")
# A pruner's options and their defaults ("pruner": {"type": "median", "startup_trials": 2}).
# median: no trial is pruned before `startup_trials` trials have finished, nor before its epoch
# `warmup_epochs` + 1; hyperband: brackets from `min_epochs` up to the base spec's epochs.
PRUNER_OPTIONS: dict[str, dict[str, int]] = {
    "none": {}, "median": {"startup_trials": 3, "warmup_epochs": 1},
    "hyperband": {"min_epochs": 1, "reduction_factor": 3}}
GOALS = ("maximize", "minimize")
KINDS = ("values", "uniform", "log_uniform", "int")
# Metrics a trial reports: per epoch (what a pruner is fed), or once at the end (test/*).
EPOCH_METRICS = ("val/accuracy", "val/loss", "val/mae", "val/r2", "train/accuracy", "train/loss", "throughput")
END_METRICS = ("test/accuracy", "test/loss")
METRICS = EPOCH_METRICS + END_METRICS
KEYS = ("name", "base", "method", "metric", "goal", "trials", "parallel", "pruner", "seed",
        "max_failures", "parameters")
GRID_CHECK_LIMIT = 512  # grid combinations checked one by one against the spec (beyond: each value alone)
MAX_PARALLEL = 64


class SweepError(SpecError):
    """A sweep document that cannot be used; `errors` holds one "path: message" per problem."""


@dataclass(frozen=True)
class Parameter:
    """One swept field: `kind` values (a list to choose from), uniform or
    log_uniform (floats in [low, high]) or int (integers in [low, high])."""

    path: str
    kind: str
    values: tuple[Any, ...] = ()
    low: Optional[float] = None
    high: Optional[float] = None

    @property
    def log(self) -> bool:
        return self.kind == "log_uniform"

    def extremes(self) -> list[Any]:
        """The values worth checking against the spec: every listed one, or both ends."""
        return list(self.values) if self.kind == "values" else [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: list(self.values) if self.kind == "values" else [self.low, self.high]}


@dataclass(frozen=True)
class SweepDocument:
    name: str
    base: dict[str, Any]  # the run spec, validated (RunSpec.to_dict(): defaults written out)
    method: str
    metric: str
    goal: str
    trials: int  # for a grid: the size of the cartesian product
    parallel: int
    pruner: str
    parameters: tuple[Parameter, ...]
    seed: int = 0
    max_failures: Optional[int] = None
    pruner_options: dict[str, int] = field(default_factory=dict)  # PRUNER_OPTIONS, defaults filled in
    source: Optional[str] = field(default=None, compare=False)

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    def parameter(self, path: str) -> Parameter:
        return next(p for p in self.parameters if p.path == path)

    def to_dict(self) -> dict[str, Any]:
        """The document with its base inlined: what the sweeps table keeps, and
        parse_sweep reads back unchanged."""
        out: dict[str, Any] = {
            "name": self.name, "base": self.base, "method": self.method, "metric": self.metric,
            "goal": self.goal, "trials": self.trials, "parallel": self.parallel,
            "pruner": {"type": self.pruner, **self.pruner_options} if self.pruner_options else self.pruner,
            "seed": self.seed, "parameters": {p.path: p.to_dict() for p in self.parameters}}
        if self.max_failures is not None:
            out["max_failures"] = self.max_failures
        return out


def planned_trials(doc: SweepDocument) -> int:
    """How many trials the sweep runs to the end: a grid's cartesian product, else `trials`."""
    return grid_size(doc.parameters) if doc.method == "grid" else doc.trials


def grid_size(parameters: tuple[Parameter, ...] | list[Parameter]) -> int:
    return math.prod(len(p.values) for p in parameters) if parameters else 0


def build_trial_spec(doc: SweepDocument, params: dict[str, Any], trial_number: int) -> dict[str, Any]:
    """The run spec of one trial: the base with the parameters written in, named after the sweep."""
    spec = apply_params(doc.base, params)
    spec["name"] = f"{doc.name} #{trial_number}"[:200]
    return parse_spec(spec, f"trial {trial_number}").to_dict()


def load_sweep(path: str | Path) -> SweepDocument:
    """Read and validate a sweep file; `base` may be a path relative to it."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError([f"file not found: {p}"], str(p)) from None
    except OSError as e:
        raise SweepError([f"cannot read {p}: {e.strerror}"], str(p)) from None
    except json.JSONDecodeError as e:
        raise SweepError([f"line {e.lineno} column {e.colno}: invalid JSON ({e.msg})"], str(p)) from None
    return parse_sweep(data, base_dir=p.parent, source=str(p), default_name=p.stem)


def parse_sweep(data: Any, base_dir: str | Path | None = None, source: str | None = None,
                default_name: str = "sweep") -> SweepDocument:
    """Validate a sweep document (a dict); raise SweepError listing every problem."""
    if not isinstance(data, dict):
        raise SweepError(["(sweep): must be a JSON object"], source)
    errors: list[str] = []
    for key in data:
        if key not in KEYS:
            near = difflib.get_close_matches(str(key), KEYS, n=1, cutoff=0.6)
            errors.append(f"{key_step(str(key))[1:]}: unknown key; " +
                          (f"did you mean {near[0]}?" if near else f"known keys are {', '.join(KEYS)}"))

    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        errors.append("name: must be a non-empty string")
        name = default_name
    method = _choice(data, "method", METHODS, None, errors)
    pruner, pruner_options = _pruner(data.get("pruner", "none"), errors)
    parallel = _int(data, "parallel", 1, 1, MAX_PARALLEL, errors)
    seed = _int(data, "seed", 0, 0, 2**32 - 1, errors)
    max_failures = _int(data, "max_failures", None, 0, None, errors)
    trials = _int(data, "trials", None, 1, 1_000_000, errors)
    metric = data.get("metric")
    if metric is None:
        errors.append("metric: missing; the value trials are ranked by, e.g. \"val/accuracy\"")
    elif metric not in METRICS:
        near = difflib.get_close_matches(str(metric), METRICS, n=1, cutoff=0.5)
        errors.append(f"metric: unknown metric {metric!r}; " +
                      (f"did you mean {near[0]}?" if near else f"use one of {', '.join(METRICS)}"))
        metric = None
    goal = data.get("goal") or ("maximize" if metric and higher_is_better(metric) else "minimize")
    if goal not in GOALS:
        errors.append(f"goal: must be maximize or minimize (got {goal!r})")
    if pruner is not None and pruner != "none" and metric in END_METRICS:
        errors.append(f"pruner: {metric} is known only once a trial ends, so a pruner cannot be fed it "
                      "every epoch; use a val/ metric or pruner \"none\"")

    base = _base(data.get("base"), base_dir, errors)
    if base is not None and metric and metric.startswith("val/") and not base["data"]["val_fraction"]:
        errors.append(f"metric: {metric} needs a validation split; set data.val_fraction in the base spec "
                      "(e.g. 0.2)")
    parameters = _parameters(data.get("parameters"), base, method, errors)

    if method == "grid" and parameters is not None:
        size = grid_size(parameters)
        non_grid = [p.path for p in parameters if p.kind != "values"]
        for path in non_grid:
            errors.append(f"parameters{key_step(path)}: a grid takes lists of values only; "
                          f"use {{\"values\": [...]}} or method random or tpe")
        if trials is not None and not non_grid and trials < size:
            errors.append(f"trials: the grid has {size} combinations ("
                          + " × ".join(str(len(p.values)) for p in parameters)
                          + f"), more than trials {trials}; raise trials to {size} or drop values")
        trials = size
    elif method in ("random", "tpe") and trials is None and "trials" not in data:
        errors.append("trials: missing; how many trials a random or tpe sweep runs, e.g. 20")

    if base is not None and parameters:
        errors.extend(_check_values(base, parameters, method))
    if errors:
        raise SweepError(list(dict.fromkeys(errors)), source)
    assert method is not None and metric is not None and base is not None and parameters and trials
    return SweepDocument(name=name.strip(), base=base, method=method, metric=metric, goal=goal,
                         trials=trials, parallel=parallel or 1, pruner=pruner or "none",
                         parameters=tuple(parameters), seed=seed or 0, max_failures=max_failures,
                         pruner_options=pruner_options, source=source)


# --- the parts -------------------------------------------------------------------------

def _choice(data: dict, key: str, allowed: tuple[str, ...], default: Optional[str],
            errors: list[str], where: Optional[str] = None) -> Optional[str]:
    value = data.get(key, default)
    key = where or key
    if value is None:
        errors.append(f"{key}: missing; use one of {', '.join(allowed)}")
    elif value not in allowed:
        near = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
        errors.append(f"{key}: unknown {key} {value!r}; " +
                      (f"did you mean {near[0]}?" if near else f"use one of {', '.join(allowed)}"))
        return None
    return value


def _pruner(raw: Any, errors: list[str]) -> tuple[Optional[str], dict[str, int]]:
    """"median", or {"type": "median", "startup_trials": 2, "warmup_epochs": 0}."""
    body = dict(raw) if isinstance(raw, dict) else {"type": raw}
    name = _choice(body, "type", PRUNERS, None, errors, where="pruner.type" if isinstance(raw, dict) else "pruner")
    if name is None:
        return None, {}
    options = dict(PRUNER_OPTIONS[name])
    for key, value in body.items():
        if key == "type":
            continue
        if key not in options:
            known = ", ".join(options) or "none"
            errors.append(f"pruner.{key}: unknown option for the {name} pruner (its options: {known})")
            continue
        checked = _int(body, key, None, 1 if key == "reduction_factor" else 0, None, errors, where=f"pruner.{key}")
        if checked is not None:
            options[key] = checked
    if name == "hyperband" and options["reduction_factor"] < 2:
        errors.append("pruner.reduction_factor: must be >= 2")
    return name, options


def _int(data: dict, key: str, default: Optional[int], low: int, high: Optional[int],
         errors: list[str], where: Optional[str] = None) -> Optional[int]:
    value = data.get(key, default)
    key = where or key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{key}: must be a whole number (got {json.dumps(value)})")
        return None
    if value < low or (high is not None and value > high):
        errors.append(f"{key}: must be between {low} and {high} (got {value})" if high is not None
                      else f"{key}: must be >= {low} (got {value})")
        return None
    return value


def _base(raw: Any, base_dir: str | Path | None, errors: list[str]) -> Optional[dict[str, Any]]:
    if raw is None:
        errors.append("base: missing; the run spec every trial starts from, inline or a file path")
        return None
    where = "base"
    if isinstance(raw, str):
        path = Path(raw) if base_dir is None else Path(base_dir) / raw
        where = f"base ({path})"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            errors.append(f"base: file not found: {path} (a path is read relative to the sweep file)")
            return None
        except OSError as e:
            errors.append(f"base: cannot read {path}: {e.strerror}")
            return None
        except json.JSONDecodeError as e:
            errors.append(f"base: {path} line {e.lineno} column {e.colno}: invalid JSON ({e.msg})")
            return None
    if not isinstance(raw, dict):
        errors.append("base: must be a run spec (a JSON object) or the path of one")
        return None
    try:
        return parse_spec(raw).to_dict()
    except SpecError as e:
        errors.extend(f"{where}.{msg}" for msg in e.errors)
        return None


def _parameters(raw: Any, base: Optional[dict[str, Any]], method: Optional[str],
                errors: list[str]) -> Optional[list[Parameter]]:
    if not isinstance(raw, dict) or not raw:
        errors.append("parameters: needs at least one parameter, e.g. "
                      "{\"optimizer.lr\": {\"log_uniform\": [0.0001, 0.1]}}")
        return None
    types = {section: list(p["values"]) for section in ("optimizer", "scheduler")
             for path, p in raw.items() if path == f"{section}.type" and isinstance(p, dict)
             and isinstance(p.get("values"), list)}
    known = valid_paths(base, types) if base is not None else None
    out: list[Parameter] = []
    for written, body in raw.items():
        where = f"parameters{key_step(written)}"
        path = join_path(split_path(written))  # model.blocks[1].units -> model.blocks.1.units
        if known is not None and path not in known and not _free_form(path):
            near = closest_path(path, known)
            errors.append(f"{where}: no such field in the run spec; " +
                          (f"did you mean {near}?" if near else "see the spec form for field names"))
            continue
        param = _parameter(path, body, where, errors)
        if param is not None:
            out.append(param)
    return out


def _free_form(path: str) -> bool:
    """data.options holds dataset-specific keys of any name."""
    return path.startswith("data.options.") and path.count(".") == 2


def _parameter(path: str, body: Any, where: str, errors: list[str]) -> Optional[Parameter]:
    example = ("{\"values\": [...]}, {\"uniform\": [low, high]}, {\"log_uniform\": [low, high]} "
               "or {\"int\": [low, high]}")
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in KINDS:
        unknown = [k for k in body if k not in KINDS] if isinstance(body, dict) else []
        near = difflib.get_close_matches(str(unknown[0]), KINDS, n=1, cutoff=0.5) if unknown else []
        hint = f"unknown kind {unknown[0]!r}; did you mean {near[0]}?" if near else f"must be one of {example}"
        errors.append(f"{where}: {hint}")
        return None
    kind, value = next(iter(body.items()))
    where = f"{where}.{kind}"
    if kind == "values":
        if not isinstance(value, list) or not value:
            errors.append(f"{where}: must be a non-empty list")
            return None
        bad = [v for v in value if not (v is None or isinstance(v, (str, int, float, bool)))]
        if bad:
            errors.append(f"{where}: values must be numbers, strings, booleans or null (got {json.dumps(bad[0])})")
            return None
        if len(set(map(json.dumps, value))) != len(value):
            errors.append(f"{where}: lists a value twice")
            return None
        return Parameter(path, kind, values=tuple(value))
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        errors.append(f"{where}: must be [low, high], two numbers")
        return None
    low, high = value
    if kind == "int" and not all(isinstance(v, int) for v in value):
        errors.append(f"{where}: low and high must be whole numbers (got {low}, {high})")
        return None
    if not all(math.isfinite(v) for v in value):
        errors.append(f"{where}: low and high must be finite")
        return None
    if low > high or (kind != "int" and low == high):
        errors.append(f"{where}: low must be below high (got {low}, {high})")
        return None
    if kind == "log_uniform" and low <= 0:
        errors.append(f"{where}: a log scale needs low > 0 (got {low})")
        return None
    return Parameter(path, kind, low=low, high=high)


def _check_values(base: dict[str, Any], parameters: list[Parameter], method: Optional[str]) -> list[str]:
    """Every value a trial can get, tried against the run spec before any trial starts."""
    errors: list[str] = []
    types = {p.path.split(".")[0]: list(p.values) for p in parameters
             if p.path in ("optimizer.type", "scheduler.type")}
    for p in parameters:
        for value in p.extremes():
            own_type = section_type_for(p.path, base, types)  # SGD's momentum is checked in an SGD spec
            context = {f"{p.path.split('.')[0]}.type": own_type} if own_type else {}
            problem = _refusal(base, {**context, p.path: value})
            if problem:
                errors.append(f"parameters{key_step(p.path)}: value {json.dumps(value)} is refused by "
                              f"the run spec: {problem}")
    if errors:
        return errors
    combos: Iterator[dict[str, Any]]
    if method == "grid" and grid_size(parameters) <= GRID_CHECK_LIMIT:
        combos = (dict(zip([p.path for p in parameters], c)) for c in
                  itertools.product(*(p.values for p in parameters)))
    else:  # values interact (batch_size and nproc): at least every low together, every high together
        combos = iter([{p.path: p.extremes()[0] for p in parameters},
                       {p.path: p.extremes()[-1] for p in parameters}])
    for combo in combos:
        problem = _refusal(base, combo)
        if problem:
            shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in combo.items())
            return [f"parameters: the combination {shown} is refused by the run spec: {problem}"]
    return []


def _refusal(base: dict[str, Any], params: dict[str, Any]) -> Optional[str]:
    try:
        parse_spec(apply_params(base, params))
    except KeyError as e:
        return f"{e.args[0]} is not in the spec"
    except SpecError as e:
        return "; ".join(e.errors)
    return None

