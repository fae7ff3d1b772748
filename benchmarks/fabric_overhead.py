"""Per-step overhead of a loop on ``flash.fabric`` against the same loop in plain PyTorch.

The same MLP (64-2048-10, ~2 ms a step on one CPU thread), data, seed and sample order are trained by
(a) a plain loop: ``for x, y in loader: loss.backward(); optimizer.step(); optimizer.zero_grad()`` and
(b) the same loop on ``flash.fabric`` (``fabric.setup``, ``fabric.setup_dataloaders``, ``fabric.backward``),
and (c) on ``lightning.fabric`` when it is importable (it is not a flash dependency: never installed for this).

The loops alternate step by step in one process: each round times one step of every side, milliseconds
apart (which side goes first alternates too), so the machine's speed swings hit all sides alike. The
ratio is the median over rounds of fabric's step time over the plain step's. At the end the final
weights of (a) and (b) are compared (``torch.equal``): the overhead is measured on loops that compute
the same thing.

Usage:
    python benchmarks/fabric_overhead.py            # 2,000 steps per side
    python benchmarks/fabric_overhead.py --quick    # 60 steps per side: a smoke run
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from flash.fabric import Fabric


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 10))


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(4096, 64, generator=g), torch.randint(0, 10, (4096,), generator=g))
    return DataLoader(data, batch_size=64)


def _forever(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


def _plain() -> tuple[Callable[[], None], torch.nn.Module]:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = _forever(_loader())

    def step() -> None:
        x, y = next(batches)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return step, model


def _on_fabric(fabric: Any) -> tuple[Callable[[], None], torch.nn.Module]:
    original = _model()
    model, optimizer = fabric.setup(original, torch.optim.SGD(original.parameters(), lr=0.01, momentum=0.9))
    batches = _forever(fabric.setup_dataloaders(_loader()))

    def step() -> None:
        x, y = next(batches)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        fabric.backward(loss)
        optimizer.step()
        optimizer.zero_grad()

    return step, original


def run(*, steps: int = 2000, warmup: int = 50, threads: int = 1) -> dict[str, Any]:
    """Time ``steps`` alternating steps of every side; returns ms per step (median), ratios and weight equality."""
    torch.set_num_threads(threads)
    flash_fabric = Fabric(accelerator="cpu", devices=1)
    flash_fabric.launch()
    sides: dict[str, tuple[Callable[[], None], torch.nn.Module]] = {
        "plain": _plain(), "flash.fabric": _on_fabric(flash_fabric)}
    if importlib.util.find_spec("lightning") is not None:
        from lightning.fabric import Fabric as LightningFabric

        lightning_fabric = LightningFabric(accelerator="cpu", devices=1)
        sides["lightning.fabric"] = _on_fabric(lightning_fabric)
    times: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for index in range(warmup + steps):
        for name in order if index % 2 else order[::-1]:  # who goes first alternates: no side always runs cold
            start = time.perf_counter()
            sides[name][0]()
            if index >= warmup:
                times[name].append(time.perf_counter() - start)
    plain = times["plain"]
    result: dict[str, Any] = {"steps": steps, "threads": threads}
    for name, values in times.items():
        result[f"{name} ms/step"] = statistics.median(values) * 1e3
        if name != "plain":  # per-round ratios, so a swing of the machine's speed hits both sides of each
            result[f"{name} ratio"] = statistics.median(v / p for v, p in zip(values, plain))
    weights = [model.state_dict() for _, model in sides.values()]
    result["flash.fabric weights equal plain"] = all(torch.equal(a, b) for a, b in
                                                     zip(weights[0].values(), weights[1].values()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 steps per side: a smoke run")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    result = run(steps=60 if args.quick else args.steps, warmup=5 if args.quick else 50, threads=args.threads)
    for key, value in result.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
