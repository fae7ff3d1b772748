"""Speech recognition, flash against the Hugging Face ``Trainer`` / ``Seq2SeqTrainer``: the whole job, in alternating
fresh processes.

Data: short spoken commands (2-5 words from a 26-word list) synthesised with espeak-ng in two voices (16 kHz mono
WAVs; without espeak-ng, the bundled espeak-ng words of flash's demo joined), shuffled once and written as
``train.csv`` / ``val.csv`` (columns ``file``, ``text``) that both contenders read. No pretrained speech weights are
reachable offline: both fine-tune the same random-weight model, built from a config with one seed and saved once
with ``save_pretrained`` (see ``_speech.py``), so accuracy is the final validation loss and the WER / CER of the
held-out transcripts (the same metric code for both); the timing is the point.

Modes:
- ``whisper``: a small Whisper (80 mels, d_model 128, 2 + 2 layers, 4 s window, 40 tokens). flash:
  ``SpeechRecognitionData.from_csv`` + ``SpeechRecognizer`` + ``flash.Trainer(max_epochs=...).fit``, all defaults
  otherwise, then ``model.predict(val_files)``. hf: what the "Fine-Tune Whisper" guide teaches: ``Dataset.map``
  computing ``input_features`` and ``labels``, its ``DataCollatorSpeechSeq2SeqWithPadding``, ``Seq2SeqTrainer`` with
  ``predict_with_generate=True``, ``eval_strategy="epoch"`` and a WER ``compute_metrics`` (it validates like flash).
- ``ctc``: a small wav2vec2 CTC model (hidden 192, 3 layers, conv 128). hf: the "Fine-tune wav2vec2" guide:
  ``input_values`` / ``input_length`` / ``labels`` by ``Dataset.map``, its ``DataCollatorCTCWithPadding``, ``Trainer``
  with ``train_sampling_strategy="group_by_length"`` (the guide's ``group_by_length=True``), a WER
  ``compute_metrics``. Both train every parameter (the guide's ``freeze_feature_encoder`` is left out on both sides).

Then the hf side transcribes the held-out clips with ``pipeline("automatic-speech-recognition", batch_size=...)``
on its trained model (Whisper: ``generate_kwargs={"num_beams": 1}``, greedy as flash; the pipeline's default for
Whisper is 5 beams). Same epochs, batch size and learning rate on both sides; ``TrainingArguments`` defaults
otherwise (``save_strategy="no"``, ``report_to="none"``). ``fit_s``: data setup, model, training and validation
(imports excluded); ``predict_s``: the held-out clips read from disk and transcribed.

Usage:
    python benchmarks/peers/speech_hf_trainer.py                          # whisper and ctc, 48 / 16 clips, 2 rounds
    python benchmarks/peers/speech_hf_trainer.py --modes ctc --rounds 3 --json ctc.json
    python benchmarks/peers/speech_hf_trainer.py --quick                  # tiny models, the demo's 20 words
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Clock, main, split_digest  # noqa: E402
from _speech import ctc_folder, demo_split, error_rate, read_rows, whisper_folder, write_clips  # noqa: E402

CONTENDERS = ("flash", "hf")
MODES = ("whisper", "ctc")
METRICS = ("wer", "cer", "val_loss")
DEFAULTS = {"whisper": {"epochs": 3, "lr": 1e-3}, "ctc": {"epochs": 3, "lr": 1e-3}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--train", type=int, default=48, help="training clips")
    parser.add_argument("--val", type=int, default=16, help="held-out clips")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--epochs", type=int, help="default: 3 (--quick: 1)")
    parser.add_argument("--lr", type=float, help="default: 1e-3")


def prepare(args: argparse.Namespace, root: Path) -> list[dict]:
    """Write the clips and the split, and each mode's random model once; one worker config per mode."""
    split = demo_split(root) if args.quick else write_clips(root, train=args.train, val=args.val)
    print(f"split: digest {split['digest']}, {split['audio_s']:.0f} s of audio, "
          f"{'espeak-ng sentences' if split['espeak'] else 'bundled espeak-ng words'}", flush=True)
    configs = []
    for mode in args.modes:
        build = whisper_folder if mode == "whisper" else ctc_folder
        backbone = build(root / f"{mode}_model", quick=args.quick)
        epochs = args.epochs or (1 if args.quick else DEFAULTS[mode]["epochs"])
        configs.append({"mode": mode, "backbone": backbone, "epochs": epochs, "lr": args.lr or DEFAULTS[mode]["lr"],
                        "batch_size": 4 if args.quick else args.batch_size, "train": split["train"],
                        "val": split["val"], "root": str(root)})
    return configs


