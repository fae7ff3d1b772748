"""Moved to :mod:`flash.fabric.strategy` (the engine runs on flash.fabric); kept so old imports work."""

from flash.fabric.strategy import *  # noqa: F403
