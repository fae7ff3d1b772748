"""Long audio in overlapping windows, and the pieces put back together.

CTC models (wav2vec2, HuBERT) read each window with ``stride`` samples of context on either
side; the frames of that context are dropped and the rest joined, as the ``transformers`` ASR
pipeline does with ``chunk_length_s`` / ``stride_length_s``. Sequence-to-sequence models
(Whisper) read 30 s windows; the overlapping words of neighbouring windows are aligned and each
word is kept once (as the pipeline's longest-common-sequence merge does, here on words).

Example:
    >>> [(w.start, w.end, w.left, w.right) for w in windows(25, chunk=10, stride=2)]
    [(0, 10, 0, 2), (6, 16, 2, 2), (12, 22, 2, 2), (18, 25, 2, 0)]
    >>> merge_words([("a", 0), ("b", 0), ("c", 0), ("d", 0)], [("c", 1), ("d", 1), ("e", 1)])
    [('a', 0), ('b', 0), ('c', 0), ('d', 1), ('e', 1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flash.errors import ConfigurationError


@dataclass(frozen=True)
class Window:
    """Samples ``[start, end)`` of the clip; ``left`` / ``right`` of them are context shared with the neighbours."""

    start: int
    end: int
    left: int
    right: int

    def kept(self, rate: int) -> tuple[float, float]:
        """The seconds this window answers for (its span without the shared context)."""
        return round((self.start + self.left) / rate, 3), round((self.end - self.right) / rate, 3)


def windows(num_samples: int, *, chunk: int, stride: int) -> list[Window]:
    """Windows of ``chunk`` samples covering ``num_samples``, overlapping by ``2 * stride``.

    The first window has no left context and the last no right context, so every sample is
    answered for by exactly one window.
    """
    step = chunk - 2 * stride
    if chunk <= 0 or stride < 0 or step <= 0:
        raise ConfigurationError(f"The chunk must be longer than twice the stride. Received: chunk={chunk} samples, "
                                 f"stride={stride} samples")
    spans, start = [], 0
    while True:
        end = min(start + chunk, num_samples)
        last = end >= num_samples
        spans.append(Window(start, end, 0 if start == 0 else stride, 0 if last else stride))
        if last:
            return spans
        start += step


def merge_words(left: Sequence[tuple[str, Any]], right: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Join two overlapping transcripts of ``(word, tag)`` pairs, keeping the words they share once.

    The overlap is the alignment of ``left``'s tail with ``right``'s head where the most words agree
    (at least two); the first half of it comes from ``left``, the second from ``right``. Without
    such an alignment the two are simply joined.
    """
    best_score, best = 0.0, 0
    for size in range(1, min(len(left), len(right)) + 1):
        matches = sum(a[0] == b[0] for a, b in zip(left[len(left) - size:], right[:size]))
        score = matches / size + size / 10_000  # equal agreement: prefer the longer overlap
        if matches > 1 and score > best_score:
            best_score, best = score, size
    half = best // 2
    return list(left[: len(left) - best + half]) + list(right[half:])


def segments(words: Sequence[tuple[str, int]], spans: Sequence[Window], rate: int) -> list[dict]:
    """Consecutive words of one window -> ``{"text", "timestamp": (start_s, end_s)}`` of the window's own span."""
    out: list[dict] = []
    for word, index in words:
        if out and out[-1]["window"] == index:
            out[-1]["text"] += " " + word
        else:
            out.append({"text": word, "timestamp": spans[index].kept(rate), "window": index})
    return [{"text": s["text"], "timestamp": s["timestamp"]} for s in out]


def collapse_ctc(ids: Sequence[int], *, blank: int) -> list[tuple[int, int, int]]:
    """Per-frame CTC ids -> ``(id, first frame, end frame)`` runs without blanks.

    Repeats merge unless a blank separates them ("l l" -> "l", "l _ l" -> "l l").

    Example:
        >>> collapse_ctc([0, 7, 7, 0, 7, 4, 9], blank=0)
        [(7, 1, 3), (7, 4, 5), (4, 5, 6), (9, 6, 7)]
    """
    runs: list[list[int]] = []
    previous = None
    for frame, token in enumerate(ids):
        if token != previous and token != blank:
            runs.append([token, frame, frame + 1])
        elif token == previous and token != blank:
            runs[-1][2] = frame + 1
        previous = token
    return [(token, start, end) for token, start, end in runs]


def ctc_words(runs: Sequence[tuple[int, int, int]], *, delimiter: int | None) -> list[tuple[list[int], int, int]]:
    """Runs split at the word delimiter -> ``(token ids, first frame, end frame)`` per word."""
    words: list[list[tuple[int, int, int]]] = [[]]
    for run in runs:
        if run[0] == delimiter:
            words.append([])
        else:
            words[-1].append(run)
    return [([token for token, _, _ in word], word[0][1], word[-1][2]) for word in words if word]
