"""Moved to :mod:`flash.fabric.precision` (the engine runs on flash.fabric); kept so old imports work."""

from flash.fabric.precision import *  # noqa: F403
