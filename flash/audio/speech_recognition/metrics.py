"""Word and character error rates accumulated over an epoch: what ``SpeechRecognizer`` logs as ``val_wer``, ``val_cer``.

The same numbers as ``torchmetrics.text.WordErrorRate`` / ``CharErrorRate`` (corpus level: edits over the
references' words or characters, spaces counted as characters), without importing torchmetrics, which took as long
as torch and transformers together (~21 s of a speech run's setup on a busy machine; it pulls in its image metrics
and torchvision). Under ``torch.distributed`` the counts are summed over the processes.

Example:
    >>> wer = ErrorRate("word")
    >>> wer.update(["the cat sat"], ["the bat sat down"])
    >>> round(float(wer.compute()), 3)
    0.5
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Literal

import torch


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: substitutions + deletions + insertions (two rows, no alignment kept)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


class ErrorRate(torch.nn.Module):
    """Corpus word (``unit="word"``) or character (``"char"``) error rate; ``update``, ``compute``, ``reset``."""

    errors: torch.Tensor
    total: torch.Tensor

    def __init__(self, unit: Literal["word", "char"] = "word") -> None:
        super().__init__()
        if unit not in ("word", "char"):
            raise ValueError(f"unit must be 'word' or 'char'. Received: unit={unit!r}")
        self.unit = unit
        self.register_buffer("errors", torch.zeros((), dtype=torch.long), persistent=False)  # on the model's device:
        self.register_buffer("total", torch.zeros((), dtype=torch.long), persistent=False)  # what all_reduce needs
        self.update_count = 0

    def _tokens(self, text: str) -> Sequence[str]:
        return text.split() if self.unit == "word" else text

    def counts(self, predictions: str | Sequence[str], references: str | Sequence[str]) -> tuple[int, int]:
        """``(edits, reference words or characters)`` of these transcripts against their references."""
        predictions = [predictions] if isinstance(predictions, str) else list(predictions)
        references = [references] if isinstance(references, str) else list(references)
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} transcripts for {len(references)} references. "
                             f"Received: predictions={predictions[:3]!r}..., references={references[:3]!r}...")
        errors = total = 0
        for prediction, reference in zip(predictions, references):
            ref = self._tokens(reference)
            errors += edit_distance(ref, self._tokens(prediction))
            total += len(ref)
        return errors, total

    def update(self, predictions: str | Sequence[str], references: str | Sequence[str]) -> None:
        errors, total = self.counts(predictions, references)
        self.errors += errors
        self.total += total
        self.update_count += 1

    def compute(self) -> torch.Tensor:
        counts = torch.stack([self.errors, self.total])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            counts = counts.clone()
            torch.distributed.all_reduce(counts)
        errors, total = counts.tolist()
        return torch.tensor(errors / total if total else errors, dtype=torch.float32)

    def reset(self) -> None:
        self.errors.zero_()
        self.total.zero_()
        self.update_count = 0

    def forward(self, predictions: str | Sequence[str], references: str | Sequence[str]) -> torch.Tensor:
        """The error rate of these transcripts alone, in this process (the accumulated counts are left as they were)."""
        errors, total = self.counts(predictions, references)
        return torch.tensor(errors / total if total else errors, dtype=torch.float32)

    def clone(self) -> ErrorRate:
        """A copy (the task clones its metrics per stage, as torchmetrics' ``Metric.clone``)."""
        return copy.deepcopy(self)

    def extra_repr(self) -> str:
        return f"unit={self.unit!r}"
