"""Per-step overhead of ``flash.Trainer`` against a hand-written PyTorch loop.

The same MLP, data, seed and sample order are trained (a) by ``flash.Trainer`` with the
progress bar and CSV logging on, the model calling ``self.log("train_loss", loss)`` every
step, and (b) by a plain loop doing the same math. Pairs of runs follow each other in one
process after a warm-up, who goes first alternating; the script prints the median time of
each, the median of the paired ratios flash/hand, and whether the final weights are equal.
Target: ratio <= 1.03. Results: benchmarks/README.md.

Usage:
    python benchmarks/engine_overhead.py            # full run (about 40 s on 2 CPU cores)
    python benchmarks/engine_overhead.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import flash
from flash.engine.data import ResumableSampler

IN_FEATURES, NUM_CLASSES = 64, 10


def make_net(hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(IN_FEATURES, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, NUM_CLASSES)
    )


def make_optimizer(params) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


class MLP(flash.TrainingModule):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = make_net(hidden)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return make_optimizer(self.parameters())


def make_dataset(num_samples: int, seed: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, IN_FEATURES, generator=generator)
    y = torch.randint(0, NUM_CLASSES, (num_samples,), generator=generator)
    return TensorDataset(x, y)


class Clock:
    """Wall time and this process's CPU time (less disturbed by other processes on a busy machine)."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_flash(dataset, args, root: str) -> tuple[Clock, torch.nn.Module]:
    """Train as a user would: progress bar and logging on (the bar's output goes to /dev/null)."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull), Clock() as clock:
        flash.seed_everything(args.seed)
        model = MLP(args.hidden)
        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
        trainer = flash.Trainer(max_epochs=args.epochs, accelerator="cpu", enable_checkpointing=False,
                                enable_progress_bar=True, default_root_dir=root)
        trainer.fit(model, loader)
    return clock, model.net


def run_hand(dataset, args) -> tuple[Clock, torch.nn.Module]:
    """The same math by hand, in the index order flash's ResumableSampler gives each epoch."""
    with Clock() as clock:
        torch.manual_seed(args.seed)
        net = make_net(args.hidden)
        optimizer = make_optimizer(net.parameters())
        sampler = ResumableSampler(len(dataset), shuffle=True, seed=args.seed)
        loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
        net.train()
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            for x, y in loader:
                loss = torch.nn.functional.cross_entropy(net(x), y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    return clock, net


def weights_match(a: torch.nn.Module, b: torch.nn.Module) -> str:
    pairs = list(zip(a.state_dict().values(), b.state_dict().values()))
    if all(torch.equal(x, y) for x, y in pairs):
        return "equal (torch.equal)"
    if all(torch.allclose(x, y, rtol=0, atol=1e-6) for x, y in pairs):
        return "close (allclose, atol=1e-6)"
    worst = max(float((x - y).abs().max()) for x, y in pairs)
    return f"DIFFERENT (max abs diff {worst:.3g})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a very short run, for a smoke test")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=2048, help="tuned so a step takes about 2 ms")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.samples, args.repeats = 2, 1024, 3
    torch.set_num_threads(args.threads)
    dataset = make_dataset(args.samples, args.seed)
    steps = args.epochs * -(-args.samples // args.batch_size)
    print(f"torch {torch.__version__}, {args.threads} thread(s); MLP {IN_FEATURES}-{args.hidden}-{NUM_CLASSES}, "
          f"batch {args.batch_size}, {steps} steps per run, {args.repeats} repeats each")

    flash_clocks, hand_clocks = [], []
    with tempfile.TemporaryDirectory() as root:
        run_flash(dataset, args, root)  # warm-up: imports, allocator, tqdm
        run_hand(dataset, args)
        for i in range(args.repeats):  # pairs run close in time, alternating who goes first (this CPU's speed drifts)
            if i % 2:
                hand_clock, hand_net = run_hand(dataset, args)
                flash_clock, flash_net = run_flash(dataset, args, root)
            else:
                flash_clock, flash_net = run_flash(dataset, args, root)
                hand_clock, hand_net = run_hand(dataset, args)
            flash_clocks.append(flash_clock)
            hand_clocks.append(hand_clock)
            print(f"  repeat {i}: flash {flash_clock.wall:.3f} s  hand {hand_clock.wall:.3f} s  "
                  f"ratio {flash_clock.wall / hand_clock.wall:.3f}  (CPU time ratio {flash_clock.cpu / hand_clock.cpu:.3f})")

    ratios = {}
    for kind, label in (("wall", "wall time"), ("cpu", "CPU time ")):
        t_flash = statistics.median(getattr(c, kind) for c in flash_clocks)
        t_hand = statistics.median(getattr(c, kind) for c in hand_clocks)
        ratios[kind] = statistics.median(getattr(f, kind) / getattr(h, kind) for f, h in zip(flash_clocks, hand_clocks))
        best = min(getattr(c, kind) for c in flash_clocks) / min(getattr(c, kind) for c in hand_clocks)
        print(f"{label}: median flash {t_flash:.3f} s ({t_flash / steps * 1e3:.3f} ms/step), "
              f"median hand {t_hand:.3f} s ({t_hand / steps * 1e3:.3f} ms/step), median ratio flash/hand {ratios[kind]:.3f} "
              f"(fastest/fastest {best:.3f})")
    print(f"target: wall-time ratio <= 1.03: {'met' if ratios['wall'] <= 1.03 else 'NOT met'}")
    match = weights_match(flash_net, hand_net)
    print(f"final weights: {match}")
    return 0 if not match.startswith("DIFFERENT") else 1


if __name__ == "__main__":
    sys.exit(main())
