"""`data.augment`: the training-time transforms a run spec lists, in order.

Each transform is a pydantic model (so the Data page's form and the spec's
error paths come from one schema); engine.data.augment applies them in
batches on the training device. Ranges are [low, high] pairs drawn from
uniformly per sample, as MATLAB's imageDataAugmenter does. Values act on
the normalized data the model sees: noise is in standard deviations of a
standardized feature, and a pixel uncovered by a shift or erased is 0, the
training split's mean.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Sequence, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from engine.spec import RunSpec

# Which dataset kinds a transform fits (engine.data.dataset.Kind).
IMAGES = ("image",)
FEATURES = ("tabular", "points", "sequence", "signal", "image")
TIMED = ("sequence", "signal")


class _Transform(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: str  # each transform narrows it to its own name (the union's tag)
    p: float = Field(default=1.0, ge=0, le=1, description="Chance that a sample gets this transform.")


def _ordered(v: tuple) -> tuple:
    if v[0] > v[1]:
        raise ValueError(f"the range's low end {v[0]:g} is above its high end {v[1]:g}; write [low, high]")
    return v


# A [low, high] pair, low <= high.
Range = Annotated[tuple[float, float], AfterValidator(_ordered)]
IntRange = Annotated[tuple[int, int], AfterValidator(_ordered)]


class RandomCrop(_Transform):
    type: Literal["random_crop"] = "random_crop"
    padding: int = Field(default=2, ge=1, le=64, description="Pixels of padding on each side before a crop "
                         "back to the original size (shifts of up to this many pixels).")


class HorizontalFlip(_Transform):
    type: Literal["hflip"] = "hflip"
    p: float = Field(default=0.5, ge=0, le=1, description="Chance that a sample is mirrored left-right.")


class VerticalFlip(_Transform):
    type: Literal["vflip"] = "vflip"
    p: float = Field(default=0.5, ge=0, le=1, description="Chance that a sample is mirrored top-bottom.")


class Rotation(_Transform):
    type: Literal["rotation"] = "rotation"
    degrees: Range = Field(default=(-15.0, 15.0), description="Rotation angle range in degrees.")



class Affine(_Transform):
    type: Literal["affine"] = "affine"
    translate: Range = Field(default=(-0.1, 0.1), description="Shift range as a share of the "
                                           "image's width and height.")
    scale: Range = Field(default=(0.9, 1.1), description="Zoom factor range (1 = unchanged).")
    shear: Range = Field(default=(-10.0, 10.0), description="Horizontal shear angle range in degrees.")


    @field_validator("scale")
    @classmethod
    def _positive(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] <= 0:
            raise ValueError("scale factors must be > 0 (1 leaves the size unchanged)")
        return v


class ColorJitter(_Transform):
    type: Literal["color_jitter"] = "color_jitter"
    brightness: Range = Field(default=(-0.2, 0.2), description="Brightness offset range as a "
                                            "share of each image's value range.")
    contrast: Range = Field(default=(0.8, 1.2), description="Contrast factor range (1 = unchanged).")



class RandomErasing(_Transform):
    type: Literal["erasing"] = "erasing"
    p: float = Field(default=0.5, ge=0, le=1, description="Chance that a sample gets a rectangle erased.")
    area: Range = Field(default=(0.02, 0.2), description="Erased share of the image, range.")

    @field_validator("area")
    @classmethod
    def _share(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (0 < v[0] and v[1] <= 1):
            raise ValueError("the erased area is a share of the image: between 0 and 1")
        return v


class GaussianNoise(_Transform):
    type: Literal["gaussian_noise"] = "gaussian_noise"
    std: float = Field(default=0.1, gt=0, le=10, description="Standard deviation of the noise, in units of "
                       "the normalized features (standardized: their standard deviations).")


class FeatureMask(_Transform):
    type: Literal["feature_mask"] = "feature_mask"
    rate: float = Field(default=0.1, gt=0, lt=1, description="Share of features set to 0 (the training mean) "
                        "in each sample.")


class TimeShift(_Transform):
    type: Literal["time_shift"] = "time_shift"
    steps: IntRange = Field(default=(-2, 2), description="Shift range in time steps (the edge value "
                            "fills the gap).")


class Scaling(_Transform):
    type: Literal["scaling"] = "scaling"
    factor: Range = Field(default=(0.9, 1.1), description="Amplitude factor range for a whole sequence.")


class Mixup(_Transform):
    type: Literal["mixup"] = "mixup"
    alpha: float = Field(default=0.2, gt=0, le=10, description="Beta(alpha, alpha) draws each batch's mixing "
                         "weight; small alpha keeps most samples close to one of the two.")


class CutMix(_Transform):
    type: Literal["cutmix"] = "cutmix"
    alpha: float = Field(default=1.0, gt=0, le=10, description="Beta(alpha, alpha) draws the share of each "
                         "image kept; a rectangle of another image fills the rest.")


AUGMENTS: dict[str, type[_Transform]] = {
    m.model_fields["type"].default: m for m in (
        RandomCrop, HorizontalFlip, VerticalFlip, Rotation, Affine, ColorJitter, RandomErasing,
        GaussianNoise, FeatureMask, TimeShift, Scaling, Mixup, CutMix)
}
KINDS: dict[str, tuple[str, ...]] = {
    "random_crop": IMAGES, "hflip": IMAGES, "vflip": IMAGES, "rotation": IMAGES, "affine": IMAGES,
    "color_jitter": IMAGES, "erasing": IMAGES, "gaussian_noise": FEATURES, "feature_mask": FEATURES,
    "time_shift": TIMED, "scaling": TIMED, "mixup": FEATURES, "cutmix": IMAGES,
}
MIXING = ("mixup", "cutmix")  # mix two samples and their targets: the whole batch at once
TITLES: dict[str, str] = {
    "random_crop": "Random crop (padding)", "hflip": "Horizontal flip", "vflip": "Vertical flip",
    "rotation": "Rotation", "affine": "Affine (shift, zoom, shear)", "color_jitter": "Brightness / contrast",
    "erasing": "Random erasing", "gaussian_noise": "Gaussian noise", "feature_mask": "Feature masking",
    "time_shift": "Time shift", "scaling": "Scaling", "mixup": "Mixup", "cutmix": "CutMix",
}

AugmentSpec = Annotated[
    Union[RandomCrop, HorizontalFlip, VerticalFlip, Rotation, Affine, ColorJitter, RandomErasing,
          GaussianNoise, FeatureMask, TimeShift, Scaling, Mixup, CutMix],
    Field(discriminator="type"),
]


class AugmentError(ValueError):
    """A transform that does not fit the dataset; the message names data.augment[i] and the fix."""


def check_augment(transforms: Sequence[_Transform], kind: str, task: str, loss: str) -> None:
    """Refuse transforms that do not fit the data (a flip of a table, mixup of token ids)."""
    for i, t in enumerate(transforms):
        where = f"data.augment[{i}] ({t.type})"
        fits = KINDS[t.type]
        if kind not in fits:
            raise AugmentError(f"{where} applies to {' or '.join(_plural(k) for k in fits)}, but this dataset "
                               f"holds {_plural(kind)}; remove it from data.augment")
        if t.type in MIXING and task == "classification" and loss != "cross_entropy":
            raise AugmentError(f"{where} mixes the targets of two samples, which needs the cross_entropy loss "
                               f"(training.loss is {loss}); use cross_entropy or remove {t.type}")
        if t.type == "cutmix" and task != "classification":
            raise AugmentError(f"{where} mixes class labels; for regression use mixup or remove it")


def _plural(kind: str) -> str:
    return {"image": "images", "tabular": "tables", "points": "points", "sequence": "sequences",
            "signal": "signals", "tokens": "token ids"}.get(kind, kind)


def augment_problem(spec: "RunSpec") -> str | None:
    """What `check_augment` says about a spec on its dataset, or None (for `layerdeck check`)."""
    if not spec.data.augment:
        return None
    from engine.data import DataError, dataset_info

    try:
        info = dataset_info(spec.data, spec.seed)
    except DataError:
        return None  # the dataset's own error is reported where it is loaded
    loss = spec.training.loss or ("cross_entropy" if info.task == "classification" else "mse")
    try:
        check_augment(spec.data.augment, info.kind, info.task, loss)
    except AugmentError as e:
        return str(e)
    return None
