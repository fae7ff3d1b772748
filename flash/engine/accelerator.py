"""Moved to :mod:`flash.fabric.accelerator` (the engine runs on flash.fabric); kept so old imports work."""

from flash.fabric.accelerator import *  # noqa: F403
