"""Lightning 1.x ``Trainer`` arguments (``gpus=``, ``num_devices=``, ...): translated with a warning, or refused
with the Lightning 2 spelling to write instead.

Example:
    >>> upgrade_arguments({"gpus": 0}, {"accelerator": "auto", "devices": "auto"})  # doctest: +SKIP
    {'accelerator': 'cpu', 'devices': 'auto'}   # and a FutureWarning naming accelerator=/devices=
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from flash.errors import ConfigurationError, close_matches


def _gpus(value: Any, given: dict[str, Any]) -> dict[str, Any]:
    if value is None or value == 0 or value == "0" or value == []:
        return {"accelerator": "cpu"}
    return {"accelerator": "cuda", "devices": value}


def _progress_bar_refresh_rate(value: Any, given: dict[str, Any]) -> dict[str, Any]:
    return {"enable_progress_bar": bool(value)}


def _flag(new: str) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    return lambda value, given: {new: value}


def _ignored(value: Any, given: dict[str, Any]) -> dict[str, Any]:
    return {}


def _terminate_on_nan(value: Any, given: dict[str, Any]) -> dict[str, Any]:
    return {"on_nonfinite_loss": "raise"} if value else {}


# Lightning 1.x name -> (translation into Lightning 2 arguments, what to write instead)
TRANSLATED: dict[str, tuple[Callable[[Any, dict[str, Any]], dict[str, Any]], str]] = {
    "gpus": (_gpus, "accelerator='gpu', devices=N (or accelerator='cpu' for gpus=0)"),
    "num_devices": (_flag("devices"), "devices=N"),
    "num_processes": (_flag("devices"), "devices=N"),
    "checkpoint_callback": (_flag("enable_checkpointing"), "enable_checkpointing=True/False"),
    "progress_bar_refresh_rate": (_progress_bar_refresh_rate, "enable_progress_bar=True/False"),
    "terminate_on_nan": (_terminate_on_nan, "on_nonfinite_loss='raise' (flash's default)"),
    "weights_summary": (_ignored, "nothing (flash prints no model summary)"),
    "auto_select_gpus": (_ignored, "nothing (devices=N takes the first N visible GPUs)"),
    "flush_logs_every_n_steps": (_ignored, "nothing (loggers flush on their own)"),
    "replace_sampler_ddp": (_ignored, "nothing (flash adds a DistributedSampler when it is needed)"),
}

# Lightning 1.x arguments flash cannot honour: what to write instead.
REFUSED: dict[str, str] = {
    "resume_from_checkpoint": "trainer.fit(model, datamodule=datamodule, ckpt_path=PATH)",
    "tpu_cores": "flash runs on CPU and CUDA GPUs only: accelerator='cpu' or accelerator='gpu', devices=N",
    "ipus": "flash runs on CPU and CUDA GPUs only: accelerator='cpu' or accelerator='gpu', devices=N",
    "auto_lr_find": "the model's learning_rate=..., or find one with flash.Tuner(trainer).lr_find(model, ...)",
    "auto_scale_batch_size": "batch_size=... where the DataModule is built (every from_* constructor takes it)",
    "track_grad_norm": "a Callback that logs the gradient norm in on_before_optimizer_step",
    "amp_backend": "precision='16-mixed' (native torch.autocast)",
    "amp_level": "precision='16-mixed' (native torch.autocast)",
    "stochastic_weight_avg": "torch.optim.swa_utils in a Callback",
}


def upgrade_arguments(legacy: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` (the Lightning 2 arguments) updated with the translation of each ``legacy`` argument.

    Each translated argument warns (``FutureWarning``) with its Lightning 2 spelling; an argument that
    flash cannot honour, or that neither Lightning version knows, raises ``ConfigurationError``.
    """
    upgraded = dict(given)
    for name, value in legacy.items():
        if name in REFUSED:
            raise ConfigurationError(
                f"Trainer({name}=...) is a Lightning 1.x argument that flash does not support. Write instead: "
                f"{REFUSED[name]}. Received: {name}={value!r}"
            )
        if name not in TRANSLATED:
            hint = close_matches(name, list(given) + list(TRANSLATED), n=1)
            did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigurationError(
                f"Trainer got an unknown argument {name!r}.{did_you_mean} Received: {name}={value!r}")
        translate, spelling = TRANSLATED[name]
        warnings.warn(f"Trainer({name}={value!r}) is Lightning 1.x's spelling; flash follows Lightning 2: write "
                      f"{spelling}.", FutureWarning, stacklevel=4)
        upgraded.update(translate(value, upgraded))
    return upgraded
