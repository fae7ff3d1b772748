"""Speech peer benchmarks' data, models and metric: espeak-ng clips, random-weight models saved once, WER / CER.

No pretrained speech weights are reachable offline, so both contenders fine-tune the same random-weight model
(built from a config with one seed, saved once with ``save_pretrained``; both load that folder). Accuracy is then
the final validation loss and the WER / CER of the transcripts of the same held-out clips, computed by the same
code (:func:`error_rate`) for both.
"""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16000
WORDS = ("yes", "no", "up", "down", "left", "right", "stop", "go", "on", "off", "one", "two", "three", "four",
         "five", "red", "green", "blue", "open", "close", "the", "door", "light", "turn", "now", "please")
VOICES = ("en-us", "en-us+f3")


def sentences(count: int, *, seed: int = 0) -> list[str]:
    """``count`` short commands of 2 to 5 words from :data:`WORDS` (lower case, no punctuation)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))) for _ in range(count)]


def espeak_clip(text: str, voice: str, path: Path) -> None:
    """``text`` spoken by espeak-ng as a 16 kHz mono 16-bit WAV (its 22,050 Hz output resampled, silence trimmed)."""
    import soundfile as sf
    import torch
    import torchaudio

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True)
        audio, rate = sf.read(raw, dtype="float32")
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    audio = audio[max(0, loud[0] - 800): loud[-1] + 800]
    sf.write(path, torchaudio.functional.resample(torch.from_numpy(audio), rate, RATE).numpy(), RATE,
             subtype="PCM_16")


def write_clips(root: Path, *, train: int, val: int, seed: int = 0) -> dict[str, Any]:
    """Speak ``train + val`` sentences (alternating the two voices) into ``root/clips``; write train/val CSVs.

    Columns ``file`` (absolute path) and ``text``. Without espeak-ng, sentences are joined from the bundled
    espeak-ng words of flash's demo instead (the transcripts are then those words).
    """
    folder = root / "clips"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    speak = shutil.which("espeak-ng") is not None
    for i, text in enumerate(sentences(train + val, seed=seed)):
        path = folder / f"clip_{i:03d}.wav"
        if speak:
            espeak_clip(text, VOICES[i % 2], path)
        else:
            text = join_demo_words(text, path, i)
        rows.append({"file": str(path), "text": text})
    random.Random(seed).shuffle(rows)
    return {**write_rows(root, {"train": rows[:train], "val": rows[train:train + val]}), "espeak": speak}


def join_demo_words(text: str, path: Path, index: int) -> str:
    """The bundled words of ``text`` that flash ships (one voice per clip) joined into one WAV; its transcript."""
    import soundfile as sf

    from flash.audio.speech_recognition.demo import demo_rows

    voice = "mf"[index % 2]
    bundled = {r["text"]: r["file"] for r in demo_rows() if r["voice"] == voice}
    words = [w for w in text.split() if w in bundled] or ["yes"]
    sf.write(path, np.concatenate([sf.read(bundled[w], dtype="float32")[0] for w in words]), RATE, subtype="PCM_16")
    return " ".join(words)


def demo_split(root: Path) -> dict[str, Any]:
    """``--quick``: flash's bundled espeak-ng words, the male voice's 10 to train on, 4 of the female one held out."""
    from flash.audio.speech_recognition.demo import demo_rows

    rows = demo_rows()
    return {**write_rows(root, {"train": [r for r in rows if r["voice"] == "m"],
                                "val": [r for r in rows if r["voice"] == "f"][:4]}), "espeak": False}


def write_rows(root: Path, stages: dict[str, list[dict]]) -> dict[str, Any]:
    from _peers import split_digest

    paths = {}
    for stage, rows in stages.items():
        paths[stage] = str(root / f"{stage}.csv")
        with open(paths[stage], "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["file", "text"])
            writer.writeheader()
            writer.writerows({"file": r["file"], "text": r["text"]} for r in rows)
    audio = sorted({r["file"] for rows in stages.values() for r in rows})
    return {**paths, "digest": split_digest(paths["train"], paths["val"], *audio),
            "audio_s": sum(audio_seconds(f) for f in audio)}


def audio_seconds(path: str) -> float:
    import soundfile as sf

    return float(sf.info(path).duration)


def read_rows(path: str) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["file"] for r in rows], [r["text"] for r in rows]


# ------------------------------------------------------------------------------------------------ models
def ctc_folder(folder: Path, *, quick: bool) -> str:
    """A random wav2vec2 CTC model over flash's default characters (a-z, '), saved with its tokenizer."""
    import torch
    import transformers

    from flash.audio.speech_recognition.backbones import DEFAULT_CHARACTERS, ctc_tokenizer

    tokenizer = ctc_tokenizer(DEFAULT_CHARACTERS)
    size = dict(hidden_size=64, num_hidden_layers=2, conv_dim=(32,) * 7, intermediate_size=128) if quick else \
        dict(hidden_size=192, num_hidden_layers=3, conv_dim=(128,) * 7, intermediate_size=768)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(tokenizer), num_attention_heads=4, pad_token_id=tokenizer.pad_token_id,
        feat_extract_norm="layer", do_stable_layer_norm=True, ctc_loss_reduction="mean", mask_time_prob=0.0,
        layerdrop=0.0, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, **size)
    torch.manual_seed(0)
    transformers.Wav2Vec2ForCTC(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder)
    return str(folder)


def whisper_folder(folder: Path, *, quick: bool) -> str:
    """A random Whisper (flash's byte-level tiny-whisper tokenizer) with a short window, saved with its processor.

    Full size: 80 mel bins, d_model 128, 2 encoder and 2 decoder layers, a 4 s window, 40 tokens (Whisper-tiny's
    mel bins at a third of its width, half its depth and under a seventh of its window, so a CPU run takes minutes).
    """
    import torch
    import transformers

    from flash.audio.speech_recognition.backbones import tiny_whisper

    base = tiny_whisper()  # its tokenizer: one token per byte plus Whisper's special tokens
    tokenizer = base.tokenizer
    mels, width, layers, window = (16, 32, 1, 2) if quick else (80, 128, 2, 4)
    extractor = transformers.WhisperFeatureExtractor(feature_size=mels, chunk_length=window, sampling_rate=RATE)
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=mels, d_model=width, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=4 if width > 32 else 2, decoder_attention_heads=4 if width > 32 else 2,
        encoder_ffn_dim=4 * width, decoder_ffn_dim=4 * width, max_source_positions=extractor.nb_max_frames // 2,
        max_target_positions=16 if quick else 40, decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot,
        bos_token_id=eot, begin_suppress_tokens=None, suppress_tokens=None)
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(config)
    model.generation_config.max_length = config.max_target_positions  # flash generates up to this too
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return str(folder)


# ------------------------------------------------------------------------------------------------ metric
def normalise(text: str) -> str:
    return " ".join("".join(c if c.isalnum() or c == "'" else " " for c in text.lower()).split())


def edits(a: list, b: list) -> int:
    """Levenshtein distance between two sequences."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def error_rate(predictions: list[str], references: list[str], *, unit: str = "word") -> float:
    """Corpus WER (``unit="word"``) or CER (``"char"``): edits over reference length, after :func:`normalise`."""
    if len(predictions) != len(references):
        raise SystemExit(f"{len(predictions)} transcripts for {len(references)} clips")
    split = str.split if unit == "word" else list
    pairs = [(split(normalise(p)), split(normalise(r))) for p, r in zip(predictions, references)]
    return sum(edits(r, p) for p, r in pairs) / max(1, sum(len(r) for _, r in pairs))
