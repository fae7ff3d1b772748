"""From model outputs to text: greedy CTC decoding, Whisper generation, and audio of any length.

CTC models decode by argmax and the CTC collapse (a blank between repeats keeps both); sequence-
to-sequence models (Whisper) ``generate`` after their language / task prompt. Audio longer than the
model reads at once goes through overlapping windows (:mod:`~flash.audio.speech_recognition.chunking`):
CTC windows keep the logits of their own span and are decoded as one clip, Whisper windows are
transcribed separately and their words merged.

Example:
    >>> model.decode_ctc(model.model(**features).logits, features)  # doctest: +SKIP
    ['hello world']
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch

from flash.audio.speech_recognition.chunking import Window, collapse_ctc, ctc_words, merge_words, segments, windows
from flash.errors import ConfigurationError, invalid_choice

DEFAULT_CTC_CHUNK = 30.0  # seconds per window when a CTC model reads long audio
WINDOWS_PER_BATCH = 8


def ctc_text(tokenizer: Any, frame_ids: list[int]) -> str:
    """Per-frame ids -> text by the CTC rule (a blank between repeats keeps both: "hel_lo" -> "hello")."""
    tokens = [token for token, _, _ in collapse_ctc(frame_ids, blank=tokenizer.pad_token_id)]
    return " ".join(tokenizer.decode(tokens, group_tokens=False, skip_special_tokens=True).split())


def ctc_decode(tokenizer: Any, logits: torch.Tensor, frames: torch.Tensor | None) -> list[str]:
    """``(B, frames, vocab)`` logits -> one text per clip; frames past ``frames[i]`` (padding) are blanks."""
    ids = logits.argmax(dim=-1)  # (B, frames, vocab) -> (B, frames)
    if frames is not None:
        ids = ids.masked_fill(
            torch.arange(ids.shape[1], device=ids.device)[None, :] >= frames.to(ids.device)[:, None],
            tokenizer.pad_token_id,
        )
    return [ctc_text(tokenizer, row) for row in ids.cpu().tolist()]


def generate(model: Any, tokenizer: Any, features: dict, *, prompt: list[int], device: Any,
             max_new_tokens: int | None = None) -> list[str]:
    """Greedy generation from a sequence-to-sequence ``model`` after the ``prompt`` ids -> one text per clip.

    Up to the model's longest target (``max_target_positions``), or ``max_new_tokens`` after the prompt."""
    batch_size = next(iter(features.values())).shape[0]
    prompt_ids = torch.tensor([prompt] * batch_size, dtype=torch.long, device=device)
    config = copy.deepcopy(model.generation_config)
    config.max_length = getattr(model.config, "max_target_positions", 448)
    if max_new_tokens is not None:
        config.max_length = min(config.max_length, len(prompt) + max_new_tokens)
    config.begin_suppress_tokens = config.suppress_tokens = None
    generated = model.generate(**features, decoder_input_ids=prompt_ids, generation_config=config)
    if generated.shape[1] >= len(prompt) and torch.equal(generated[:, : len(prompt)], prompt_ids):
        generated = generated[:, len(prompt) :]  # some models return the prompt, Whisper does not
    return [" ".join(t.split()) for t in tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)]


def chunk_and_stride(*, chunk_length_s: float | None, stride_length_s: float | None, window_s: float | None,
                     max_duration: float, sampling_rate: int, align: int, backbone: str) -> tuple[int, int]:
    """``(chunk, stride)`` in samples (multiples of ``align``: whole CTC frames) for reading long audio."""
    chunk_s = chunk_length_s or window_s or min(max_duration, DEFAULT_CTC_CHUNK)
    if chunk_s <= 0 or (window_s is not None and chunk_s > window_s + 1e-6):
        raise ConfigurationError(f"chunk_length_s must be in (0, {window_s or 'inf'}] s for "
                                 f"{backbone!r}. Received: chunk_length_s={chunk_length_s!r}")
    stride_s = chunk_s / 6 if stride_length_s is None else stride_length_s
    chunk, stride = (int(round(v * sampling_rate / align)) * align for v in (chunk_s, stride_s))
    windows(chunk, chunk=chunk, stride=stride)  # raises when the stride leaves no step
    return chunk, stride


