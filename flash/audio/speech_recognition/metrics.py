"""Word and character error rates: edit distance between transcripts, summed over an epoch.

``WER = (substitutions + deletions + insertions) / reference words``, summed over every pair before dividing
(as torchmetrics' ``WordErrorRate`` does, with the same results); the character error rate is the same on
characters. Counts are summed across processes.

Example:
    >>> wer = ErrorRate("word")
    >>> wer.update(["the cat sat"], ["the cat sat down"])
    >>> float(wer.compute())
    0.25
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from flash.core.metrics import Metric
from flash.errors import DataError, invalid_choice

UNITS = ("word", "char")


class ErrorRate(Metric):
    """Edit distance over reference length, in words (``"word"``: WER) or characters (``"char"``: CER)."""

    def __init__(self, unit: str = "word") -> None:
        super().__init__()
        if unit not in UNITS:
            raise invalid_choice("unit", unit, UNITS)
        self.unit = unit
        self.add_state("errors", torch.tensor(0, dtype=torch.long))
        self.add_state("total", torch.tensor(0, dtype=torch.long))

    def update(self, preds: Sequence[str] | str, target: Sequence[str] | str) -> None:
        preds, target = ([preds] if isinstance(preds, str) else list(preds),
                         [target] if isinstance(target, str) else list(target))
        if len(preds) != len(target):
            raise DataError(f"{len(preds)} transcripts for {len(target)} references: give one per reference. "
                            f"Received: preds={preds[:3]!r}..., target={target[:3]!r}...")
        split = str.split if self.unit == "word" else list
        errors = total = 0
        for predicted, reference in zip(preds, target):
            reference_units = split(reference)
            errors += edit_distance(split(predicted), reference_units)
            total += len(reference_units)
        self.accumulate(errors=torch.tensor(errors), total=torch.tensor(total))

    def score(self, errors: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        return (errors.double() / total.clamp(min=1).double()).float()


def edit_distance(predicted: Sequence[str], reference: Sequence[str]) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning one into the other."""
    previous = list(range(len(reference) + 1))
    for i, unit in enumerate(predicted, start=1):
        current = [i]
        for j, wanted in enumerate(reference, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (unit != wanted)))
        previous = current
    return previous[-1]
