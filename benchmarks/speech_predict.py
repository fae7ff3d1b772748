"""Speech transcription throughput: flash ``SpeechRecognizer.predict`` vs a hand-written transformers loop.

Both transcribe the same WAV files with the same wav2vec2 CTC model (random weights built from a
config, so it runs offline): read with soundfile, feature extractor, model, greedy CTC decode.
Runs alternate in one process; the score is seconds of audio transcribed per second (median of
``--repeats``), and the ratio flash / hand loop (target >= 0.9). Both must give the same transcripts.

The hand loop merges CTC repeats before it drops blanks and special tokens. ``tokenizer.batch_decode(ids,
skip_special_tokens=True)`` drops the blanks first, so "w _ w" became "w": this script did that until
2026-11-30, and only 21% of its transcripts matched flash's (flash was right). Since the fix: 100%, batched and
one clip at a time. Results: benchmarks/README.md.

    python benchmarks/speech_predict.py            # wav2vec2 with a base-like encoder, 48 clips
    python benchmarks/speech_predict.py --quick    # a smaller model and fewer clips
    python benchmarks/speech_predict.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script


def make_clips(folder: Path, count: int) -> tuple[list[str], float]:
    """``count`` 16 kHz WAVs of 1-4 s, each a run of the bundled espeak-ng words."""
    from flash.audio.speech_recognition.demo import demo_rows

    words = [sf.read(row["file"], dtype="float32")[0] for row in demo_rows()]
    rng = np.random.default_rng(0)
    paths, total = [], 0.0
    for i in range(count):
        clip = np.concatenate([words[j] for j in rng.integers(0, len(words), size=rng.integers(2, 9))])
        path = folder / f"clip_{i:03d}.wav"
        sf.write(path, clip, 16000)
        paths.append(str(path))
        total += len(clip) / 16000
    return paths, total


def make_model(folder: Path, quick: bool) -> Path:
    import transformers

    from flash.audio.speech_recognition.backbones import DEFAULT_CHARACTERS, ctc_tokenizer

    tokenizer = ctc_tokenizer(DEFAULT_CHARACTERS)
    size = dict(hidden_size=128, num_hidden_layers=2, conv_dim=(128,) * 7) if quick else \
        dict(hidden_size=384, num_hidden_layers=6, conv_dim=(256,) * 7)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(tokenizer),
        num_attention_heads=4,
        intermediate_size=4 * size["hidden_size"],
        pad_token_id=tokenizer.pad_token_id,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        **size,
    )
    torch.manual_seed(0)
    transformers.Wav2Vec2ForCTC(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder)
    return folder


def hand_loop(folder: Path, paths: list[str], batch_size: int):
    """The transformers way, written out: the baseline flash is measured against."""
    import transformers

    model = transformers.AutoModelForCTC.from_pretrained(folder).eval()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)

    def run() -> list[str]:
        texts = []
        with torch.no_grad():
            for start in range(0, len(paths), batch_size):
                clips = [sf.read(p, dtype="float32")[0] for p in paths[start : start + batch_size]]
                features = extractor(
                    clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
                )
                ids = model(**features).logits.argmax(dim=-1)  # (B, frames)
                frames = model._get_feat_extract_output_lengths(features["attention_mask"].sum(-1))
                for row, length in zip(ids, frames.tolist()):
                    # CTC: merge repeats while the blanks still separate them, then drop blanks and specials.
                    # (batch_decode(skip_special_tokens=True) drops the blanks first, merging "w _ w" into "w".)
                    merged = torch.unique_consecutive(row[:length])
                    text = tokenizer.decode(merged, skip_special_tokens=True, group_tokens=False)
                    texts.append(" ".join(text.split()))  # a dropped token between two word breaks leaves two spaces
        return texts

    return run


def run(args: argparse.Namespace) -> dict:
    """Seconds of audio per second, flash and the hand loop, and whether their transcripts are identical."""
    repeats = args.repeats or (3 if args.quick else 5)
    from flash.audio import SpeechRecognizer

    with tempfile.TemporaryDirectory() as tmp:
        paths, seconds = make_clips(Path(tmp), 16 if args.quick else 48)
        folder = make_model(Path(tmp) / "model", args.quick)
        baseline = hand_loop(folder, paths, args.batch_size)
        model = SpeechRecognizer(str(folder)).eval()
        flash_run = lambda: model.predict(paths, batch_size=args.batch_size)  # noqa: E731
        flash_run(), baseline()  # warm-up
        speeds: dict[str, list[float]] = {"flash": [], "hand loop": []}
        pairs = (("flash", flash_run), ("hand loop", baseline))
        for repeat in range(repeats):
            for name, run in pairs if repeat % 2 == 0 else pairs[::-1]:  # alternate who goes first
                start = time.perf_counter()
                run()
                speeds[name].append(seconds / (time.perf_counter() - start))
        agree = sum(a == b for a, b in zip(flash_run(), baseline())) / len(paths)
        one = paths[:8]  # one clip per batch: no padding, so both sides compute exactly the same thing
        texts = model.predict(one, batch_size=1)
        alone = sum(a == b for a, b in zip(texts, hand_loop(folder, one, 1)())) / len(one)
        spoken = sum(bool(t) for t in texts) / len(one)
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    print(
        f"{len(paths)} clips, {seconds:.1f} s of audio, batch_size={args.batch_size}, {repeats} alternating repeats, "
        f"{torch.get_num_threads()} threads"
    )
    for name, value in medians.items():
        print(f"  {name:10s} {value:8.1f} s of audio / s   (runs: {', '.join(f'{v:.1f}' for v in speeds[name])})")
    paired = statistics.median(f / h for f, h in zip(speeds["flash"], speeds["hand loop"]))
    print(
        f"  ratio flash / hand loop = {medians['flash'] / medians['hand loop']:.3f} of medians, {paired:.3f} median of "
        f"paired runs (target >= 0.9); identical transcripts: {agree:.0%}"
    )
    print(f"  identical transcripts one clip at a time: {alone:.0%}, {spoken:.0%} of them not empty")
    return {"clips": len(paths), "audio_s": seconds, "batch_size": args.batch_size, "repeats": repeats,
            "flash_audio_s_per_s": speeds["flash"], "hand_audio_s_per_s": speeds["hand loop"],
            "ratio_of_medians": medians["flash"] / medians["hand loop"], "paired_ratio": paired,
            "identical_batched": agree, "identical_one_at_a_time": alone, "not_empty_one_at_a_time": spoken}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model, 16 clips, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    result = run(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
