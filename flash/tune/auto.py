"""``flash train ... --lr auto --batch_size auto``: what the train command calls before it fits.

Example:
    >>> import argparse
    >>> config = {"model": {}, "data": {}, "trainer": {}, "finetune": {}}
    >>> auto_flags(argparse.Namespace(lr="auto", batch_size="32"), config), config["data"]
    ({'learning_rate'}, {'batch_size': 32})
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flash.errors import ConfigurationError

# flag -> (config section, argument name, type of a number given instead of "auto")
_FLAGS = {"lr": ("model", "learning_rate", float), "batch_size": ("data", "batch_size", int)}


def auto_flags(args: Any, config: dict[str, dict[str, Any]]) -> set[str]:
    """Put ``--lr``/``--batch_size`` numbers into ``config``; return the names set to ``auto`` (also as
    ``--model.learning_rate auto`` / ``--data.batch_size auto``), removed from the config."""
    auto: set[str] = set()
    for flag, (section, name, cast) in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is None:
            value = config[section].get(name)
            if value is None or str(value).lower() != "auto":
                continue
        if str(value).lower() == "auto":
            config[section].pop(name, None)
            auto.add(name)
            continue
        try:
            config[section][name] = cast(value)
        except ValueError:
            raise ConfigurationError(f"--{flag} takes a number or 'auto'. Received: --{flag} {value}") from None
    return auto


def tune_before_fit(auto: set[str], trainer: Any, model: Any, *, datamodule: Any, strategy: Any) -> None:
    """Find what ``auto`` names: the batch size first (the best learning rate depends on it), then the lr."""
    if not auto:
        return
    from flash.tune.tuner import Tuner

    tuner = Tuner(trainer)
    if "batch_size" in auto:
        found = tuner.scale_batch_size(model, datamodule=datamodule, strategy=strategy)
        print(f"Batch size: {found.batch_size} (the largest that fitted, {found.largest}, less a 10% margin; "
              f"tried {sorted(found.trials)})")
    if "learning_rate" in auto:
        swept = tuner.lr_find(model, datamodule=datamodule, strategy=strategy,
                              plot_path=Path(trainer.log_dir) / "lr_find.png")
        if swept.suggestion is None:
            print(f"Learning rate: the finder found no clear slope; keeping {model.learning_rate:g}.")
        else:
            print(f"Learning rate: {swept.suggestion:.3g} (lr finder over {len(swept.lrs)} steps; "
                  f"plot: {swept.plot_path})")
