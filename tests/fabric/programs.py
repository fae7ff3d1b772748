"""Lightning Fabric users' programs, each written once: the Fabric class (and the rest of the library) comes in
as ``lib``, so the very same code runs on ``lightning.fabric`` and on ``flash.fabric``; only the import differs.

``lib`` has ``Fabric``, ``seed_everything`` and ``CSVLogger`` (see :func:`library`). Each program returns plain
data (floats, lists, state dicts on the CPU) that the parity tests compare between the two libraries.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset, TensorDataset

from tests.fabric.helpers import data, net


def library(name: str) -> types.SimpleNamespace:
    """``Fabric``, ``seed_everything`` and ``CSVLogger`` of ``"lightning"`` or ``"flash"``: the only difference."""
    if name == "lightning":
        from lightning.fabric import Fabric, seed_everything
        from lightning.fabric.loggers import CSVLogger
    else:
        from flash.engine.loggers import CSVLogger
        from flash.fabric import Fabric, seed_everything
    return types.SimpleNamespace(Fabric=Fabric, seed_everything=seed_everything, CSVLogger=CSVLogger)


def digits(n: int = 320) -> TensorDataset:
    """The first ``n`` of scikit-learn's 8x8 handwritten digits (real images, bundled: nothing downloaded)."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    x = torch.tensor(images[:n], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    return TensorDataset(x, torch.tensor(labels[:n], dtype=torch.long))


def cnn() -> torch.nn.Module:
    """A tiny CNN for 8x8 digits (its weights drawn from the global generator, as a user's model would be)."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10),
    )


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().clone() for name, value in module.state_dict().items()}


def _evaluate(fabric: Any, model: Any, loader: Any) -> tuple[float, float]:
    """(mean loss, accuracy) over ``loader``, summed over every process."""
    model.eval()
    totals = torch.zeros(3)
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            totals += torch.stack([F.cross_entropy(logits, y, reduction="sum"), (logits.argmax(1) == y).sum(),
                                   torch.tensor(len(y))]).cpu().float()
    model.train()
    loss, correct, count = fabric.all_reduce(totals, reduce_op="sum").tolist()
    return loss / count, correct / count


def image_classifier(lib: Any, *, precision: str = "32-true", steps: int = 12, **fabric_kwargs: Any) -> dict:
    """(a) Train a CNN on digit images: shuffled loader, SGD with momentum, gradients clipped to norm 1, a
    validation pass at the end."""
    lib.seed_everything(42)
    fabric = lib.Fabric(accelerator="cpu", precision=precision, **fabric_kwargs)
    fabric.launch()
    model = cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model, optimizer = fabric.setup(model, optimizer)
    dataset = digits(320)
    train_loader, val_loader = fabric.setup_dataloaders(
        DataLoader(Subset(dataset, range(256)), batch_size=16, shuffle=True),
        DataLoader(Subset(dataset, range(256, 320)), batch_size=32),
    )
    losses: list[float] = []
    norms: list[float] = []  # the gradients' norm before clipping
    while len(losses) < steps:
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            norms.append(fabric.clip_gradients(model, optimizer, max_norm=1.0).item())
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    val_loss, accuracy = _evaluate(fabric, model, val_loader)
    return {"losses": losses, "norms": norms, "val_loss": val_loss, "accuracy": accuracy,
            "state": _cpu_state(model), "world_size": fabric.world_size}


def accumulation(lib: Any, *, accumulate: int = 4, updates: int = 4, **fabric_kwargs: Any) -> dict:
    """(b) Gradient accumulation: ``accumulate`` micro-batches per optimizer step, the gradient sync skipped
    (``no_backward_sync``) on all but the last."""
    lib.seed_everything(7)
    fabric = lib.Fabric(accelerator="cpu", **fabric_kwargs)
    fabric.launch()
    model = net(seed=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model, optimizer = fabric.setup(model, optimizer)
    loader = fabric.setup_dataloaders(DataLoader(data(64), batch_size=4, shuffle=True))
    losses: list[float] = []
    micro = 0
    while micro < accumulate * updates:
        for x, y in loader:
            accumulating = (micro + 1) % accumulate != 0
            with fabric.no_backward_sync(model, enabled=accumulating):
                loss = F.mse_loss(model(x), y) / accumulate
                fabric.backward(loss)
            if not accumulating:
                optimizer.step()
                optimizer.zero_grad()
            losses.append(loss.item())
            micro += 1
            if micro == accumulate * updates:
                break
    return {"losses": losses, "state": _cpu_state(model), "world_size": fabric.world_size}


def kfold(lib: Any, *, folds: int = 3, epochs: int = 2) -> dict:
    """(c) K-fold cross-validation: a fresh model per fold made under ``init_module``, the folds from one
    permutation of the data."""
    fabric = lib.Fabric(accelerator="cpu", devices=1)
    fabric.seed_everything(3)  # the static method: no second import
    fabric.launch()
    dataset = digits(192)
    order = torch.randperm(len(dataset)).tolist()
    size = len(order) // folds
    results: list[dict] = []
    for fold in range(folds):
        val_idx = order[fold * size:(fold + 1) * size]
        train_idx = order[:fold * size] + order[(fold + 1) * size:]
        with fabric.init_module():
            model = cnn()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        model, optimizer = fabric.setup(model, optimizer)
        train_loader, val_loader = fabric.setup_dataloaders(
            DataLoader(Subset(dataset, train_idx), batch_size=32, shuffle=True),
            DataLoader(Subset(dataset, val_idx), batch_size=64),
        )
        for _ in range(epochs):
            for x, y in train_loader:
                optimizer.zero_grad()
                fabric.backward(F.cross_entropy(model(x), y))
                optimizer.step()
        val_loss, accuracy = _evaluate(fabric, model, val_loader)
        results.append({"val_loss": val_loss, "accuracy": accuracy, "state": _cpu_state(model)})
    return {"folds": results, "mean_accuracy": sum(r["accuracy"] for r in results) / folds}


class Recorder:
    """A callback that takes only some of the keyword arguments given to ``fabric.call``."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_train_start(self) -> None:
        self.calls.append(("on_train_start",))

    def on_train_batch_end(self, loss: float, batch_idx: int) -> None:
        self.calls.append(("on_train_batch_end", batch_idx, loss))

    def on_train_epoch_end(self, epoch: int, **rest: Any) -> None:
        self.calls.append(("on_train_epoch_end", epoch, sorted(rest)))


