"""The teacher of a distilled run (`training.distill`): which finished run it
is, where its best checkpoint lies, and whether it fits the student.

Checked before launch (Runner.submit, `layerdeck check`, the Train page's
"Distill from…" list) and again by the worker, so a teacher deleted in
between fails the run in words. Imports no torch: the runner and the GUI
call it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from engine.spec import RunSpec, SpecError, parse_spec

if TYPE_CHECKING:
    from engine.store import RunStore

FIELD = "training.distill.teacher_run"
# A stopped run's best checkpoint is as good a teacher as a completed one's.
FINISHED = ("completed", "stopped")


@dataclass(frozen=True)
class TeacherRef:
    """A teacher run as the worker needs it: its own spec and its best weights."""

    run_id: int
    name: str
    spec: RunSpec
    checkpoint: str


def find_teacher(store: "RunStore", run_id: int) -> TeacherRef:
    """The finished run `run_id` with a best checkpoint on disk; SpecError naming
    training.distill.teacher_run when there is none."""
    from engine.store import RunNotFoundError

    try:
        run = store.get_run(run_id)
    except RunNotFoundError:
        raise SpecError([f"{FIELD}: there is no run #{run_id} in this store — pick a finished run "
                         "from the Runs page"]) from None
    label = f"run #{run_id} {run.name!r}"
    if run.status not in FINISHED:
        raise SpecError([f"{FIELD}: {label} is {run.status}; a teacher must be a completed (or stopped) run "
                         "with a best checkpoint"])
    best = store.checkpoint(run_id, "best")
    if best is None or not os.path.isfile(best.path):
        where = f" ({best.path} is gone)" if best is not None else ""
        raise SpecError([f"{FIELD}: {label} has no best checkpoint{where}; train the teacher again or pick "
                         "another run"])
    try:
        spec = parse_spec(run.spec, f"run {run_id}")
    except SpecError as e:
        raise SpecError([f"{FIELD}: {label} has a spec this version cannot read ({e.errors[0]})"]) from None
    return TeacherRef(run_id, run.name, spec, best.path)


def _source(spec: RunSpec) -> str:
    d = spec.data
    return " ".join([d.name] + ([d.path] if d.path else []) + ([f"(target {d.target})"] if d.target else []))


def _options(spec: RunSpec) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(spec.data.options.items())) or "the defaults"


def compatibility_problems(teacher: TeacherRef, student: RunSpec) -> list[str]:
    """Why `teacher` cannot teach `student`, each naming both values; [] when it can.

    The same dataset (name and file), input shape and classes, read from the
    data; then the same options and scaling, so both models see the same inputs."""
    from engine.data import DataError, dataset_info

    label = f"run #{teacher.run_id} {teacher.name!r}"
    t, s = teacher.spec, student
    if _source(t) != _source(s):
        return [f"{FIELD}: {label} was trained on {_source(t)}, this run trains on {_source(s)} — "
                "pick a teacher trained on the same dataset"]
    try:
        ti, si = dataset_info(t.data, t.seed), dataset_info(s.data, s.seed)
    except DataError as e:
        return [f"{FIELD}: the data cannot be read to compare this run with {label}: {e}"]
    if si.task != "classification":
        return [f"{FIELD}: distillation needs a classification dataset; {si.name} is {si.task}"]
    problems = []
    if tuple(ti.input_shape) != tuple(si.input_shape):
        problems.append(f"{FIELD}: {label} takes inputs of shape {tuple(ti.input_shape)}, this run "
                        f"{tuple(si.input_shape)} — pick a teacher with the same input shape")
    if ti.num_classes != si.num_classes:
        problems.append(f"{FIELD}: {label} predicts {ti.num_classes} classes, this run {si.num_classes} — "
                        "pick a teacher with the same classes")
    if not problems and t.data.options != s.data.options:
        problems.append(f"{FIELD}: {label} was trained on {t.data.name} with {_options(t)}, this run uses "
                        f"{_options(s)} — use the teacher's data options")
    if t.data.normalize != s.data.normalize:
        problems.append(f"{FIELD}: {label} scales its inputs with normalize={t.data.normalize}, this run with "
                        f"normalize={s.data.normalize} — use the teacher's setting")
    losses = (t.training.loss or "cross_entropy", s.training.loss or "cross_entropy")
    if losses != ("cross_entropy", "cross_entropy"):
        problems.append(f"{FIELD}: distillation compares class probabilities and needs cross_entropy on both "
                        f"runs (teacher: {losses[0]}, this run: {losses[1]})")
    return problems


def check_teacher(store: "RunStore", spec: RunSpec) -> Optional[TeacherRef]:
    """The spec's teacher, ready to use; None without `training.distill`.
    Raises SpecError with every problem (missing, unfinished, incompatible)."""
    distill = spec.training.distill
    if distill is None:
        return None
    teacher = find_teacher(store, distill.teacher_run)
    problems = compatibility_problems(teacher, spec)
    if problems:
        raise SpecError(problems)
    return teacher


def compatible_teachers(store: "RunStore", spec: RunSpec, limit: int = 200) -> list[tuple[Any, Optional[str]]]:
    """Finished runs of the spec's dataset, newest first, each with the reason it
    cannot teach this spec (None: it can). For the Train page's picker."""
    out: list[tuple[Any, Optional[str]]] = []
    for run in store.list_runs(status=list(FINISHED), limit=limit):
        if (run.spec.get("data") or {}).get("name") != spec.data.name:
            continue
        try:
            teacher = find_teacher(store, run.id)
        except SpecError as e:
            out.append((run, e.errors[0].removeprefix(f"{FIELD}: ")))
            continue
        problems = compatibility_problems(teacher, spec)
        out.append((run, problems[0].removeprefix(f"{FIELD}: ") if problems else None))
    return out
