"""All checking and defaulting of the Trainer's loop arguments, in one place."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from flash.engine.compile import compile_options
from flash.errors import ConfigurationError, invalid_choice


def parse_max_time(value: Any) -> float | None:
    """``"DD:HH:MM:SS"``, a timedelta, a dict of timedelta kwargs, or seconds -> seconds."""
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return dt.timedelta(**value).total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) == 4 and all(p.strip().isdigit() for p in parts):
            d, h, m, s = (int(p) for p in parts)
            return dt.timedelta(days=d, hours=h, minutes=m, seconds=s).total_seconds()
    raise ConfigurationError(
        "max_time must be 'DD:HH:MM:SS', a datetime.timedelta, a dict like {'hours': 1}, or seconds. "
        f"Received: max_time={value!r}"
    )


def _check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{name} must be an int >= 1{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )
    return value


def _check_limit(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(
            f"{name} must be an int >= 0 (batches) or a float in [0, 1]. Received: {name}={value!r}"
        )
    if isinstance(value, float) and value > 1.0:
        raise ConfigurationError(f"{name} as a float is a fraction in [0, 1]. Received: {name}={value!r}")
    return value


@dataclass
class TrainerSettings:
    precision: Any
    max_epochs: int
    min_epochs: int
    max_steps: int
    max_time: float | None
    limit_train_batches: Any
    limit_val_batches: Any
    limit_test_batches: Any
    limit_predict_batches: Any
    fast_dev_run: int
    val_check_interval: Any
    check_val_every_n_epoch: int | None
    num_sanity_val_steps: float  # math.inf: all validation batches
    accumulate_grad_batches: int
    gradient_clip_val: float | None
    gradient_clip_algorithm: str
    log_every_n_steps: int
    enable_progress_bar: bool | None
    enable_checkpointing: bool
    on_nonfinite_loss: str
    report: bool = True  # write <log_dir>/report/index.html after fit and validate (not with fast_dev_run)
    compile: dict[str, Any] | None = None  # torch.compile's arguments (flash.engine.compile); None: not compiled

    @classmethod
    def build(cls, args: dict[str, Any]) -> TrainerSettings:
        fast = args["fast_dev_run"]
        if isinstance(fast, bool):
            fast = 1 if fast else 0
        if not isinstance(fast, int) or fast < 0:
            raise ConfigurationError(f"fast_dev_run must be a bool or an int >= 0. Received: fast_dev_run={fast!r}")
        max_epochs, max_steps = args["max_epochs"], args["max_steps"]
        if max_epochs is None:
            max_epochs = 1000 if max_steps == -1 else -1
        for name, value, low in (("max_epochs", max_epochs, -1), ("min_epochs", args["min_epochs"] or 0, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(f"{name} must be an int >= {low} or None. Received: {name}={value!r}")
        if max_steps != -1 and (not isinstance(max_steps, int) or max_steps < -1):
            raise ConfigurationError(
                f"max_steps must be -1 (no limit) or an int >= 0. Received: max_steps={max_steps!r}"
            )
        accumulate = _check_positive_int("accumulate_grad_batches", args["accumulate_grad_batches"])
        clip = args["gradient_clip_val"]
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float)) or clip < 0):
            raise ConfigurationError(
                f"gradient_clip_val must be a number >= 0 or None. Received: gradient_clip_val={clip!r}"
            )
        algorithm = args["gradient_clip_algorithm"] or "norm"
        if algorithm not in ("norm", "value"):
            raise invalid_choice("gradient_clip_algorithm", algorithm, ("norm", "value"))
        if args["on_nonfinite_loss"] not in ("raise", "skip"):
            raise invalid_choice("on_nonfinite_loss", args["on_nonfinite_loss"], ("raise", "skip"))
        interval = args["val_check_interval"]
        if interval is None:
            interval = 1.0
        if (
            isinstance(interval, bool)
            or not isinstance(interval, (int, float))
            or interval <= 0
            or (isinstance(interval, float) and interval > 1.0)
        ):
            raise ConfigurationError(
                f"val_check_interval must be a float in (0, 1] (fraction of an epoch) or an int > 0 (batches). "
                f"Received: val_check_interval={interval!r}"
            )
        sanity = args["num_sanity_val_steps"]
        if sanity is not None and (isinstance(sanity, bool) or not isinstance(sanity, int) or sanity < -1):
            raise ConfigurationError(
                f"num_sanity_val_steps must be an int >= 0, or -1 (all). Received: num_sanity_val_steps={sanity!r}"
            )
        if not isinstance(args.get("report", True), bool):
            raise ConfigurationError(f"report must be True or False. Received: report={args['report']!r}")
        sanity = 2 if sanity is None else (math.inf if sanity == -1 else sanity)
        settings = cls(
            precision=args["precision"],
            max_epochs=max_epochs,
            min_epochs=args["min_epochs"] or 0,
            max_steps=max_steps,
            max_time=parse_max_time(args["max_time"]),
            limit_train_batches=_check_limit("limit_train_batches", args["limit_train_batches"]),
            limit_val_batches=_check_limit("limit_val_batches", args["limit_val_batches"]),
            limit_test_batches=_check_limit("limit_test_batches", args["limit_test_batches"]),
            limit_predict_batches=_check_limit("limit_predict_batches", args["limit_predict_batches"]),
            fast_dev_run=fast,
            val_check_interval=interval,
            check_val_every_n_epoch=_check_positive_int(
                "check_val_every_n_epoch", args["check_val_every_n_epoch"], allow_none=True
            ),
            num_sanity_val_steps=sanity,
            accumulate_grad_batches=accumulate,
            gradient_clip_val=args["gradient_clip_val"],
            gradient_clip_algorithm=algorithm,
            log_every_n_steps=_check_positive_int(
                "log_every_n_steps", 50 if args["log_every_n_steps"] is None else args["log_every_n_steps"]
            ),
            enable_progress_bar=args["enable_progress_bar"],
            enable_checkpointing=True if args["enable_checkpointing"] is None else bool(args["enable_checkpointing"]),
            on_nonfinite_loss=args["on_nonfinite_loss"], report=args.get("report", True) and not fast,
            compile=compile_options(args.get("compile")),
        )
        if fast:
            settings.limit_train_batches = settings.limit_val_batches = fast
            settings.limit_test_batches = settings.limit_predict_batches = fast
            settings.max_epochs, settings.max_steps, settings.num_sanity_val_steps = 1, fast, 0
            settings.val_check_interval, settings.enable_checkpointing = 1.0, False
        return settings
