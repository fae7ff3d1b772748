"""The Hugging Face side of ``speech_hf_trainer.py``: what the transformers fine-tuning guides teach, written out.

``fit_whisper`` follows the "Fine-Tune Whisper For Multilingual ASR with Transformers" guide (its
``DataCollatorSpeechSeq2SeqWithPadding``, ``Seq2SeqTrainer``, ``predict_with_generate``, a WER ``compute_metrics``);
``fit_ctc`` follows "Fine-Tune Wav2Vec2 for English ASR" (``DataCollatorCTCWithPadding``, ``Trainer``, length-grouped
batches). Audio is read with soundfile in ``Dataset.map`` (decoding a ``datasets.Audio`` column needs torchcodec and
FFmpeg, which a fresh machine lacks). The WER in ``compute_metrics`` is ``_speech.error_rate`` (the guides load
``evaluate.load("wer")``, which downloads its script).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from _speech import error_rate, read_rows


def datasets_of(config: dict, prepare: Any) -> tuple[Any, Any]:
    """The train and val CSVs as ``datasets.Dataset`` objects, mapped by ``prepare`` (one row at a time)."""
    from datasets import Dataset

    out = []
    for stage in ("train", "val"):
        files, texts = read_rows(config[stage])
        data = Dataset.from_dict({"file": files, "text": texts})
        out.append(data.map(prepare, remove_columns=["file", "text"]))
    return out[0], out[1]


def read(path: str) -> Any:
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


@dataclass
class DataCollatorSpeechSeq2SeqWithPadding:
    """The Whisper guide's collator: pad features and labels separately, -100 for label padding, drop a leading
    decoder-start token (the model prepends it)."""

    feature_extractor: Any
    tokenizer: Any
    decoder_start_token_id: int

    def __call__(self, features: list[dict]) -> dict:
        input_features = [{"input_features": f["input_features"]} for f in features]
        batch = self.feature_extractor.pad(input_features, return_tensors="pt")
        label_features = [{"input_ids": f["labels"]} for f in features]
        labels_batch = self.tokenizer.pad(label_features, return_tensors="pt")
        labels = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
        if (labels[:, 0] == self.decoder_start_token_id).all().cpu().item():
            labels = labels[:, 1:]
        batch["labels"] = labels
        return batch


@dataclass
class DataCollatorCTCWithPadding:
    """The wav2vec2 guide's collator: pad input values and labels separately, -100 for label padding."""

    processor: Any

    def __call__(self, features: list[dict]) -> dict:
        input_features = [{"input_values": f["input_values"]} for f in features]
        label_features = [{"input_ids": f["labels"]} for f in features]
        batch = self.processor.pad(input_features, padding=True, return_tensors="pt")
        labels_batch = self.processor.pad(labels=label_features, padding=True, return_tensors="pt")
        batch["labels"] = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
        return batch


def training_arguments(cls: Any, config: dict, **kwargs: Any) -> Any:
    return cls(output_dir=config["root"] + "/hf", per_device_train_batch_size=config["batch_size"],
               per_device_eval_batch_size=config["batch_size"], learning_rate=config["lr"],
               num_train_epochs=config["epochs"], eval_strategy="epoch", save_strategy="no", report_to="none",
               **kwargs)


def fit_whisper(config: dict) -> tuple[Any, Any, Any]:
    """Fine-tune the Whisper in ``config["backbone"]``; the trainer, tokenizer and feature extractor."""
    from transformers import (
        AutoFeatureExtractor,
        AutoModelForSpeechSeq2Seq,
        AutoTokenizer,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
    )

    extractor = AutoFeatureExtractor.from_pretrained(config["backbone"])
    tokenizer = AutoTokenizer.from_pretrained(config["backbone"])

    def prepare(row: dict) -> dict:
        row["input_features"] = extractor(read(row["file"]), sampling_rate=16000).input_features[0]
        row["labels"] = tokenizer(row["text"]).input_ids
        return row

    train, val = datasets_of(config, prepare)
    model = AutoModelForSpeechSeq2Seq.from_pretrained(config["backbone"])

    def compute_metrics(pred: Any) -> dict:
        label_ids = pred.label_ids
        label_ids[label_ids == -100] = tokenizer.pad_token_id
        predicted = tokenizer.batch_decode(pred.predictions, skip_special_tokens=True)
        return {"wer": error_rate(predicted, tokenizer.batch_decode(label_ids, skip_special_tokens=True))}

    arguments = training_arguments(Seq2SeqTrainingArguments, config, predict_with_generate=True,
                                   generation_max_length=model.generation_config.max_length)
    collator = DataCollatorSpeechSeq2SeqWithPadding(extractor, tokenizer, model.config.decoder_start_token_id)
    trainer = Seq2SeqTrainer(model=model, args=arguments, train_dataset=train, eval_dataset=val,
                             data_collator=collator, compute_metrics=compute_metrics, processing_class=extractor)
    trainer.train()
    return trainer, tokenizer, extractor


def fit_ctc(config: dict) -> tuple[Any, Any, Any]:
    """Fine-tune the wav2vec2 CTC model in ``config["backbone"]``; the trainer, tokenizer and feature extractor."""
    import numpy as np
    from transformers import (
        AutoFeatureExtractor,
        AutoModelForCTC,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
        Wav2Vec2Processor,
    )

    processor = Wav2Vec2Processor(feature_extractor=AutoFeatureExtractor.from_pretrained(config["backbone"]),
                                  tokenizer=AutoTokenizer.from_pretrained(config["backbone"]))

    def prepare(row: dict) -> dict:
        row["input_values"] = processor(read(row["file"]), sampling_rate=16000).input_values[0]
        row["input_length"] = len(row["input_values"])
        row["labels"] = processor(text=row["text"]).input_ids
        return row

    train, val = datasets_of(config, prepare)
    model = AutoModelForCTC.from_pretrained(config["backbone"], ctc_loss_reduction="mean",
                                            pad_token_id=processor.tokenizer.pad_token_id)

    def compute_metrics(pred: Any) -> dict:
        pred_ids = np.argmax(pred.predictions, axis=-1)
        pred.label_ids[pred.label_ids == -100] = processor.tokenizer.pad_token_id
        predicted = processor.batch_decode(pred_ids)
        return {"wer": error_rate(predicted, processor.batch_decode(pred.label_ids, group_tokens=False))}

    arguments = training_arguments(TrainingArguments, config, train_sampling_strategy="group_by_length",
                                   length_column_name="input_length")
    trainer = Trainer(model=model, args=arguments, train_dataset=train, eval_dataset=val,
                      data_collator=DataCollatorCTCWithPadding(processor), compute_metrics=compute_metrics,
                      processing_class=processor.feature_extractor)
    trainer.train()
    return trainer, processor.tokenizer, processor.feature_extractor
