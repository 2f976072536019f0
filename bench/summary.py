"""How fast is the model summary the builder redraws on every keystroke?

Goal (issue 2): summarize() on a 50-block model in < 50 ms, and
`layerdeck check` on a 9-block conv net answering in < 1 s after imports.
Prints milliseconds and the ratio to each goal (ratio < 1 meets it).

    python bench/summary.py
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUMMARY_GOAL_MS = 50.0
CHECK_GOAL_MS = 1000.0


def conv_net_50() -> list[dict]:
    """A ResNet-like image model with 50 blocks (containers and their children counted)."""
    def conv(c, k=3, **kw):
        return {"type": "Conv2d", "out_channels": c, "kernel_size": k, "padding": k // 2, **kw}

    def res(c):
        return {"type": "Residual", "blocks": [conv(c), {"type": "BatchNorm2d"}, {"type": "ReLU"}, conv(c)]}

    blocks = [conv(32), {"type": "BatchNorm2d"}, {"type": "ReLU"}]
    for c in (32, 64, 128):
        if c != 32:
            blocks += [conv(c, stride=2), {"type": "BatchNorm2d"}, {"type": "ReLU"}]
        blocks += [res(c), {"type": "ReLU"}, res(c), {"type": "ReLU"}]
    blocks += [{"type": "Dropout2d", "p": 0.1}, {"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"},
               {"type": "Dropout", "p": 0.2}, {"type": "Linear", "out_features": 10}]
    return blocks


def sequence_net_50() -> list[dict]:
    """Recurrent and attention blocks, whose meta forward passes would cost 100s of ms each."""
    blocks = [{"type": "Linear", "out_features": 64}]
    for i in range(6):
        blocks += [{"type": "GRU" if i % 2 else "LSTM", "hidden_size": 32, "bidirectional": True,
                    "output": "sequence"},
                   {"type": "LayerNorm"},
                   {"type": "Residual", "blocks": [{"type": "MultiheadAttention", "num_heads": 4},
                                                   {"type": "Dropout", "p": 0.1}]},
                   {"type": "TransformerEncoderLayer", "nhead": 4, "dim_feedforward": 128},
                   {"type": "GELU"}]
    blocks += [{"type": "Linear", "out_features": 16}] * 5
    blocks += [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    return blocks


def branch_net_50() -> list[dict]:
    """Inception-style: Branches of Sequentials, one nested Branch, a frozen stem (issue 15's builder)."""
    def conv(c, k=3, **kw):
        return {"type": "Conv2d", "out_channels": c, "kernel_size": k, "padding": k // 2, **kw}

    def inception(c):
        return {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [
            conv(c, 1),
            {"type": "Sequential", "blocks": [conv(c, 1), {"type": "ReLU"}, conv(c)]},
            {"type": "Sequential", "blocks": [conv(c, 1), {"type": "ReLU"}, conv(c, 5)]},
            {"type": "Sequential", "blocks": [{"type": "MaxPool2d", "kernel_size": 3, "stride": 1, "padding": 1},
                                              conv(c, 1)]}]}

    blocks = [conv(32, trainable=False), {"type": "BatchNorm2d", "trainable": False}, {"type": "ReLU"}]
    for c in (16, 32):
        blocks += [inception(c), {"type": "BatchNorm2d"}, {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}]
    blocks += [{"type": "Branch", "merge": "add", "dim": 0, "blocks": [
        {"type": "Sequential", "blocks": [conv(128), {"type": "ReLU"}, inception(32)]}, {"type": "Identity"}]}]
    blocks += [{"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"},
               {"type": "Linear", "out_features": 10}]
    return blocks


def count(blocks: list[dict]) -> int:
    return sum(1 + count(b.get("blocks", [])) for b in blocks)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_summary(name: str, blocks: list[dict], shape: tuple[int, ...], repeat: int) -> None:
    from engine.model import _param_count, summarize
    from engine.spec import parse_spec

    model = parse_spec({"model": {"blocks": blocks}}).model
    assert summarize(model, shape, num_outputs=10).valid
    n = count(blocks)

    def cold():
        _param_count.cache_clear()
        summarize(model, shape, num_outputs=10)

    def edit():  # one parameter changed: one cache miss, like a keystroke in the inspector
        edited = [dict(b) for b in blocks]
        edited[-1] = {**edited[-1], "out_features": 10 + edit.i % 1000}
        edit.i += 1
        summarize(parse_spec({"model": {"blocks": edited}}).model, shape)
    edit.i = 0

    for label, fn in (("cold cache", cold), ("one edit (parse + summarize)", edit),
                      ("warm cache", lambda: summarize(model, shape, num_outputs=10))):
        ms = timed(fn, repeat)
        print(f"summarize {name + f' ({n} blocks)':<29} {label:<30} {ms:8.2f} ms   "
              f"ratio to {SUMMARY_GOAL_MS:.0f} ms goal: {ms / SUMMARY_GOAL_MS:.3f}")


CHECK_IN_NEW_PROCESS = """
import argparse, contextlib, io, sys, time
t0 = time.perf_counter()
import torch, sklearn.datasets, engine.data, engine.model
from engine.cli import check
t1 = time.perf_counter()
p = argparse.ArgumentParser()
check.add_parser(p.add_subparsers())
with contextlib.redirect_stdout(io.StringIO()):
    rc = check.run(p.parse_args(["check", sys.argv[1]]))
t2 = time.perf_counter()
print(rc, (t1 - t0) * 1000, (t2 - t1) * 1000)
"""


def bench_meta_forward(blocks: list[dict], shape: tuple[int, ...]) -> None:
    """What the rejected design (a meta-device forward pass per summary) would cost."""
    import torch

    from engine.model import build_model
    from engine.spec import parse_spec

    model = parse_spec({"model": {"blocks": blocks}}).model
    with torch.device("meta"):
        net = build_model(model, shape)
    x = torch.empty(2, *shape, device="meta")
    net(x)  # warm
    ms = timed(lambda: net(x), 3)
    label = "for comparison: one meta forward pass of the sequence net"
    print(f"{label:<70} {ms:8.2f} ms   ratio to {SUMMARY_GOAL_MS:.0f} ms goal: {ms / SUMMARY_GOAL_MS:.3f}")


def bench_check(repeat: int) -> None:
    """`layerdeck check` on a 9-block conv net: in a new process after its imports (the dataset is
    loaded from its on-disk cache, the summary is cold), and again in a warm process."""
    from engine.cli import check
    from engine.model import _param_count

    spec = str(ROOT / "resources" / "templates" / "digits_cnn.json")
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", CHECK_IN_NEW_PROCESS, spec], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        rc, imports, ms = out.stdout.split()
        assert rc == "0", out.stderr
        runs.append((float(ms), float(imports)))
    ms, imports = sorted(runs)[1]
    label = "layerdeck check digits_cnn (9 blocks), new process, after imports"
    print(f"{label:<70} {ms:8.2f} ms   ratio to {CHECK_GOAL_MS:.0f} ms goal: {ms / CHECK_GOAL_MS:.3f}   "
          f"(imports before it: {imports:.0f} ms)")

    parser = argparse.ArgumentParser()
    check.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", spec])

    def again():
        _param_count.cache_clear()
        with contextlib.redirect_stdout(io.StringIO()):
            assert check.run(args) == 0

    again()
    ms = timed(again, repeat)
    label = "layerdeck check digits_cnn, warm process (dataset cached), cold summary"
    print(f"{label:<70} {ms:8.2f} ms   ratio to {CHECK_GOAL_MS:.0f} ms goal: {ms / CHECK_GOAL_MS:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    t = time.perf_counter()
    import torch  # noqa: F401  (imports are not what the goals measure)

    import engine.model  # noqa: F401
    print(f"import torch + engine.model: {(time.perf_counter() - t) * 1000:.0f} ms (not counted below)")
    bench_summary("conv net", conv_net_50(), (3, 32, 32), args.repeat)
    bench_summary("sequence net", sequence_net_50(), (20, 8), args.repeat)
    bench_summary("branch net", branch_net_50(), (3, 32, 32), args.repeat)
    bench_meta_forward(sequence_net_50(), (20, 8))
    bench_check(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