def ctc_long(tokenizer: Any, clips: list, spans: Sequence[Window], *,
             logits_of: Callable[[list], tuple[torch.Tensor, torch.Tensor | None]], samples_per_frame: int,
             sampling_rate: int, timestamps: bool) -> str | dict:
    """Windows of one clip read by a CTC model (``logits_of(clips) -> (logits, frames)``) -> its text.

    Each window keeps the frames that start in its own span, so the joined logits decode as the clip would.
    """
    ratio, kept = samples_per_frame, []
    for first in range(0, len(clips), WINDOWS_PER_BATCH):
        logits, frames = logits_of(clips[first : first + WINDOWS_PER_BATCH])  # (windows, frames, vocab)
        for j, span in enumerate(spans[first : first + WINDOWS_PER_BATCH]):
            made = int(frames[j]) if frames is not None else logits.shape[1]
            # frames starting in the window's own span: contiguous with the neighbours', context dropped
            own = slice(-(-span.left // ratio), min(made, -(-(span.end - span.start - span.right) // ratio)))
            kept.append(logits[j, own])
    ids = torch.cat(kept).argmax(dim=-1).cpu().tolist()
    if not timestamps:
        return ctc_text(tokenizer, ids)
    runs = collapse_ctc(ids, blank=tokenizer.pad_token_id)
    seconds = ratio / sampling_rate
    chunks = [
        {
            "text": tokenizer.decode(tokens, group_tokens=False, skip_special_tokens=True).strip(),
            "timestamp": (round(start * seconds, 3), round(end * seconds, 3)),
        }
        for tokens, start, end in ctc_words(runs, delimiter=getattr(tokenizer, "word_delimiter_token_id", None))
    ]
    chunks = [c for c in chunks if c["text"]]
    return {"text": " ".join(c["text"] for c in chunks), "chunks": chunks}


def seq2seq_long(clips: list, spans: Sequence[Window], *, transcribe: Callable[[list], list[str]],
                 sampling_rate: int, timestamps: bool) -> str | dict:
    """Windows of one clip transcribed separately (``transcribe(clips) -> texts``), their words merged."""
    texts: list[str] = []
    for first in range(0, len(clips), WINDOWS_PER_BATCH):
        texts += transcribe(clips[first : first + WINDOWS_PER_BATCH])
    words: list = []
    for index, text in enumerate(texts):
        words = merge_words(words, [(word, index) for word in text.split()])
    text = " ".join(word for word, _ in words)
    return {"text": text, "chunks": segments(words, spans, sampling_rate)} if timestamps else text


def set_whisper_prompt(tokenizer: Any, *, language: str | None, task: str | None, ctc: bool) -> None:
    """Put ``language`` / ``task`` tokens in a Whisper tokenizer's prefix (what ``generate`` is prompted with)."""
    if language is None and task is None:
        return
    if ctc or not hasattr(tokenizer, "set_prefix_tokens"):
        raise ConfigurationError(
            f"language= and task= are Whisper options; this model has no language/task prompt. "
            f"Received: language={language!r}, task={task!r}"
        )
    if task not in (None, "transcribe", "translate"):
        raise invalid_choice("task", task, ("transcribe", "translate"))
    from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

    code = TO_LANGUAGE_CODE.get(str(language).lower(), str(language).lower()) if language is not None else None
    vocab = tokenizer.get_vocab()
    missing = [f"<|{name}|>" for name in (code, task) if name is not None and f"<|{name}|>" not in vocab]
    if missing:
        raise ConfigurationError(
            f"This Whisper's vocabulary has no {', '.join(missing)} token: it cannot be prompted "
            f"with language={language!r} / task={task!r}. Use a language code or name it knows "
            f"(e.g. 'en' or 'english'). Received: language={language!r}, task={task!r}"
        )
    tokenizer.set_prefix_tokens(language=code, task=task)
