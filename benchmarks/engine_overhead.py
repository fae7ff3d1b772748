"""Per-step overhead of ``flash.Trainer`` against a hand-written PyTorch loop.

The same MLP, data, seed and sample order are trained (a) by ``flash.Trainer`` with the
progress bar and CSV logging on, the model calling ``self.log("train_loss", loss)`` every
step, and (b) by a plain loop doing the same math. Two measurements:

1. **Lockstep** (the target): inside one ``trainer.fit``, a callback runs the hand loop's next
   step inside each flash step's ``on_train_batch_end``. A flash step is everything between two
   hand steps (data loading, hooks, logging, the bar, epoch ends); a hand step is its batch,
   forward, backward and optimizer step. Each pair runs within milliseconds, so the machine's
   speed swings (on a shared VM a step can take 1.8 ms for a few hundred ms, then 3 ms) hit
   both alike. The target is judged on the median of the per-fit ratios (a fit that a swing hit
   unevenly does not move it); the ratio of all summed times and the median per-step ratio are
   printed beside it.
2. **Whole runs** (context): ``Trainer`` construction, setup and teardown included, in
   alternating pairs of runs, beside an A/A control (hand loop against itself, same pairing)
   that shows how much of the whole-run ratio is this machine's noise.

3. **Bytecodes per step** (deterministic): the Python bytecodes flash and the hand loop run per
   training step, all frames (flash's, torch's, the DataLoader's) counted with ``sys.settrace``,
   and the functions where flash's extra ones are. Times move with the machine; this count
   moves only when the code does, so it shows what an engine change did (the bar's redraws,
   at most five a second, are left out of it).

Each lockstep fit checks that flash's final weights equal the hand loop's. Target: lockstep ratio <= 1.03.
Results: benchmarks/README.md.

Usage:
    python benchmarks/engine_overhead.py            # full run (about 2 minutes on 2 CPU cores)
    python benchmarks/engine_overhead.py --quick    # smoke run (seconds)
    python benchmarks/engine_overhead.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time

import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script
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


class HandLoop:
    """The plain PyTorch loop, one step at a time, in the index order flash's ResumableSampler gives."""

    def __init__(self, dataset, args) -> None:
        torch.manual_seed(args.seed)
        self.net = make_net(args.hidden)
        self.optimizer = make_optimizer(self.net.parameters())
        self.sampler = ResumableSampler(len(dataset), shuffle=True, seed=args.seed)
        self.loader = DataLoader(dataset, batch_size=args.batch_size, sampler=self.sampler)
        self.epoch = 0
        self.net.train()
        self.sampler.set_epoch(0)
        self.batches = iter(self.loader)

    def step(self) -> None:
        try:
            x, y = next(self.batches)
        except StopIteration:
            self.epoch += 1
            self.sampler.set_epoch(self.epoch)
            self.batches = iter(self.loader)
            x, y = next(self.batches)
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()


class Lockstep(flash.Callback):
    """Runs one hand-loop step inside each flash step's ``on_train_batch_end`` and times both.

    One hook, so the instrument adds as little as possible to flash's side. A flash step is the
    time from the end of one hand step to the start of the next: the rest of the previous step
    (other callbacks, bookkeeping), loading the batch, forward, backward, optimizer step, logging.
    ``on_train_end`` adds the last step's tail and the last epoch's end. The first flash step
    starts before any mark, so the first hand step is left out of the comparison too.
    """

    def __init__(self, hand: HandLoop) -> None:
        self.hand = hand
        self.flash_steps: list[float] = []
        self.hand_steps: list[float] = []
        self._mark = None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        start = time.perf_counter()
        if self._mark is not None:
            self.flash_steps.append(start - self._mark)
        self.hand.step()
        self._mark = time.perf_counter()
        self.hand_steps.append(self._mark - start)

    def on_train_end(self, trainer, module):
        self.flash_steps[-1] += time.perf_counter() - self._mark

    def pairs(self) -> tuple[list[float], list[float]]:
        """Flash steps 1..n-1 (the last with the end of training) and hand steps 1..n-1."""
        return self.flash_steps, self.hand_steps[1:]


class Tally:
    """A ``sys.settrace`` tracer counting the bytecodes each function runs (``skip``: code not to count)."""

    def __init__(self, skip=None) -> None:
        self.skip = skip
        self.counts: collections.Counter = collections.Counter()

    def trace(self, frame, event, arg):
        if frame.f_code is self.skip:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            self.counts[_where(frame.f_code)] += 1
        return self.trace


