"""``SpeechRecognizer``: fine-tune and run CTC (wav2vec2, HuBERT, ...) and encoder-decoder (Whisper) models.

The data pipeline hands over padded waveforms; the model resamples them to its feature
extractor's rate if needed, runs the feature extractor (normalisation / log-mel), tokenizes the
transcripts (label padding -100), and takes the loss from the Hugging Face model. Decoding is
greedy: argmax + CTC collapse for CTC models, ``generate`` for sequence-to-sequence ones.

Example:
    >>> model = SpeechRecognizer("facebook/wav2vec2-base-960h")  # doctest: +SKIP
    >>> model.predict("speech.wav")  # doctest: +SKIP
    'HELLO WORLD'
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from flash.audio.speech_recognition.backbones import (
    SPEECH_BACKBONES,
    backbone_files,
    load_backbone,
    write_backbone_files,
)
from flash.audio.speech_recognition.chunking import collapse_ctc, ctc_words, merge_words, segments, windows
from flash.audio.speech_recognition.input import SpeechRecognitionInputTransform
from flash.audio.speech_recognition.io import audio_from_array, is_audio_file, read_audio, resample
from flash.audio.speech_recognition.text import TranscriptChecker
from flash.core.data import INPUT, METADATA, TARGET
from flash.core.task import Task, temporarily
from flash.errors import CheckpointError, ConfigurationError, DataError, invalid_choice, require

DEFAULT_CTC_MAX_DURATION = 60.0
DEFAULT_CTC_CHUNK = 30.0  # seconds per window when a CTC model reads long audio
WINDOWS_PER_BATCH = 8
OUTPUTS = ("labels", "transcripts", "text")


class SpeechRecognizer(Task):
    """Speech to text with any Hugging Face CTC or speech sequence-to-sequence model.

    Args:
        backbone: a hub id (``"facebook/wav2vec2-base-960h"``, ``"openai/whisper-tiny"``), a local
            folder saved with ``save_pretrained``, or a registered name (``available_backbones()``).
        processor_backbone: where to load the tokenizer / feature extractor from (default: ``backbone``).
        pretrained: load the pretrained weights (False: same architecture, random weights).
        learning_rate, optimizer, lr_scheduler: see :class:`~flash.core.task.Task`.
        sampling_rate: the rate the model works at (default: its feature extractor's, usually 16 kHz);
            audio at other rates is resampled, never misread.
        max_duration: longest clip in seconds; longer clips raise an error naming the file. Default:
            the window of a Whisper-style model (30 s), 60 s for CTC models (raise it if memory allows).
        vocab: CTC only: characters of a new output vocabulary (a fresh output layer is trained).
        normalize_text: CTC only: map transcripts to the vocabulary's case and drop characters it lacks,
            instead of raising an error naming them.
        chunk_length_s, stride_length_s: prediction reads audio longer than ``max_duration`` in windows
            of ``chunk_length_s`` (CTC default 30 s; Whisper: its 30 s window) overlapping by
            ``stride_length_s`` on each side (default ``chunk_length_s / 6``), as the transformers ASR
            pipeline does. Training and evaluation on over-long clips stay an error.
        timestamps: predictions are ``{"text", "chunks": [{"text", "timestamp": (start_s, end_s)}]}``:
            words for CTC models, the windows' segments for Whisper (also ``predict(..., timestamps=True)``).
        language, task: Whisper only: the spoken language (``"en"``, ``"french"``) and ``"transcribe"`` or
            ``"translate"`` (to English); default: the model's own choice.

    Example:
        >>> model = SpeechRecognizer("tiny-wav2vec2-ctc", learning_rate=1e-3)
        >>> isinstance(model.predict(torch.zeros(16000)), str)
        True
    """

    model: Any  # a transformers CTC or speech sequence-to-sequence model (its attributes are dynamic)

    default_learning_rate = 1e-5
    input_transform_cls = SpeechRecognitionInputTransform
    backbones = SPEECH_BACKBONES

    def __init__(self, backbone: str = "facebook/wav2vec2-base-960h", *, processor_backbone: str | None = None,
                 pretrained: bool = True, learning_rate: float | None = None, optimizer: Any = "AdamW",
                 lr_scheduler: Any = None, sampling_rate: int | None = None, max_duration: float | None = None,
                 vocab: Sequence[str] | None = None, normalize_text: bool = False, chunk_length_s: float | None = None,
                 stride_length_s: float | None = None, timestamps: bool = False, language: str | None = None,
                 task: Literal["transcribe", "translate"] | None = None) -> None:
        text = require("torchmetrics.text", "audio", purpose="word error rates")
        super().__init__(
            metrics={"wer": text.WordErrorRate(), "cer": text.CharErrorRate()},
            learning_rate=learning_rate,
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
        )
        self.save_hyperparameters()
        self.train_metrics = torch.nn.ModuleDict()  # error rates need decoding: measured on val / test
        speech = load_backbone(
            backbone,
            pretrained=pretrained,
            processor_backbone=processor_backbone,
            vocab=list(vocab) if vocab is not None else None,
        )
        self.model, self.tokenizer, self.feature_extractor = speech.model, speech.tokenizer, speech.feature_extractor
        self.is_ctc = speech.is_ctc
        if self.is_ctc:
            self.model.config.ctc_loss_reduction = "mean"  # a loss that does not grow with batch size or length
        self.sampling_rate = self._sampling_rate(sampling_rate)
        self.max_duration = self._max_duration(max_duration)
        self.chunk_length_s, self.stride_length_s, self.timestamps = chunk_length_s, stride_length_s, bool(timestamps)
        self._chunking()  # a bad chunk / stride pair fails here, not at the first long clip
        set_whisper_prompt(self.tokenizer, language=language, task=task, ctc=self.is_ctc)
        self.transcripts = TranscriptChecker(self.tokenizer, ctc=self.is_ctc, normalize=normalize_text)

    # ------------------------------------------------------------------ configuration
    @classmethod
    def available_backbones(cls, pattern: str | None = None) -> list[str]:
        """Registered offline backbones; any Hugging Face CTC / speech seq2seq model id works too."""
        return SPEECH_BACKBONES.available_keys(pattern)

    @property
    def backbone(self) -> torch.nn.Module:
        """The encoder (for CTC models the whole wav2vec2/HuBERT body): what finetuning strategies freeze."""
        return self.model.base_model if self.is_ctc else self.model.get_encoder()

    def _sampling_rate(self, requested: int | None) -> int:
        native = getattr(self.feature_extractor, "sampling_rate", None)
        if requested is not None and native is not None and int(requested) != int(native):
            raise ConfigurationError(
                f"The feature extractor of {self.hparams['backbone']!r} works at {native} Hz; audio at other rates is "
                f"resampled to it automatically. Leave sampling_rate=None. Received: sampling_rate={requested!r}"
            )
        return int(requested or native or 16000)

    def _max_duration(self, requested: float | None) -> float:
        window = getattr(self.feature_extractor, "n_samples", None)  # Whisper-style fixed input window
        window_s = window / self.sampling_rate if window else None
        if window_s is not None and requested is not None and requested > window_s:
            raise ConfigurationError(
                f"{self.hparams['backbone']!r} reads at most {window_s:g} s of audio at a time. Split longer clips. "
                f"Received: max_duration={requested!r}"
            )
        return float(requested or window_s or DEFAULT_CTC_MAX_DURATION)

    def _chunking(self) -> tuple[int, int]:
        """``(chunk, stride)`` in samples at the model's rate (whole CTC frames) for reading long audio."""
        window = getattr(self.feature_extractor, "n_samples", None)
        longest = window / self.sampling_rate if window else None
        chunk_s = self.chunk_length_s or longest or min(self.max_duration, DEFAULT_CTC_CHUNK)
        if chunk_s <= 0 or (longest is not None and chunk_s > longest + 1e-6):
            raise ConfigurationError(f"chunk_length_s must be in (0, {longest or 'inf'}] s for "
                                     f"{self.hparams['backbone']!r}. Received: chunk_length_s={self.chunk_length_s!r}")
        stride_s = chunk_s / 6 if self.stride_length_s is None else self.stride_length_s
        align = self._samples_per_frame() if self.is_ctc else 1
        chunk, stride = (int(round(v * self.sampling_rate / align)) * align for v in (chunk_s, stride_s))
        windows(chunk, chunk=chunk, stride=stride)  # raises when the stride leaves no step
        return chunk, stride

    def _samples_per_frame(self) -> int:
        return int(getattr(self.model.config, "inputs_to_logits_ratio", 0) or 320)

    # ------------------------------------------------------------------ features & labels
    def _features(self, batch_input: dict, metadata: list[dict]) -> dict[str, torch.Tensor]:
        waveform, lengths, rate = (
            batch_input["waveform"],
            batch_input["lengths"].tolist(),
            int(batch_input["sampling_rate"]),
        )
        for length, meta in zip(lengths, metadata):
            if length / rate > self.max_duration + 1e-6:
                raise DataError(
                    f"Audio {_name(meta)} is {length / rate:.1f} s long, but this model trains and evaluates on at "
                    f"most {self.max_duration:g} s (max_duration; prediction reads longer audio in windows). Split the "
                    "recording into shorter clips" + (" or raise max_duration." if self.is_ctc else "."))
        clips = [resample(waveform[i, :n].float().cpu(), rate, self.sampling_rate).numpy()
                 for i, n in enumerate(lengths)]
        return self._extract(clips)

    def _extract(self, clips: list) -> dict[str, torch.Tensor]:
        """Waveforms (NumPy, at the model's rate) -> the model's input features, padded, on its device."""
        extractor = self.feature_extractor
        kwargs: dict[str, Any] = {} if getattr(extractor, "n_samples", None) else {"padding": True}
        if getattr(extractor, "return_attention_mask", False):
            kwargs["return_attention_mask"] = True
        features = extractor(clips, sampling_rate=self.sampling_rate, return_tensors="pt", **kwargs)
        return {key: value.to(self.device) for key, value in features.items()}

    def _labels(self, texts: list[str], metadata: list[dict], features: dict) -> torch.Tensor:
        ids = [self.tokenizer(self.transcripts.prepare(t, _name(m))).input_ids for t, m in zip(texts, metadata)]
        if not self.is_ctc:
            start = self.model.config.decoder_start_token_id
            ids = [row[1:] if row and row[0] == start else row for row in ids]  # the model prepends it itself
        else:
            self._check_ctc_lengths(ids, texts, metadata, features)
        labels = torch.full((len(ids), max(1, max(len(r) for r in ids))), -100, dtype=torch.long)
        for i, row in enumerate(ids):
            labels[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return labels.to(self.device)

    def _output_lengths(self, features: dict) -> torch.Tensor | None:
        mask = features.get("attention_mask")
        lengths_of = getattr(self.model, "_get_feat_extract_output_lengths", None)
        if lengths_of is None:
            return None
        samples = (
            mask.sum(-1)
            if mask is not None
            else torch.full((next(iter(features.values())).shape[0],), next(iter(features.values())).shape[-1])
        )
        return lengths_of(samples.cpu())

    def _check_ctc_lengths(self, ids: list[list[int]], texts: list[str], metadata: list[dict], features: dict) -> None:
        frames = self._output_lengths(features)
        if frames is None:
            return
        for row, text, meta, available in zip(ids, texts, metadata, frames.tolist()):
            needed = len(row) + sum(1 for a, b in zip(row, row[1:]) if a == b)  # repeats need a blank between them
            if needed > available:
                raise DataError(
                    f"Audio {_name(meta)} is too short for its transcript {text!r}: CTC needs {needed} output frames, "
                    f"the model makes {available} from this clip. Check that audio and transcript belong together."
                )

    # ------------------------------------------------------------------ steps
    def _shared_step(self, batch: dict, stage: str) -> dict[str, Any]:
        """``{"loss"}``, plus ``"transcripts"`` and ``"references"`` in validation and test (read by the report)."""
        texts, metadata = batch[TARGET], batch[METADATA]
        features = self._features(batch[INPUT], metadata)
        outputs = self.model(**features, labels=self._labels(texts, metadata, features))
        metrics = {"val": self.val_metrics, "test": self.test_metrics}.get(stage)
        result: dict[str, Any] = {"loss": outputs.loss}
        if metrics:
            predictions = (
                self._ctc_decode(outputs.logits.detach(), features) if self.is_ctc else self._generate(features)
            )
            references = [self.transcripts.reference(t) for t in texts]
            for metric in metrics.values():
                metric.update(predictions, references)
            result.update(transcripts=predictions, references=references)
        self.log(
            f"{stage}_loss", outputs.loss, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=len(texts)
        )
        return result

    def transcribe(
        self, batch_input: dict, metadata: list[dict] | None = None, *, timestamps: bool | None = None
    ) -> list[Any]:
        """Padded waveforms (a collated batch's ``"input"``) -> one transcript per clip, of any length.

        Clips longer than ``max_duration`` (and all clips when ``timestamps``) are read in overlapping windows.
        """
        metadata = metadata or [{} for _ in range(len(batch_input["lengths"]))]
        timestamps = self.timestamps if timestamps is None else timestamps
        lengths, rate = batch_input["lengths"].tolist(), int(batch_input["sampling_rate"])
        if timestamps or any(n / rate > self.max_duration + 1e-6 for n in lengths):
            return [
                self._transcribe_long(batch_input["waveform"][i, :n], rate, timestamps=timestamps)
                for i, n in enumerate(lengths)
            ]
        features = self._features(batch_input, metadata)
        if self.is_ctc:
            return self._ctc_decode(self.model(**features).logits, features)
        return self._generate(features)

    forward = transcribe  # type: ignore[assignment]  # the task's forward takes a batch dict, not one tensor

    def predict_step(self, batch: dict, batch_idx: int) -> list[str] | list[dict]:
        return self.transcribe(batch[INPUT], batch.get(METADATA))

    def _ctc_decode(self, logits: torch.Tensor, features: dict) -> list[str]:
        ids = logits.argmax(dim=-1)  # (B, frames, vocab) -> (B, frames)
        frames = self._output_lengths(features) if "attention_mask" in features else None
        if frames is not None:  # frames made from padding are blanks
            ids = ids.masked_fill(
                torch.arange(ids.shape[1], device=ids.device)[None, :] >= frames.to(ids.device)[:, None],
                self.tokenizer.pad_token_id,
            )
        return [self._ctc_text(row) for row in ids.cpu().tolist()]

    def _ctc_text(self, frame_ids: list[int]) -> str:
        """Per-frame ids -> text by the CTC rule (a blank between repeats keeps both: "hel_lo" -> "hello")."""
        tokens = [token for token, _, _ in collapse_ctc(frame_ids, blank=self.tokenizer.pad_token_id)]
        return " ".join(self.tokenizer.decode(tokens, group_tokens=False, skip_special_tokens=True).split())

    # ------------------------------------------------------------------ long audio
    def _transcribe_long(self, waveform: torch.Tensor, rate: int, *, timestamps: bool) -> str | dict:
        """One clip of any length, read in overlapping windows (see :mod:`~flash.audio.speech_recognition.chunking`)."""
        audio = resample(waveform.float().cpu(), rate, self.sampling_rate)
        chunk, stride = self._chunking()
        spans = windows(len(audio), chunk=chunk, stride=stride)
        clips = [audio[w.start : w.end].numpy() for w in spans]
        if self.is_ctc:
            return self._ctc_long(clips, spans, timestamps=timestamps)
        texts: list[str] = []
        for first in range(0, len(clips), WINDOWS_PER_BATCH):
            texts += self._generate(self._extract(clips[first : first + WINDOWS_PER_BATCH]))
        words: list = []
        for index, text in enumerate(texts):
            words = merge_words(words, [(word, index) for word in text.split()])
        text = " ".join(word for word, _ in words)
        return {"text": text, "chunks": segments(words, spans, self.sampling_rate)} if timestamps else text

    def _ctc_long(self, clips: list, spans: list, *, timestamps: bool) -> str | dict:
        ratio, kept = self._samples_per_frame(), []
        for first in range(0, len(clips), WINDOWS_PER_BATCH):
            features = self._extract(clips[first : first + WINDOWS_PER_BATCH])
            logits = self.model(**features).logits  # (windows, frames, vocab)
            frames = self._output_lengths(features)
            for j, span in enumerate(spans[first : first + WINDOWS_PER_BATCH]):
                made = int(frames[j]) if frames is not None else logits.shape[1]
                # frames starting in the window's own span: contiguous with the neighbours', context dropped
                own = slice(-(-span.left // ratio), min(made, -(-(span.end - span.start - span.right) // ratio)))
                kept.append(logits[j, own])
        ids = torch.cat(kept).argmax(dim=-1).cpu().tolist()
        if not timestamps:
            return self._ctc_text(ids)
        runs = collapse_ctc(ids, blank=self.tokenizer.pad_token_id)
        seconds = ratio / self.sampling_rate
        chunks = [
            {
                "text": self.tokenizer.decode(tokens, group_tokens=False, skip_special_tokens=True).strip(),
                "timestamp": (round(start * seconds, 3), round(end * seconds, 3)),
            }
            for tokens, start, end in ctc_words(
                runs, delimiter=getattr(self.tokenizer, "word_delimiter_token_id", None)
            )
        ]
        chunks = [c for c in chunks if c["text"]]
        return {"text": " ".join(c["text"] for c in chunks), "chunks": chunks}

    def _generate(self, features: dict) -> list[str]:
        prompt = self.transcripts.prompt_ids
        batch_size = next(iter(features.values())).shape[0]
        prompt_ids = torch.tensor([prompt] * batch_size, dtype=torch.long, device=self.device)
        config = copy.deepcopy(self.model.generation_config)
        config.max_length = getattr(self.model.config, "max_target_positions", 448)
        config.begin_suppress_tokens = config.suppress_tokens = None
        generated = self.model.generate(**features, decoder_input_ids=prompt_ids, generation_config=config)
        if generated.shape[1] >= len(prompt) and torch.equal(generated[:, : len(prompt)], prompt_ids):
            generated = generated[:, len(prompt) :]  # some models return the prompt, Whisper does not
        return [" ".join(t.split()) for t in self.tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)]

    # ------------------------------------------------------------------ prediction
    def predict(
        self, inputs: Any, *, output: str = "labels", batch_size: int = 8, timestamps: bool | None = None
    ) -> Any:
        """Transcribe a path, folder, waveform or a list of them; any length (long audio is read in windows).

        Example:
            >>> model.predict("talk.wav", timestamps=True)  # doctest: +SKIP
            {'text': 'hello world', 'chunks': [{'text': 'hello', 'timestamp': (0.52, 0.9)}, ...]}
        """
        with temporarily(self, timestamps=None if timestamps is None else bool(timestamps)):
            return super().predict(inputs, output=output, batch_size=batch_size)

    def format_predictions(self, outputs: list[str] | list[dict], output: str) -> list:
        if output not in OUTPUTS:
            raise ConfigurationError(
                f"SpeechRecognizer outputs transcripts: use output='labels' (or omit it). Received: output={output!r}"
            )
        return list(outputs)

    def samples_from(self, inputs: Any) -> tuple[bool, list[dict]]:
        """A path, a folder, a waveform array (at ``self.sampling_rate``), or a list of those."""
        single = not isinstance(inputs, (list, tuple))
        if isinstance(inputs, (str, os.PathLike)) and Path(inputs).is_dir():
            single, inputs = False, sorted(str(p) for p in Path(inputs).rglob("*") if p.is_file() and is_audio_file(p))
            if not inputs:
                raise DataError(f"No audio files found in folder '{inputs}'.")
        items = [inputs] if single else list(inputs)
        samples = []
        for row, item in enumerate(items):
            if isinstance(item, (str, os.PathLike)):
                meta: dict[str, Any] = {"filepath": str(item)}
                waveform = read_audio(item, sampling_rate=self.sampling_rate)
            else:
                meta = {"row": row}
                waveform = audio_from_array(item, sampling_rate=self.sampling_rate, name=f"#{row} given to predict()")
            samples.append({INPUT: waveform, METADATA: {**meta, "sampling_rate": self.sampling_rate}})
        return single, samples

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Also store config, tokenizer and feature-extractor files, so the model reloads offline."""
        super().on_save_checkpoint(checkpoint)
        checkpoint["speech_backbone_files"] = backbone_files(self)

    @classmethod
    def from_checkpoint_state(cls, checkpoint: dict, hparams: dict) -> SpeechRecognizer:
        files = checkpoint.get("speech_backbone_files")
        if not files:
            raise CheckpointError(
                "This SpeechRecognizer checkpoint holds no tokenizer/config files; it cannot be rebuilt offline."
            )
        with tempfile.TemporaryDirectory() as folder:
            write_backbone_files(files, folder)
            model = cls(
                **{**hparams, "backbone": folder, "processor_backbone": None, "vocab": None, "pretrained": False}
            )
        model.hparams.update({k: hparams.get(k) for k in ("backbone", "processor_backbone", "vocab")})
        model.load_state_dict(checkpoint["state_dict"])
        return model


SpeechRecognition = SpeechRecognizer  # Lightning Flash's name


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


def _name(meta: dict) -> str:
    if "filepath" in meta:
        return f"'{meta['filepath']}'"
    return f"row {meta['row']}" if "row" in meta else "in the batch"
