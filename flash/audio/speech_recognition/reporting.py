"""The speech recognizer's ``report`` adapter: word and character error rates, the worst utterances with an
aligned, marked diff.

``validation_step`` returns ``{"transcripts": [str], "references": [str]}``; :class:`SpeechRecognitionReport`
keeps them, with each utterance's file name from the batch's metadata, for one validation pass.

Example:
    >>> part = SpeechRecognitionReport()
    >>> part.add(None, {"transcripts": ["a b"], "references": ["a c"]}, {"metadata": [{"filepath": "/x/y.wav"}]})
    >>> part.names
    ['y.wav']
"""

from __future__ import annotations

import html
from typing import Any, ClassVar

from flash.core.data import METADATA
from flash.core.reporting import Markup, PassReport

WORST = 10


class SpeechRecognitionReport(PassReport):
    """The transcripts, references and utterance names of one validation pass."""

    outputs: ClassVar[tuple[str, ...]] = ("transcripts", "references")
    kept = ("transcripts", "references", "names")

    def __init__(self) -> None:
        self.transcripts: list[str] = []
        self.references: list[str] = []
        self.names: list[str] = []

    def add(self, module: Any, outputs: dict, batch: Any) -> None:
        """Keep one validation batch's transcripts and references, named by their files."""
        self.transcripts += list(outputs["transcripts"])
        self.references += list(outputs["references"])
        meta = batch.get(METADATA) if isinstance(batch, dict) else None
        metadata = list(meta) if isinstance(meta, list) else [{} for _ in outputs["transcripts"]]
        self.names += [_utterance_name(m, len(self.names) + i) for i, m in enumerate(metadata)]

    def sections(self, page: Any, *, model: Any) -> None:
        """Add corpus WER/CER and the worst utterances of this validation pass to ``page``."""
        rows, word_errors, words, char_errors, chars = [], 0, 0, 0, 0
        for name, reference, hypothesis in zip(self.names, self.references, self.transcripts):
            ref_words, hyp_words = reference.split(), hypothesis.split()
            errors = error_count(ref_words, hyp_words)
            char_err = error_count(list(reference), list(hypothesis))
            word_errors, words = word_errors + errors, words + len(ref_words)
            char_errors, chars = char_errors + char_err, chars + len(reference)
            wer = errors / max(len(ref_words), 1)
            rows.append((wer, name, reference, hypothesis, Markup(diff_html(align(ref_words, hyp_words)))))
        section = page.section("Error rates")
        wer, cer = word_errors / max(words, 1), char_errors / max(chars, 1)
        section.text(f"{len(rows)} validation utterances: WER {wer:.4f} ({word_errors} word errors in {words} words), "
                     f"CER {cer:.4f} ({char_errors} character errors in {chars} characters).")
        section.table(["utterances", "WER", "CER"], [[len(rows), wer, cer]], csv_name="error_rates.csv")
        worst = sorted(rows, key=lambda row: -row[0])[:WORST]
        page.section("Worst utterances").text(
            "Reference against hypothesis: missing words struck through, wrong or extra words highlighted.", note=True
        ).table(["utterance", "WER", "reference", "hypothesis", "diff"], [[n, w, r, h, d] for w, n, r, h, d in worst],
                csv_name="worst_utterances.csv")


def _utterance_name(meta: dict, index: int) -> str:
    for key in ("filepath", "path", "file"):
        if meta.get(key):
            return str(meta[key]).replace("\\", "/").rsplit("/", 1)[-1]
    return f"row {meta.get('row', index)}"


def align(reference: list[str], hypothesis: list[str]) -> list[tuple[str, str, str]]:
    """A minimal edit script: ``(op, ref, hyp)`` with op ``"="``, ``"sub"``, ``"del"`` (missing) or ``"ins"`` (extra).

    Example:
        >>> align("the cat sat".split(), "the bat sat down".split())
        [('=', 'the', 'the'), ('sub', 'cat', 'bat'), ('=', 'sat', 'sat'), ('ins', '', 'down')]
    """
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    # cost = (edits, substitutions): among minimal edit scripts keep the one that matches most words
    cost = [[(i + j, 0) if i == 0 or j == 0 else (0, 0) for j in range(cols)] for i in range(rows)]
    for i in range(1, rows):
        for j in range(1, cols):
            same = reference[i - 1] == hypothesis[j - 1]
            (e, s) = cost[i - 1][j - 1]
            cost[i][j] = min((e + (not same), s + (not same)), _plus_one(cost[i - 1][j]), _plus_one(cost[i][j - 1]))
    ops: list[tuple[str, str, str]] = []
    i, j = rows - 1, cols - 1
    while i or j:
        same = bool(i and j and reference[i - 1] == hypothesis[j - 1])
        diagonal = cost[i - 1][j - 1] if i and j else None
        if diagonal is not None and cost[i][j] == (diagonal[0] + (not same), diagonal[1] + (not same)):
            ops.append(("=" if same else "sub", reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == _plus_one(cost[i - 1][j]):
            ops.append(("del", reference[i - 1], ""))
            i -= 1
        else:
            ops.append(("ins", "", hypothesis[j - 1]))
            j -= 1
    return ops[::-1]


def _plus_one(cost: tuple[int, int]) -> tuple[int, int]:
    return cost[0] + 1, cost[1]


def error_count(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions of the minimal alignment."""
    return sum(op != "=" for op, _, _ in align(reference, hypothesis))


def diff_html(ops: list[tuple[str, str, str]]) -> str:
    """The alignment as HTML: missing words struck through (``<del>``), extra ones ``<ins>``, substitutions both."""
    words = []
    for op, ref, hyp in ops:
        ref, hyp = html.escape(ref), html.escape(hyp)
        words.append(ref if op == "=" else f"<del>{ref}</del>" if op == "del" else f"<ins>{hyp}</ins>" if op == "ins"
                     else f"<del>{ref}</del><ins>{hyp}</ins>")
    return " ".join(words)