class BytecodeCounter(flash.Callback):
    """Counts the bytecodes run in ``steps`` training steps, from one ``on_train_batch_end`` to the
    one ``steps`` later, per function; this hook's own code is not counted."""

    def __init__(self, first: int, steps: int) -> None:
        self.first, self.steps = first, steps
        self.tally = Tally(skip=BytecodeCounter.on_train_batch_end.__code__)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.first:
            _trace_outer_frames(sys._getframe(1), self.tally.trace)
            sys.settrace(self.tally.trace)
        elif trainer.global_step == self.first + self.steps:
            sys.settrace(None)
            _trace_outer_frames(sys._getframe(1), None)


def _where(code) -> str:
    """``engine/loops.py:_train_epoch``: a function, named by the last three parts of its file's path."""
    return "/".join(code.co_filename.replace(os.sep, "/").split("/")[-3:]) + ":" + code.co_name


def _trace_outer_frames(frame, trace) -> None:
    """Frames already running (the training loop) only report to a tracer set on them."""
    while frame is not None:
        frame.f_trace, frame.f_trace_opcodes = trace, trace is not None
        frame = frame.f_back


def bytecodes_per_step(dataset, args, root: str, steps: int) -> tuple[collections.Counter, collections.Counter]:
    """Per-function bytecode counts over ``steps`` steps: flash (bar on but never redrawn mid-epoch,
    CSV logger and self.log on) and the hand loop."""
    counter = BytecodeCounter(first=4, steps=steps)
    flash.seed_everything(args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
    trainer = flash.Trainer(
        max_steps=4 + steps + 1,
        accelerator="cpu",
        enable_checkpointing=False,
        default_root_dir=root,
        callbacks=[counter, flash.ProgressBar(enable=True, min_interval=math.inf)],
    )
    with bar_to_devnull():
        trainer.fit(MLP(args.hidden), loader)
    hand, hand_tally = HandLoop(dataset, args), Tally()
    hand.run(4)
    sys.settrace(hand_tally.trace)
    hand.run(steps)
    sys.settrace(None)
    return counter.tally.counts, hand_tally.counts


@contextlib.contextmanager
def bar_to_devnull():
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        yield


def fit_flash(dataset, args, root: str, callbacks=()) -> MLP:
    """Train as a user would: progress bar and logging on (the bar's output goes to /dev/null)."""
    flash.seed_everything(args.seed)
    model = MLP(args.hidden)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
    trainer = flash.Trainer(max_epochs=args.epochs, accelerator="cpu", enable_checkpointing=False,
                            enable_progress_bar=True, default_root_dir=root, callbacks=list(callbacks))
    with bar_to_devnull():
        trainer.fit(model, loader)
    return model


def lockstep(dataset, args, root: str) -> tuple[list[float], list[float], str]:
    hand = HandLoop(dataset, args)
    timer = Lockstep(hand)
    model = fit_flash(dataset, args, root, callbacks=[timer])
    return (*timer.pairs(), weights_match(model.net, hand.net))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def whole_run_ratios(first, second, repeats: int) -> list[float]:
    """Paired runs, who goes first alternating; returns first/second per pair."""
    ratios = []
    for i in range(repeats):
        if i % 2:
            t2, t1 = timed(second), timed(first)
        else:
            t1, t2 = timed(first), timed(second)
        ratios.append(t1 / t2)
    return ratios


def weights_match(a: torch.nn.Module, b: torch.nn.Module) -> str:
    pairs = list(zip(a.state_dict().values(), b.state_dict().values()))
    if all(torch.equal(x, y) for x, y in pairs):
        return "equal (torch.equal)"
    if all(torch.allclose(x, y, rtol=0, atol=1e-6) for x, y in pairs):
        return "close (allclose, atol=1e-6)"
    worst = max(float((x - y).abs().max()) for x, y in pairs)
    return f"DIFFERENT (max abs diff {worst:.3g})"


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def lockstep_fits(dataset, args, root: str) -> dict:
    """Measurement 1: ``args.repeats`` fits, a hand step after each flash step."""
    print(f"1. lockstep: {args.repeats} fit(s), a hand step after each flash step")
    flash_steps, hand_steps, per_fit, matches = [], [], [], []
    for i in range(args.repeats):
        f, h, match = lockstep(dataset, args, root)
        flash_steps += f
        hand_steps += h
        per_fit.append(sum(f) / sum(h))
        matches.append(match)
        print(f"  fit {i}: flash {sum(f):.3f} s  hand {sum(h):.3f} s  ratio {per_fit[-1]:.3f}  weights {match}")
    total_ratio = sum(flash_steps) / sum(hand_steps)
    step_ratio = statistics.median(a / b for a, b in zip(flash_steps, hand_steps))
    overhead_us = (sum(flash_steps) - sum(hand_steps)) / len(flash_steps) * 1e6
    print(
        f"  {len(flash_steps)} step pairs: flash {statistics.median(flash_steps) * 1e3:.3f} ms/step, "
        f"hand {statistics.median(hand_steps) * 1e3:.3f} ms/step (medians); overhead {overhead_us:.0f} us/step"
    )
    print(
        f"  ratio of summed times flash/hand {total_ratio:.3f}; median per-step ratio {step_ratio:.3f}; "
        f"per fit {spread(per_fit)}"
    )
    return {"ratio": statistics.median(per_fit), "per_fit_ratios": per_fit, "summed_ratio": total_ratio,
            "median_step_ratio": step_ratio, "step_pairs": len(flash_steps),
            "flash_ms_per_step": statistics.median(flash_steps) * 1e3,
            "hand_ms_per_step": statistics.median(hand_steps) * 1e3, "overhead_us_per_step": overhead_us,
            "weights": matches}


def whole_runs(dataset, args, root: str, steps: int) -> dict:
    """Measurement 2: alternating pairs of whole runs, beside the hand loop against itself (A/A control)."""
    pairs = 2 * args.repeats
    print(f"2. whole runs: {pairs} alternating pairs, Trainer construction and teardown included")

    def flash_run():
        fit_flash(dataset, args, root)

    def hand_run():
        HandLoop(dataset, args).run(steps)

    whole = whole_run_ratios(flash_run, hand_run, pairs)
    control = whole_run_ratios(hand_run, hand_run, pairs)
    print(f"  flash/hand  {spread(whole)}")
    print(f"  hand/hand   {spread(control)}  <- A/A control: this machine's noise on whole runs")
    return {"flash_over_hand": whole, "aa_control": control}


def bytecodes(dataset, args, root: str) -> dict:
    """Measurement 3: bytecodes per training step, flash and hand, and where flash's extra ones are."""
    steps_counted = min(64, -(-args.samples // args.batch_size) - 8)  # within the first epoch
    flash_counts, hand_counts = bytecodes_per_step(dataset, args, root, steps_counted)
    flash_total, hand_total = sum(flash_counts.values()) / steps_counted, sum(hand_counts.values()) / steps_counted
    print(
        f"3. bytecodes per training step, {steps_counted} steps counted (bar redraws left out): "
        f"flash {flash_total:.0f}, hand {hand_total:.0f}, flash runs {flash_total - hand_total:.0f} more"
    )
    extra = {name: (flash_counts[name] - hand_counts.get(name, 0)) / steps_counted for name in flash_counts}
    top = dict(sorted(extra.items(), key=lambda kv: -kv[1])[:8])
    print("  where: " + ", ".join(f"{name} {n:+.0f}" for name, n in top.items()))
    return {"flash": flash_total, "hand": hand_total, "steps_counted": steps_counted, "extra_by_function": top}


def run(args: argparse.Namespace) -> dict:
    """All three measurements; returns their numbers (also printed as they come)."""
    torch.set_num_threads(args.threads)
    dataset = make_dataset(args.samples, args.seed)
    steps = args.epochs * -(-args.samples // args.batch_size)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s); MLP {IN_FEATURES}-{args.hidden}-{NUM_CLASSES}, "
        f"batch {args.batch_size}, {steps} steps per fit"
    )
    with tempfile.TemporaryDirectory() as root:
        fit_flash(dataset, args, root)  # warm-up: imports, allocator, tqdm
        HandLoop(dataset, args).run(steps)
        result = {"torch": torch.__version__, "threads": args.threads, "steps_per_fit": steps,
                  "lockstep": lockstep_fits(dataset, args, root), "whole_runs": whole_runs(dataset, args, root, steps),
                  "bytecodes_per_step": bytecodes(dataset, args, root)}
    ratio = result["lockstep"]["ratio"]  # the median over fits: a fit a speed swing hit unevenly does not move it
    result["target_met"] = ratio <= 1.03
    print(
        f"target: lockstep ratio (median over fits) <= 1.03: {'met' if ratio <= 1.03 else 'NOT met'} "
        f"({ratio:.4f}; summed over all fits {result['lockstep']['summed_ratio']:.4f})"
    )
    matches = result["lockstep"]["weights"]
    different = [m for m in matches if m.startswith("DIFFERENT")]
    result["weights_equal"] = all(m == "equal (torch.equal)" for m in matches)
    print(f"final weights, flash vs hand: {different[0] if different else matches[0]} in {len(matches)} fit(s)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a very short run, for a smoke test")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=2048, help="tuned so a step takes about 2 ms")
    parser.add_argument("--repeats", type=int, default=5, help="lockstep fits; whole-run pairs are twice as many")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.samples, args.repeats = 2, 1024, 1
    result = run(args)
    write_json(args.json, result)
    return 0 if not any(m.startswith("DIFFERENT") for m in result["lockstep"]["weights"]) else 1


if __name__ == "__main__":
    sys.exit(main())