class EarlyStop:
    """A second callback: stops on a flag, and has a non-hook attribute named like a hook."""

    on_validation_end = None  # not callable: skipped

    def __init__(self, patience_steps: int) -> None:
        self.patience_steps = patience_steps
        self.stop = False

    def on_train_batch_end(self, batch_idx: int, **kwargs: Any) -> None:
        self.stop = batch_idx + 1 >= self.patience_steps


def callbacks_and_logging(lib: Any, root: Path, *, epochs: int = 2) -> dict:
    """(d) Hooks through ``fabric.call`` (keyword arguments a callback does not take are left out), metrics through
    ``fabric.log`` / ``fabric.log_dict`` to a CSV logger, with and without explicit steps."""
    lib.seed_everything(11)
    recorder, stopper = Recorder(), EarlyStop(patience_steps=3)
    logger = lib.CSVLogger(root, name="run")
    fabric = lib.Fabric(accelerator="cpu", devices=1, callbacks=[recorder, stopper], loggers=logger)
    fabric.launch()
    model = net(seed=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model, optimizer = fabric.setup(model, optimizer)
    loader = fabric.setup_dataloaders(DataLoader(data(40), batch_size=8, shuffle=True))
    fabric.call("on_train_start")
    fabric.call("on_validation_end", fabric)
    for epoch in range(epochs):
        for batch_idx, (x, y) in enumerate(loader):
            loss = F.mse_loss(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            fabric.log("train_loss", loss)
            fabric.call("on_train_batch_end", loss=round(loss.item(), 6), batch_idx=batch_idx, outputs=loss)
            if stopper.stop:
                break
        fabric.log_dict({"epoch_loss": loss.detach(), "epoch": epoch, "lr": optimizer.param_groups[0]["lr"]},
                        step=100 + epoch)
        fabric.call("on_train_epoch_end", epoch=epoch, model=model)
    logger.save()
    return {"calls": recorder.calls, "metrics_file": str(Path(logger.log_dir) / "metrics.csv"),
            "state": _cpu_state(model)}


def resumable(lib: Any, path: Path, *, total: int = 10, stop_at: int | None = None) -> dict:
    """(e) Train ``total`` steps, or stop after ``stop_at`` and save; a run whose checkpoint exists loads it first
    and continues mid-epoch where it stopped (model, optimizer, scheduler and the step counter restored)."""
    lib.seed_everything(5)
    fabric = lib.Fabric(accelerator="cpu", devices=1)
    fabric.launch()
    model = net(seed=6)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    model, optimizer = fabric.setup(model, optimizer)
    loader = fabric.setup_dataloaders(DataLoader(data(32), batch_size=8))
    state = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "step": 0}
    remainder = fabric.load(path, state) if Path(path).exists() else {}
    losses: list[float] = []
    step = state["step"]
    while step < total:
        for i, (x, y) in enumerate(loader):
            if i < step % len(loader) and not losses:  # resumed mid-epoch: skip the batches already seen
                continue
            loss = F.mse_loss(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            step += 1
            if step in (total, stop_at):
                break
        if step == stop_at:
            state["step"] = step
            fabric.save(path, {**state, "note": "stopped"})
            break
    return {"losses": losses, "state": _cpu_state(model), "remainder": remainder, "step": step,
            "lr": optimizer.param_groups[0]["lr"]}
