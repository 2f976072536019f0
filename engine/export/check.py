"""What an export check found, and the comparison every format shares."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import torch

TOLERANCE = 1e-4  # largest absolute difference an export may show against PyTorch
EXPORT_BATCH = 2  # traced with this batch size (1 lets the tracer fold the batch axis away)
CHECK_BATCH = 5  # checked on another size, so a batch axis baked in at export fails the check


class ExportError(RuntimeError):
    """An export that could not be written or checked; the message says why, in words."""


@dataclass(frozen=True)
class ExportCheck:
    """The result of one export and its check, as stored with a run."""

    format: str  # onnx | pt2
    path: str
    source: str  # "run 12 (best weights)" or "spec digits-cnn (initial weights)"
    input_shape: list[int]
    export_batch: int
    check_batch: int
    max_abs_diff: float
    tolerance: float
    seconds: float
    error: Optional[str] = None  # set when the check ran but the outputs disagree

    @property
    def passed(self) -> bool:
        return self.error is None

    def to_document(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def describe(self) -> str:
        verdict = "check passed" if self.passed else "CHECK FAILED"
        return (f"wrote {self.path} ({self.format}, {self.source}); {verdict}: largest difference from "
                f"PyTorch {self.max_abs_diff:.3g} on a batch of {self.check_batch} "
                f"(exported with {self.export_batch}; tolerance {self.tolerance:g})")


def compare(expected: "torch.Tensor", got: "torch.Tensor", what: str) -> tuple[float, Optional[str]]:
    """(largest absolute difference, problem or None) between two outputs."""
    import torch

    if tuple(expected.shape) != tuple(got.shape):
        return float("inf"), (f"{what} returns shape {tuple(got.shape)} where PyTorch returns "
                              f"{tuple(expected.shape)}")
    diff = float((expected.float() - got.float()).abs().max()) if expected.numel() else 0.0
    if not torch.isfinite(torch.tensor(diff)):
        return diff, f"{what} returns values that are not finite where PyTorch's are"
    if diff > TOLERANCE:
        return diff, f"{what} disagrees with PyTorch by up to {diff:.3g} (more than {TOLERANCE:g})"
    return diff, None
