"""Moved to :mod:`flash.fabric.data` (the engine runs on flash.fabric); kept so old imports work."""

from flash.fabric.data import *  # noqa: F403
