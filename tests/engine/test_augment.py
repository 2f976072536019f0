"""data.augment: the spec's checks, each transform's effect, seeded determinism,
mixing with soft targets, and that only training batches are augmented."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.data import dataset_info
from engine.data.augment import Augmenter
from engine.spec import SpecError, parse_spec
from engine.training import TrainingError, train
from engine.training.losses import make_objective, soft_target_cross_entropy
from tests.engine.test_training_loop import make_spec

ALL_IMAGE = [{"type": "random_crop", "padding": 1}, {"type": "hflip"}, {"type": "vflip"},
             {"type": "rotation", "degrees": [-20, 20]}, {"type": "affine"}, {"type": "color_jitter"},
             {"type": "erasing"}, {"type": "gaussian_noise", "std": 0.05}, {"type": "feature_mask"},
             {"type": "mixup"}, {"type": "cutmix"}]


def augmenter(transforms: list[dict], kind: str = "image", classes: int | None = 10, seed: int = 0) -> Augmenter:
    return Augmenter(parse_spec({"data": {"augment": transforms}}).data.augment, kind, classes, seed)


def images(b: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 1, 8, 8, generator=g), torch.randint(0, 10, (b,), generator=g)


def test_spec_errors_name_the_transform_and_its_field():
    with pytest.raises(SpecError) as e:
        parse_spec({"data": {"augment": [{"type": "hflip"}, {"type": "rotation", "degrees": [30, -30]},
                                         {"type": "rotaton"}, {"type": "affine", "zoom": 2}]}})
    assert e.value.errors == [
        "data.augment[1].degrees: the range's low end 30 is above its high end -30; write [low, high]",
        "data.augment[2]: unknown type 'rotaton'; did you mean rotation?",
        "data.augment[3].zoom: unknown key (remove it or check its spelling)",
    ]


def test_the_spec_round_trips_with_its_transforms():
    spec = parse_spec({"data": {"augment": ALL_IMAGE}})
    again = parse_spec(spec.to_dict())
    assert again == spec
    assert spec.to_dict()["data"]["augment"][3] == {"p": 1.0, "type": "rotation", "degrees": [-20.0, 20.0]}


def test_same_seed_and_step_give_the_same_batch_and_others_differ():
    x, y = images()
    a, same, other = augmenter(ALL_IMAGE), augmenter(ALL_IMAGE), augmenter(ALL_IMAGE, seed=1)
    x1, t1 = a(x, y, step=3)
    x2, t2 = same(x, y, step=3)
    assert torch.equal(x1, x2) and torch.equal(t1, t2)
    assert not torch.equal(x1, other(x, y, step=3)[0])
    assert not torch.equal(x1, a(x, y, step=4)[0])
    assert not torch.equal(x1, x)


def test_flips_and_padded_crops_move_pixels_exactly():
    x, _ = images()
    flip = augmenter([{"type": "hflip", "p": 1.0}, {"type": "vflip", "p": 1.0}])
    torch.testing.assert_close(flip.transform(x, flip.draws(x.device, 0)), x.flip(-1).flip(-2))
    crop = augmenter([{"type": "random_crop", "padding": 2}])
    out = crop.transform(x, crop.draws(x.device, 0))
    for i in range(len(x)):  # each sample is the input shifted by whole pixels, 0 (the mean) shifted in
        padded = F.pad(x[i], (2, 2, 2, 2))
        windows = [padded[:, r:r + 8, c:c + 8] for r in range(5) for c in range(5)]
        assert any(torch.allclose(out[i], w, atol=1e-5) for w in windows)


def test_probability_zero_leaves_samples_alone_and_erasing_zeroes_a_rectangle():
    x, _ = images()
    off = augmenter([{"type": "rotation", "p": 0.0}, {"type": "erasing", "p": 0.0}])
    torch.testing.assert_close(off.transform(x, off.draws(x.device, 0)), x)
    erase = augmenter([{"type": "erasing", "p": 1.0, "area": [0.2, 0.2]}])
    out = erase.transform(x, erase.draws(x.device, 0))
    zeroed = (out == 0) & (x != 0)
    assert zeroed.flatten(1).sum(1).min() >= 6  # about a fifth of 64 pixels per image
    assert torch.equal(out[~zeroed], x[~zeroed])


def test_mixup_and_cutmix_give_soft_targets_that_sum_to_one():
    x, y = images(32)
    for kind in ("mixup", "cutmix"):
        mixed, target = augmenter([{"type": kind, "alpha": 1.0}])(x, y, step=0)
        assert target.shape == (32, 10)
        torch.testing.assert_close(target.sum(1), torch.ones(32))
        assert (target.max(1).values < 1).any()  # some samples really are mixed
        assert not torch.equal(mixed, x)


def test_mixup_of_a_regression_batch_mixes_the_values():
    x = torch.randn(8, 3)
    y = torch.arange(8, dtype=torch.float32).view(8, 1)
    mixed, target = augmenter([{"type": "mixup"}], kind="tabular", classes=None)(x, y, step=0)
    assert target.shape == (8, 1) and not torch.equal(target, y)
    assert float(target.min()) >= 0 and float(target.max()) <= 7


def test_soft_target_cross_entropy_matches_torch_and_the_objective_takes_both_kinds():
    out = torch.randn(6, 4)
    probs = torch.softmax(torch.randn(6, 4), 1)
    torch.testing.assert_close(soft_target_cross_entropy(out, probs), F.cross_entropy(out, probs))
    torch.testing.assert_close(soft_target_cross_entropy(out, probs, 0.1), F.cross_entropy(out, probs,
                                                                                            label_smoothing=0.1))
    ce = make_objective("cross_entropy", "classification", 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.testing.assert_close(ce(out, F.one_hot(labels, 4).float()), ce(out, labels))


def test_sequence_transforms_shift_scale_and_mask():
    x = torch.arange(10, dtype=torch.float32).view(1, 10, 1).repeat(4, 1, 2)  # (B, T, F)
    shift = augmenter([{"type": "time_shift", "steps": [3, 3]}], kind="sequence", classes=2)
    out = shift.transform(x, shift.draws(x.device, 0))
    assert out[0, :, 0].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]  # edge value fills the gap
    scale = augmenter([{"type": "scaling", "factor": [2, 2]}], kind="sequence", classes=2)
    torch.testing.assert_close(scale.transform(x, scale.draws(x.device, 0)), 2 * x)
    mask = augmenter([{"type": "feature_mask", "rate": 0.5}], kind="sequence", classes=2)
    masked = mask.transform(x + 1, mask.draws(x.device, 0))
    per_channel = (masked == 0).all(dim=1)  # a masked feature is masked at every step
    assert ((masked == 0).any(dim=1) == per_channel).all()


def test_a_transform_that_does_not_fit_the_data_is_refused_before_training(tmp_path):
    spec = make_spec("iris", out=3, epochs=1, data={"augment": [{"type": "gaussian_noise"}, {"type": "hflip"}]})
    with pytest.raises(TrainingError, match=r"data.augment\[1\] \(hflip\) applies to images, but this dataset "
                                            r"holds tables; remove it"):
        train(spec, checkpoint_dir=tmp_path)


def test_only_training_batches_are_augmented(tmp_path, monkeypatch):
    seen: list[int] = []
    original = Augmenter.__call__

    def spy(self, x, y, step):
        seen.append(int(x.shape[0]))
        return original(self, x, y, step)

    monkeypatch.setattr(Augmenter, "__call__", spy)
    spec = make_spec("iris", out=3, epochs=2, data={"augment": [{"type": "gaussian_noise", "std": 0.2},
                                                                {"type": "mixup"}]})
    result = train(spec, checkpoint_dir=tmp_path)
    assert result.status == "completed", result.error
    sizes = dataset_info(spec.data, spec.seed).sizes
    assert sizes["val"] > 0 and sizes["test"] > 0
    assert sum(seen) == 2 * sizes["train"]  # every training sample once per epoch; no val or test sample
    assert "val/accuracy" in result.final_metrics and "test/accuracy" in result.test_metrics


def test_layerdeck_check_refuses_a_transform_that_does_not_fit_the_data(tmp_path, capsys):
    import json

    from engine.cli import check
    from tests.engine.test_cli_check import run_cmd

    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"data": {"name": "iris", "augment": [{"type": "rotation"}]},
                                "model": {"blocks": [{"type": "Linear", "out_features": 3}]}}))
    assert run_cmd(check, str(path)) == 1
    assert "data.augment[0] (rotation) applies to images, but this dataset holds tables" in capsys.readouterr().err
    path.write_text(json.dumps({"data": {"name": "iris", "augment": [{"type": "gaussian_noise"}]},
                                "model": {"blocks": [{"type": "Linear", "out_features": 3}]}}))
    assert run_cmd(check, str(path)) == 0


def test_a_seeded_run_with_augmentation_repeats_exactly_and_resumes_into_the_same_run(tmp_path):
    from engine.training import Control
    from tests.engine.test_training_loop import StopAt, _curve, run

    aug = {"augment": [{"type": "gaussian_noise", "std": 0.3}, {"type": "feature_mask", "rate": 0.2},
                       {"type": "mixup"}]}
    spec = make_spec(epochs=3, data=aug)
    _, full = run(spec, tmp_path, "full")
    _, again = run(spec, tmp_path, "again")
    _, plain = run(make_spec(epochs=3), tmp_path, "plain")
    assert _curve(full) == _curve(again)  # same seed, same augmented batches
    assert _curve(full) != _curve(plain)  # and the augmentation did change training

    control = Control()
    first, rec1 = run(spec, tmp_path, "a", control=control, callbacks=[StopAt(control, epoch=1)])
    second, rec2 = run(spec, tmp_path, "b", resume_from=first.checkpoints["last"])
    assert second.status == "completed"
    assert _curve(rec1) + _curve(rec2) == _curve(full)  # draws depend on (seed, step): resume continues them
