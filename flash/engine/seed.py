"""Moved to :mod:`flash.fabric.seed` (the engine runs on flash.fabric); kept so old imports work."""

from flash.fabric.seed import *  # noqa: F403
