"""Lightning Flash's import path for :func:`download_data` (``from flash.core.data.utils import download_data``)."""

from flash.core.download import download_data

__all__ = ["download_data"]
