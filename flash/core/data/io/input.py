"""Lightning Flash's import path for ``Input`` and ``DataKeys`` (the sample dict's keys)."""

from flash.core.data import INPUT, METADATA, TARGET, Input


class DataKeys:
    """The keys of a sample / batch dict, as Lightning Flash names them."""

    INPUT = INPUT
    TARGET = TARGET
    METADATA = METADATA
    PREDS = "preds"


__all__ = ["DataKeys", "Input"]
