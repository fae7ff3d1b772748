"""Lightning Flash's import path for :class:`~flash.core.data.InputTransform` (hooks: :mod:`flash.core.data.hooks`)."""

from flash.core.data import InputTransform

__all__ = ["InputTransform"]
