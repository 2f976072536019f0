"""Knowledge distillation in the engine: the loss formula, the teacher checks
that refuse a run before launch (both values named), a student trained in
this process from a teacher's best checkpoint, and lr_step per step."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from engine.spec import DistillSpec, SpecError, parse_spec
from engine.store import RunStore
from engine.training import Callback, train
from engine.training.distill import Distiller
from engine.training.losses import make_objective
from engine.training.teacher import TeacherRef, check_teacher, compatible_teachers


def digits(name: str, blocks: list, epochs: int = 2, **training) -> dict:
    return {"name": name, "seed": 0, "data": {"name": "digits", "val_fraction": 0.2},
            "model": {"blocks": blocks}, "optimizer": {"type": "Adam", "lr": 0.003},
            "training": {"epochs": epochs, "batch_size": 64, "device": "cpu", **training}}


MLP = [{"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
       {"type": "Linear", "out_features": 10}]
LINEAR = [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


class Points(Callback):
    def __init__(self):
        self.points = []

    def on_metrics(self, ctx, points):
        self.points += points

    def of(self, key):
        return [p for p in self.points if p.key == key]


def test_the_loss_is_alpha_t2_kl_plus_one_minus_alpha_ce():
    torch.manual_seed(0)
    student, teacher_logits = torch.randn(8, 5), torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    teacher = torch.nn.Identity()  # "predicts" the logits it is given
    d = Distiller(teacher, make_objective("cross_entropy", "classification", 5),
                  DistillSpec(teacher_run=1, temperature=3.0, alpha=0.25), torch.device("cpu"))
    loss = d(teacher_logits, student, labels)
    p_t = F.softmax(teacher_logits / 3, dim=1)
    kl = (p_t * (p_t.log() - F.log_softmax(student / 3, dim=1))).sum(dim=1).mean()
    expected = 0.25 * 9 * kl + 0.75 * F.cross_entropy(student, labels)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    epoch = d.take_epoch()
    assert epoch["train/kd_loss"] == pytest.approx(9 * kl.item(), rel=1e-5)
    assert epoch["train/ce_loss"] == pytest.approx(F.cross_entropy(student, labels).item(), rel=1e-5)
    # A student that already agrees with its teacher has nothing left to learn from it.
    d(student, student, labels)
    assert d.take_epoch()["train/kd_loss"] == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def trained_teacher(tmp_path_factory):
    """A finished digits run in a store, with a real best checkpoint (trained here, in-process, once)."""
    folder = tmp_path_factory.mktemp("teacher")
    spec = parse_spec(digits("digits-teacher", MLP, epochs=3))
    result = train(spec, checkpoint_dir=folder)
    assert result.status == "completed"
    store = RunStore(f"sqlite:///{folder / 'runs.db'}")
    run_id = store.create_run(spec.to_dict(), status="running")
    store.add_checkpoint(run_id, "best", result.checkpoints["best"], result.step, result.epochs_done, None)
    store.set_status(run_id, "completed")
    yield store, run_id, result
    store.close()


def test_a_student_learns_from_its_teacher_and_records_kd_and_ce(trained_teacher, tmp_path):
    store, teacher_id, teacher_result = trained_teacher
    student = parse_spec(digits("digits-student", LINEAR, epochs=3, log_every_n_steps=5,
                                distill={"teacher_run": teacher_id, "temperature": 4.0, "alpha": 0.7}))
    ref = check_teacher(store, student)
    assert isinstance(ref, TeacherRef) and ref.run_id == teacher_id
    seen = Points()
    result = train(student, callbacks=[seen], checkpoint_dir=tmp_path / "student", teacher=ref)
    assert result.status == "completed", result.error
    kd, ce, total = seen.of("train/kd_loss"), seen.of("train/ce_loss"), seen.of("train/loss")
    assert len(kd) == len(ce) == len(total) == 3
    assert kd[-1].value < kd[0].value and ce[-1].value < ce[0].value  # it learns from both
    for k, c, t in zip(kd, ce, total):
        assert t.value == pytest.approx(0.7 * k.value + 0.3 * c.value, rel=1e-4)
    assert result.final_metrics["val/accuracy"] > 0.8
    assert len(seen.of("lr_step")) >= 3  # a point at each logging interval


def test_a_run_without_its_teacher_fails_in_words(tmp_path):
    spec = parse_spec(digits("s", LINEAR, distill={"teacher_run": 7}))
    from engine.training import TrainingError

    with pytest.raises(TrainingError, match="teacher run #7"):
        train(spec, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("student, words", [
    ({"data": {"name": "wine", "val_fraction": 0.2}},
     ["was trained on digits", "this run trains on wine"]),
    ({"data": {"name": "digits", "val_fraction": 0.2, "normalize": "minmax"}},
     ["normalize=standard", "normalize=minmax"]),
    ({"training": {"epochs": 1, "loss": "bce_with_logits", "device": "cpu"}},
     ["teacher: cross_entropy", "this run: bce_with_logits"]),
])
def test_an_incompatible_teacher_is_refused_naming_both_values(trained_teacher, student, words):
    store, teacher_id, _ = trained_teacher
    d = digits("student", LINEAR)
    for key, value in student.items():
        d[key] = {**d[key], **value}
    d["training"]["distill"] = {"teacher_run": teacher_id}
    if d["data"]["name"] == "wine":
        d["model"]["blocks"] = [{"type": "Linear", "out_features": 3}]
    with pytest.raises(SpecError) as e:
        check_teacher(store, parse_spec(d))
    message = " ".join(e.value.errors)
    assert message.startswith("training.distill.teacher_run:")
    assert all(w in message for w in words), message


def test_a_missing_unfinished_or_checkpointless_teacher_is_refused(trained_teacher):
    store, teacher_id, _ = trained_teacher

    def problem(run_id):
        with pytest.raises(SpecError) as e:
            check_teacher(store, parse_spec(digits("s", LINEAR, distill={"teacher_run": run_id})))
        return e.value.errors[0]

    assert "there is no run #999" in problem(999)
    running = store.create_run(parse_spec(digits("busy", MLP)).to_dict(), status="running")
    assert "is running" in problem(running)
    bare = store.create_run(parse_spec(digits("bare", MLP)).to_dict(), status="running")
    store.set_status(bare, "completed")
    assert "has no best checkpoint" in problem(bare)
    # The picker lists the digits runs that finished, saying why one cannot teach.
    listed = {run.id: why for run, why in compatible_teachers(store, parse_spec(digits("s", LINEAR)))}
    assert listed[teacher_id] is None and "no best checkpoint" in listed[bare] and running not in listed


def test_lr_step_shows_one_cycle_rising_then_falling(tmp_path):
    spec = parse_spec({**digits("onecycle", LINEAR, epochs=4, log_every_n_steps=2),
                       "optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9},
                       "scheduler": {"type": "OneCycleLR", "max_lr": 0.1, "pct_start": 0.3}})
    seen = Points()
    assert train(spec, callbacks=[seen], checkpoint_dir=tmp_path).status == "completed"
    lrs = [p.value for p in seen.of("lr_step")]
    steps = [p.step for p in seen.of("lr_step")]
    assert steps == sorted(steps) and len(lrs) >= 40  # 23 steps an epoch, a point every 2
    peak = lrs.index(max(lrs))
    assert 0 < peak < len(lrs) - 1
    assert max(lrs) == pytest.approx(0.1, rel=0.05)
    assert lrs[0] < 0.1 / 10 and lrs[-1] < lrs[0]  # starts at max_lr / 25, ends far below
    assert all(math.isfinite(v) for v in lrs)
