"""How fast is LayerDeck's training loop, against the loops people write by hand?

Same model, data, optimizer and batch size, measured side by side in one run
(rounds interleaved, medians, so a noisy shared machine hurts all alike):

  layerdeck   engine.training.train(): resident tensors, device permutation,
              losses read at the logging interval only
  dataloader  a plain PyTorch loop: DataLoader(TensorDataset, shuffle=True)
              and loss.item() / accuracy .item() after every step
  tight       resident tensors + torch.randperm batches, no per-step sync
              (all loops count train loss and accuracy, as LayerDeck does)
  tight+item  the same with loss.item() after every step
  tuned       the tight loop with what LayerDeck brings of its own: torch's
              fused AdamW kernel, channels-last when the spec asks for it

Prints samples/s per loop (wall clock, and per CPU-second: the steadier
figure on a shared machine) and the ratios, then the accuracy the digits
CNN template reaches in ~10 epochs.

    python bench/train_loop.py [--epochs 6] [--rounds 3] [--threads 1] [--skip-accuracy]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.model import build_model  # noqa: E402
from engine.spec import RunSpec, parse_spec  # noqa: E402
from engine.training import Callback, train  # noqa: E402
from engine.training.device import seed_everything  # noqa: E402

TEMPLATES = ROOT / "resources" / "templates"


def spec_for(template: str, epochs: int) -> RunSpec:
    d = json.loads((TEMPLATES / template).read_text())
    # The hand-written loops have no scheduler, regularizer or validation pass.
    d["scheduler"] = {"type": "none"}
    d["regularization"] = {}
    d["data"].update(val_fraction=0.0, test_fraction=0.0)
    d["training"].update(epochs=epochs, device="cpu", log_every_n_steps=20)
    return parse_spec(d)


class Clock:
    """Wall and process-CPU seconds per epoch. CPU time is what a loop costs
    even when other processes share the cores (this machine is shared)."""

    def __init__(self) -> None:
        self.laps: list[tuple[float, float]] = []
        self._mark = (time.perf_counter(), time.process_time())

    def start(self) -> None:
        self._mark = (time.perf_counter(), time.process_time())

    def lap(self) -> None:
        now = (time.perf_counter(), time.process_time())
        self.laps.append((now[0] - self._mark[0], now[1] - self._mark[1]))
        self._mark = now


def layerdeck_laps(spec: RunSpec) -> list[tuple[float, float]]:
    clock = Clock()

    class Laps(Callback):
        def on_train_start(self, ctx):
            clock.start()

        def on_epoch_end(self, ctx, epoch, metrics):
            clock.lap()

    with tempfile.TemporaryDirectory() as tmp:
        train(spec, callbacks=[Laps()], checkpoint_dir=tmp)  # checkpoint writes are inside the laps
    return clock.laps[1:]  # the first epoch warms caches up


def _setup(spec: RunSpec, tuned: bool = False):
    """Model, optimizer and resident training tensors. `tuned`: the two
    settings a LayerDeck run brings of its own, given to the hand-written
    loop too: torch's fused AdamW kernel, and channels-last tensors when the
    spec asks for them (training.channels_last)."""
    data = load_dataset(spec.data, spec.seed)
    seed_everything(spec.seed)
    model = build_model(spec.model, tuple(data.info.input_shape))
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    if tuned and spec.training.channels_last and x.ndim == 4:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    o = spec.optimizer
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay, betas=(o.beta1, o.beta2),
                            **({"fused": True} if tuned else {}))
    return model, opt, x, y


def _laps(spec: RunSpec, one_epoch: Callable[[], None]) -> list[tuple[float, float]]:
    clock = Clock()
    for _ in range(spec.training.epochs):
        one_epoch()
        clock.lap()
    return clock.laps[1:]


def dataloader_laps(spec: RunSpec) -> list[tuple[float, float]]:
    model, opt, x, y = _setup(spec)
    loader = DataLoader(TensorDataset(x, y), batch_size=spec.training.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))

    def epoch() -> None:
        model.train()
        total, correct = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()

    return _laps(spec, epoch)


def tight_laps(spec: RunSpec, item_each_step: bool, tuned: bool = False) -> list[tuple[float, float]]:
    model, opt, x, y = _setup(spec, tuned)
    bs = spec.training.batch_size
    gen = torch.Generator().manual_seed(0)

    def epoch() -> None:
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            if item_each_step:
                total += loss.item() * len(yb)
                correct += (out.argmax(1) == yb).sum().item()
            else:
                total += loss.detach() * len(yb)
                correct += (out.argmax(1) == yb).sum()
        total.item(), correct.item()

    return _laps(spec, epoch)


def compare(template: str, epochs: int, rounds: int) -> None:
    spec = spec_for(template, epochs)
    n = len(load_dataset(spec.data, spec.seed).x_train)
    loops = {"layerdeck": lambda: layerdeck_laps(spec), "dataloader": lambda: dataloader_laps(spec),
             "tight": lambda: tight_laps(spec, False), "tight+item": lambda: tight_laps(spec, True),
             "tuned": lambda: tight_laps(spec, False, tuned=True)}
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in loops}
    for _ in range(rounds):  # interleaved, so load from other processes hits every loop alike
        for name, fn in loops.items():
            got[name].extend(fn())
    wall = {k: n / statistics.median(w for w, _ in v) for k, v in got.items()}
    cpu = {k: n / statistics.median(c for _, c in v) for k, v in got.items()}
    print(f"\n{template}  ({n} samples, batch {spec.training.batch_size}, {epochs} epochs x {rounds} rounds, "
          f"{torch.get_num_threads()} torch threads; medians over epochs 2..)")
    print(f"  {'loop':<11} {'samples/s':>10} {'samples/CPU-s':>14}")
    for name in loops:
        print(f"  {name:<11} {wall[name]:>10,.0f} {cpu[name]:>14,.0f}")
    for a, b, what in (("layerdeck", "dataloader", "vs DataLoader + per-step .item()"),
                       ("layerdeck", "tight", "vs tight resident loop"),
                       ("layerdeck", "tuned", "vs the tight loop with LayerDeck's kernel choices"),
                       ("tight", "tight+item", "no sync vs per-step .item()")):
        print(f"  {a} / {b:<11} {wall[a] / wall[b]:.2f}x wall  {cpu[a] / cpu[b]:.2f}x CPU   ({what})")


def accuracy(epochs: int) -> None:
    d = json.loads((TEMPLATES / "digits_cnn.json").read_text())
    d["training"].update(epochs=epochs, device="cpu")
    spec = parse_spec(d)
    seen: dict[str, float] = {}

    class Last(Callback):
        def on_metrics(self, ctx, points):
            seen.update({p.key: p.value for p in points})

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = train(spec, callbacks=[Last()], checkpoint_dir=tmp)
    wall = time.perf_counter() - t0
    print(f"\ndigits_cnn.json, {epochs} epochs on the CPU: status {result.status}, {wall:.1f} s wall "
          f"(data + model set-up included)")
    print(f"  best val/loss {result.best['value']:.4f} at epoch {result.best['epoch']}; last epoch "
          f"val/accuracy {seen.get('val/accuracy', float('nan')):.4f}; "
          f"test/accuracy (best checkpoint) {result.test_metrics.get('test/accuracy', float('nan')):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: steadiest on a shared machine; 0: torch's default)")
    ap.add_argument("--accuracy-epochs", type=int, default=10)
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for template in ("digits_mlp.json", "digits_cnn.json"):
        compare(template, args.epochs, args.rounds)
    if not args.skip_accuracy:
        accuracy(args.accuracy_epochs)


if __name__ == "__main__":
    main()
