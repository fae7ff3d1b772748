"""Transcripts against a tokenizer: CTC vocabularies spell with a fixed set of characters.

A transcript with characters a CTC vocabulary lacks would silently become ``<unk>`` and teach
the model nonsense; :class:`TranscriptChecker` raises an error naming them (or, with
``normalize=True``, maps case and drops them). Sequence-to-sequence tokenizers (byte-level BPE)
spell anything, so their transcripts pass through.

Example:
    >>> from flash.audio.speech_recognition.backbones import ctc_tokenizer
    >>> TranscriptChecker(ctc_tokenizer("abc"), ctc=True, normalize=True).prepare("AB, C!", "x.wav")
    'ab c'
"""

from __future__ import annotations

from typing import Any

from flash.errors import DataError


class TranscriptChecker:
    """Checks / normalises transcripts for one tokenizer, and gives the decoder prompt of seq2seq models."""

    def __init__(self, tokenizer: Any, *, ctc: bool, normalize: bool = False) -> None:
        self.tokenizer, self.ctc, self.normalize = tokenizer, ctc, normalize
        self.lower = bool(getattr(tokenizer, "do_lower_case", False))
        self.characters: set[str] = set()
        if ctc:
            delimiter = getattr(tokenizer, "word_delimiter_token", None)
            special = set(getattr(tokenizer, "all_special_tokens", [])) | {delimiter}
            self.characters = {t for t in tokenizer.get_vocab() if len(t) == 1 and t not in special}
        letters = [c for c in self.characters if c.isalpha()]
        self.case = "upper" if letters and all(c.isupper() for c in letters) else "lower" if letters and all(
            c.islower() for c in letters) else None

    def _cased(self, text: str) -> str:
        if self.lower:
            return text.lower()
        return text.upper() if self.case == "upper" else text.lower() if self.case == "lower" else text

    def unknown(self, text: str) -> list[str]:
        text = text.lower() if self.lower else text
        return sorted({c for c in text if not c.isspace() and c not in self.characters})

    def prepare(self, text: str, where: str) -> str:
        """The transcript to tokenize; raises DataError naming unknown characters (CTC, normalize=False)."""
        if not self.ctc:
            return text
        if self.normalize:
            text = self._cased(text)
            return " ".join("".join(c if c in self.characters or c.isspace() else " " for c in text).split())
        missing = self.unknown(text)
        if missing:
            raise DataError(self._message(text, where, missing))
        return " ".join(text.split())

    def _message(self, text: str, where: str, missing: list[str]) -> str:
        vocabulary = "".join(sorted(self.characters))
        case_fix = ""
        if self.case and any(c.swapcase() in self.characters for c in missing):
            case_fix = f" The vocabulary is {self.case}-case: {self.case}-case the transcripts."
        return (f"The transcript {text!r} of {where} has characters the model's CTC vocabulary lacks: "
                f"{', '.join(repr(c) for c in missing)}. The vocabulary spells with {vocabulary!r}.{case_fix} "
                "Fix: normalise the transcripts (case, strip punctuation), pass SpeechRecognizer(..., "
                "normalize_text=True) to do that automatically, or train a new output layer with vocab=[...].")

    def reference(self, text: str) -> str:
        """The transcript as the model could write it (what error rates compare predictions with)."""
        if self.ctc and self.normalize:
            return self.prepare(text, "")
        return " ".join((text.lower() if self.lower else text).split())

    @property
    def prompt_ids(self) -> list[int]:
        """Token ids a seq2seq tokenizer puts before the text (e.g. Whisper's ``<|startoftranscript|>...``)."""
        ids = self.tokenizer("").input_ids
        eos = getattr(self.tokenizer, "eos_token_id", None)
        return ids[:-1] if ids and ids[-1] == eos else ids
