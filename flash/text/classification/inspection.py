"""The text classifier's ``inspect`` adapter: a table of texts and labels (the texts are measured as lengths).

Example:
    >>> from flash.text.classification.entry import ENTRY
    >>> ENTRY.adapter("inspect").measure is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flash.core.reporting.inspection import InspectAdapter, Item, read_table_items


def read(split: str, constructor: str, kwargs: Mapping[str, Any]) -> tuple[list[Item], list[str]]:
    """One item per row of the table (``from_csv`` / ``from_json`` / ``from_parquet``), holding its text."""
    return read_table_items(split, kwargs)


INSPECT = InspectAdapter(read=read)
