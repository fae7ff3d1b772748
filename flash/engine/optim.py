"""Reading what ``configure_optimizers`` returns, and stepping learning-rate schedulers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from flash.errors import ConfigurationError


@dataclass
class SchedulerConfig:
    scheduler: Any
    interval: str = "epoch"  # "step" | "epoch"
    frequency: int = 1
    monitor: str | None = None
    name: str | None = None

    @property
    def needs_metric(self) -> bool:
        return isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _scheduler_config(item: Any) -> SchedulerConfig:
    if isinstance(item, dict):
        if "scheduler" not in item:
            raise ConfigurationError(f"An lr_scheduler dict needs a 'scheduler' key. Received: {sorted(item)}")
        config = SchedulerConfig(item["scheduler"], item.get("interval", "epoch"), item.get("frequency", 1),
                                 item.get("monitor"), item.get("name"))
    else:
        config = SchedulerConfig(item)
    if config.interval not in ("step", "epoch"):
        raise ConfigurationError(
            f"lr_scheduler interval must be 'step' or 'epoch'. Received: interval={config.interval!r}"
        )
    if config.needs_metric and config.monitor is None:
        config.monitor = "val_loss"
    return config


def parse_optimizers(result: Any) -> tuple[list[torch.optim.Optimizer], list[SchedulerConfig]]:
    """Accept an optimizer; a dict with ``optimizer`` (+ ``lr_scheduler``); ``(opts, scheds)``; or lists."""
    if result is None:
        raise ConfigurationError(
            "configure_optimizers() returned None; return an optimizer (e.g. torch.optim.Adam(...))."
        )
    if isinstance(result, torch.optim.Optimizer):
        return [result], []
    if isinstance(result, dict):
        if "optimizer" not in result:
            raise ConfigurationError(
                f"configure_optimizers() returned a dict without 'optimizer'. Received keys: {sorted(result)}"
            )
        schedulers = [] if result.get("lr_scheduler") is None else [_scheduler_config(result["lr_scheduler"])]
        if schedulers and "monitor" in result and schedulers[0].monitor is None:
            schedulers[0].monitor = result["monitor"]
        return [result["optimizer"]], schedulers
    if isinstance(result, (list, tuple)):
        if len(result) == 2 and isinstance(result[0], (list, tuple)):
            optimizers, schedulers = list(result[0]), result[1]
            return optimizers, [
                _scheduler_config(s) for s in (schedulers if isinstance(schedulers, (list, tuple)) else [schedulers])
            ]
        if all(isinstance(o, torch.optim.Optimizer) for o in result):
            return list(result), []
        if all(isinstance(o, dict) for o in result):
            parsed = [parse_optimizers(o) for o in result]
            return [o for p in parsed for o in p[0]], [s for p in parsed for s in p[1]]
    raise ConfigurationError(f"Cannot read what configure_optimizers() returned. Received: {type(result).__name__}")


def step_schedulers(configs: list[SchedulerConfig], interval: str, counter: int, metrics: dict[str, float]) -> None:
    """Step the schedulers of ``interval`` whose frequency divides ``counter``."""
    for config in configs:
        if config.interval != interval or counter % config.frequency:
            continue
        if config.needs_metric:
            if config.monitor not in metrics:
                raise ConfigurationError(
                    f"ReduceLROnPlateau monitors {config.monitor!r}, which was not logged. "
                    f"Logged: {sorted(metrics)}. Set 'monitor' in the lr_scheduler dict."
                )
            config.scheduler.step(metrics[config.monitor])
        else:
            config.scheduler.step()