# ------------------------------------------------------------------------------------------------ workers
def worker(contender: str, config: dict) -> dict:
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    result = run_flash(config) if contender == "flash" else run_hf(config)
    files, texts = read_rows(config["val"])
    predicted = result.pop("transcripts")
    return {**result, "wer": error_rate(predicted, texts), "cer": error_rate(predicted, texts, unit="char"),
            "examples": list(zip(texts[:3], predicted[:3])), "threads": torch.get_num_threads(),
            "split": split_digest(config["train"], config["val"], *sorted(read_rows(config["train"])[0] + files))}


MODEL_MODULES = {"whisper": "transformers.models.whisper.modeling_whisper",
                 "ctc": "transformers.models.wav2vec2.modeling_wav2vec2"}


def run_flash(config: dict) -> dict:
    from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoModelForSpeechSeq2Seq, AutoTokenizer  # noqa: F401  (as the HF worker imports its classes: outside the clock)

    import flash
    from flash.audio import SpeechRecognitionData, SpeechRecognizer

    # the model's own module, which from_pretrained imports lazily: outside the clock, as the HF worker's pipeline
    # import (before its clock) already loads it there (2.5 s for Whisper)
    import_module(MODEL_MODULES[config["mode"]])
    val_files, _ = read_rows(config["val"])
    with Clock() as fit:
        datamodule = SpeechRecognitionData.from_csv("file", "text", train_file=config["train"],
                                                    val_file=config["val"], batch_size=config["batch_size"])
        model = SpeechRecognizer(config["backbone"], learning_rate=config["lr"])
        trainer = flash.Trainer(max_epochs=config["epochs"], default_root_dir=config["root"] + "/flash")
        trainer.fit(model, datamodule=datamodule)
    with Clock() as predict:
        transcripts = model.predict(val_files, batch_size=config["batch_size"])
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "transcripts": transcripts,
            "val_loss": float(trainer.callback_metrics["val_loss"])}


def run_hf(config: dict) -> dict:
    import soundfile as sf
    from _speech_hf import fit_ctc, fit_whisper
    from transformers import Seq2SeqTrainer, Trainer, pipeline  # noqa: F401  (imported outside the clock, as flash)

    val_files, _ = read_rows(config["val"])
    with Clock() as fit:
        trainer, tokenizer, extractor = (fit_whisper if config["mode"] == "whisper" else fit_ctc)(config)
    val_loss = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e][-1]
    with Clock() as predict:
        transcribe = pipeline("automatic-speech-recognition", model=trainer.model, tokenizer=tokenizer,
                              feature_extractor=extractor, batch_size=config["batch_size"], device="cpu")
        clips = [sf.read(path, dtype="float32")[0] for path in val_files]
        # greedy, as flash decodes (the pipeline's own Whisper default is 5 beams: ~5x the work)
        kwargs = {"generate_kwargs": {"num_beams": 1}} if config["mode"] == "whisper" else {}
        transcripts = [out["text"] for out in transcribe(clips, **kwargs)]
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "transcripts": transcripts, "val_loss": val_loss}


def run(argv: list[str] | None = None) -> dict | None:
    return main(__file__, "flash vs the Hugging Face Trainer / Seq2SeqTrainer, speech recognition", CONTENDERS,
                worker, prepare, add_arguments, argv, metrics=METRICS)


if __name__ == "__main__":
    run()
