"""``flash cache clear``: remove the features that fits cached on disk (``$FLASH_CACHE/features``).

Example::

    flash cache clear        # Removed 15.4 MiB of cached features from /home/me/.cache/flash/features
"""

from __future__ import annotations

from typing import Any


def run_cache(args: Any, extra: list[str]) -> int:
    from flash.core.feature_store import cache_folder, clear_cache

    folder = cache_folder()
    freed = clear_cache()
    print(f"Removed {freed / 2**20:.1f} MiB of cached features from {folder}")
    return 0
