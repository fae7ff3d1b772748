"""``SpeechRecognizer``: fine-tune and run CTC (wav2vec2, HuBERT, ...) and encoder-decoder (Whisper) models.

The data pipeline hands over padded waveforms; the model resamples them to its feature
extractor's rate if needed, runs the feature extractor (normalisation / log-mel), tokenizes the
transcripts (label padding -100), and takes the loss from the Hugging Face model. Decoding is
greedy: argmax + CTC collapse for CTC models, ``generate`` for sequence-to-sequence ones.
The work itself lives beside it: ``features.py`` (rates, durations, features, label ids) and
``decoding.py`` (CTC decoding, Whisper generation, audio of any length in windows).

Example:
    >>> model = SpeechRecognizer("facebook/wav2vec2-base-960h")  # doctest: +SKIP
    >>> model.predict("speech.wav")  # doctest: +SKIP
    'HELLO WORLD'
"""

from __future__ import annotations

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
from flash.audio.speech_recognition.chunking import windows
from flash.audio.speech_recognition.decoding import (
    chunk_and_stride,
    ctc_decode,
    ctc_long,
    generate,
    seq2seq_long,
    set_whisper_prompt,
)
from flash.audio.speech_recognition.features import (
    check_ctc_lengths,
    check_durations,
    clip_name,
    extract,
    output_lengths,
    pad_labels,
    resolve_max_duration,
    resolve_sampling_rate,
    window_seconds,
)
from flash.audio.speech_recognition.input import SpeechRecognitionInputTransform
from flash.audio.speech_recognition.io import audio_from_array, is_audio_file, read_audio, resample
from flash.audio.speech_recognition.metrics import ErrorRate
from flash.audio.speech_recognition.text import TranscriptChecker
from flash.core.data import INPUT, METADATA, TARGET
from flash.core.task import Task, temporarily
from flash.errors import CheckpointError, ConfigurationError, DataError

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
        super().__init__(
            metrics={"wer": ErrorRate("word"), "cer": ErrorRate("char")},
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
        self.sampling_rate = resolve_sampling_rate(self.feature_extractor, sampling_rate, backbone=backbone)
        self.max_duration = resolve_max_duration(
            self.feature_extractor, max_duration, sampling_rate=self.sampling_rate, backbone=backbone
        )
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

    @property
    def samples_per_frame(self) -> int:
        """Waveform samples per output frame of a CTC model (320 for wav2vec2 / HuBERT)."""
        return int(getattr(self.model.config, "inputs_to_logits_ratio", 0) or 320)

    def _chunking(self) -> tuple[int, int]:
        """``(chunk, stride)`` in samples at the model's rate (whole CTC frames) for reading long audio."""
        return chunk_and_stride(
            chunk_length_s=self.chunk_length_s, stride_length_s=self.stride_length_s,
            window_s=window_seconds(self.feature_extractor, self.sampling_rate), max_duration=self.max_duration,
            sampling_rate=self.sampling_rate, align=self.samples_per_frame if self.is_ctc else 1,
            backbone=self.hparams["backbone"],
        )

    # ------------------------------------------------------------------ features & labels (see features.py)
    def input_features(self, batch_input: dict, metadata: list[dict]) -> dict[str, torch.Tensor]:
        """A collated batch's ``"input"`` (padded waveforms at any rate) -> the model's input features.

        Clips longer than ``max_duration`` raise a ``DataError`` naming them.
        """
        waveform, lengths, rate = (
            batch_input["waveform"],
            batch_input["lengths"].tolist(),
            int(batch_input["sampling_rate"]),
        )
        check_durations(lengths, rate, metadata, max_duration=self.max_duration, ctc=self.is_ctc)
        clips = [resample(waveform[i, :n].float().cpu(), rate, self.sampling_rate).numpy()
                 for i, n in enumerate(lengths)]
        return self.extract_features(clips)

    def extract_features(self, clips: list) -> dict[str, torch.Tensor]:
        """Waveforms (NumPy, at the model's rate) -> the model's input features, padded, on its device."""
        return extract(self.feature_extractor, clips, sampling_rate=self.sampling_rate, device=self.device)

    def label_ids(self, texts: list[str], metadata: list[dict], features: dict) -> torch.Tensor:
        """Transcripts -> ``(B, tokens)`` label ids padded with -100, checked against the vocabulary (and for
        CTC against the frames ``features`` make)."""
        ids = [self.tokenizer(self.transcripts.prepare(t, clip_name(m))).input_ids for t, m in zip(texts, metadata)]
        if not self.is_ctc:
            start = self.model.config.decoder_start_token_id
            ids = [row[1:] if row and row[0] == start else row for row in ids]  # the model prepends it itself
        else:
            check_ctc_lengths(ids, texts, metadata, output_lengths(self.model, features))
        return pad_labels(ids).to(self.device)

    # ------------------------------------------------------------------ steps
    def _shared_step(self, batch: dict, stage: str) -> dict[str, Any]:
        """``{"loss"}``, plus ``"transcripts"`` and ``"references"`` in validation and test (read by the report)."""
        texts, metadata = batch[TARGET], batch[METADATA]
        features = self.input_features(batch[INPUT], metadata)
        outputs = self.model(**features, labels=self.label_ids(texts, metadata, features))
        metrics = {"val": self.val_metrics, "test": self.test_metrics}.get(stage)
        result: dict[str, Any] = {"loss": outputs.loss}
        if metrics:
            predictions = (
                self.decode_ctc(outputs.logits.detach(), features)
                if self.is_ctc
                else self.generate_transcripts(features)
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
        features = self.input_features(batch_input, metadata)
        if self.is_ctc:
            return self.decode_ctc(self.model(**features).logits, features)
        return self.generate_transcripts(features)

    forward = transcribe  # type: ignore[assignment]  # the task's forward takes a batch dict, not one tensor

    def predict_step(self, batch: dict, batch_idx: int) -> list[str] | list[dict]:
        return self.transcribe(batch[INPUT], batch.get(METADATA))

    # ------------------------------------------------------------------ decoding (see decoding.py)
    def decode_ctc(self, logits: torch.Tensor, features: dict) -> list[str]:
        """CTC logits ``(B, frames, vocab)`` -> one text per clip (greedy; frames made from padding are blanks)."""
        frames = output_lengths(self.model, features) if "attention_mask" in features else None
        return ctc_decode(self.tokenizer, logits, frames)

    def generate_transcripts(self, features: dict) -> list[str]:
        """Sequence-to-sequence (Whisper) input features -> one text per clip, prompted with language / task."""
        return generate(self.model, self.tokenizer, features, prompt=self.transcripts.prompt_ids, device=self.device)

    def _transcribe_long(self, waveform: torch.Tensor, rate: int, *, timestamps: bool) -> str | dict:
        """One clip of any length, read in overlapping windows (see :mod:`~flash.audio.speech_recognition.chunking`)."""
        audio = resample(waveform.float().cpu(), rate, self.sampling_rate)
        chunk, stride = self._chunking()
        spans = windows(len(audio), chunk=chunk, stride=stride)
        clips = [audio[w.start : w.end].numpy() for w in spans]
        if self.is_ctc:
            return ctc_long(self.tokenizer, clips, spans, logits_of=self._window_logits,
                            samples_per_frame=self.samples_per_frame, sampling_rate=self.sampling_rate,
                            timestamps=timestamps)
        return seq2seq_long(clips, spans, transcribe=self._transcribe_windows, sampling_rate=self.sampling_rate,
                            timestamps=timestamps)

    def _transcribe_windows(self, clips: list) -> list[str]:
        return self.generate_transcripts(self.extract_features(clips))

    def _window_logits(self, clips: list) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.extract_features(clips)
        return self.model(**features).logits, output_lengths(self.model, features)

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
