"""``TextClassifier``: a Hugging Face encoder (``self.backbone``) + mean pooling + a linear ``self.head``.

A backbone that already has a sequence-classification head for as many labels (e.g. ``"unitary/toxic-bert"``)
keeps that trained head and pooler: ``self.head`` is then the ``AutoModelForSequenceClassification``.

Example:
    >>> import flash
    >>> from flash.text import TextClassifier, TextClassificationData
    >>> datamodule = TextClassificationData.from_csv("review", "sentiment", train_file="train.csv",
    ...                                              val_split=0.2)  # doctest: +SKIP
    >>> model = TextClassifier(datamodule.num_classes, backbone="prajjwal1/bert-tiny",
    ...                        labels=datamodule.labels)  # doctest: +SKIP
    >>> flash.Trainer(max_epochs=3).finetune(model, datamodule=datamodule, strategy="freeze")  # doctest: +SKIP
    >>> model.predict("What a wonderful film!")  # doctest: +SKIP
    'positive'
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch

from flash.core.classification import ClassificationMixin, default_loss, resolve_num_classes
from flash.core.data import INPUT, InputTransform
from flash.core.metrics import Accuracy, F1Score
from flash.core.task import MetricsSpec, Task
from flash.errors import ConfigurationError
from flash.text.classification.backbones import (
    TEXT_CLASSIFIER_BACKBONES,
    backbone_files,
    load_backbone,
    load_sequence_classifier,
    usable_max_length,
    write_backbone_files,
)
from flash.text.classification.transform import TextClassificationInputTransform

CHECKPOINT_KEY = "text_backbone_files"


def default_metrics(num_classes: int, multi_label: bool) -> list:
    """Accuracy (micro) and macro F1: logged as ``{stage}_accuracy`` and ``{stage}_f1score``."""
    if multi_label:
        return [Accuracy("multilabel", num_labels=num_classes, average="micro"),
                F1Score("multilabel", num_labels=num_classes, average="macro")]
    return [Accuracy("multiclass", num_classes=num_classes, average="micro"),
            F1Score("multiclass", num_classes=num_classes, average="macro")]


class TextClassifier(ClassificationMixin, Task):
    """Classify texts with any encoder ``AutoModel`` loads; single- or multi-label.

    Args:
        num_classes: number of classes (or pass ``labels``).
        backbone: a Hugging Face model id, a registered name (see :meth:`available_backbones`), or a local
            folder with ``config.json``, the weights and the tokenizer files.
        labels: class names, used by ``output="labels"``.
        max_length: texts are truncated to this many tokens (capped at what the encoder supports);
            batches are padded to their longest text, not to ``max_length``.
        multi_label: sigmoid + binary cross-entropy per class instead of softmax + cross-entropy.
        pretrained: load the backbone's weights (False: its architecture with random weights).
        optimizer, learning_rate, lr_scheduler, metrics, loss_fn: as for every :class:`~flash.core.task.Task`.
    """

    backbones = TEXT_CLASSIFIER_BACKBONES
    input_transform_cls = TextClassificationInputTransform
    default_learning_rate = 5e-5

    def __init__(self, num_classes: int | None = None, *, backbone: str = "prajjwal1/bert-tiny",
                 labels: Sequence[str] | None = None, max_length: int = 128, multi_label: bool = False,
                 pretrained: bool = True, optimizer: Any = "Adam", learning_rate: float | None = None,
                 lr_scheduler: Any = None, metrics: MetricsSpec = None, loss_fn: Callable | None = None) -> None:
        num_classes = resolve_num_classes(num_classes, labels, owner="TextClassifier", minimum=1 if multi_label else 2)
        labels = list(labels) if labels is not None else None
        if metrics is None:
            metrics = partial(default_metrics, num_classes, multi_label)
        super().__init__(loss_fn=loss_fn or default_loss(multi_label), metrics=metrics,
                         learning_rate=learning_rate, optimizer=optimizer, lr_scheduler=lr_scheduler)
        self.save_hyperparameters(ignore=("metrics", "loss_fn"))
        self.num_classes, self.labels, self.multi_label = num_classes, labels, multi_label
        with_head = load_sequence_classifier(backbone, num_classes=num_classes, pretrained=pretrained)
        if with_head is not None:  # the checkpoint's trained head (and pooler) fit the labels: keep them
            self.head, self.tokenizer = with_head
            self.backbone = self.head.base_model  # shared: what finetuning strategies freeze
            # its head reads more than the pooled features, so the feature cache (which looks for these) does not apply
            self.forward_features = self.forward_head = None  # type: ignore[assignment]
        else:
            self.backbone, self.tokenizer = load_backbone(backbone, pretrained=pretrained)
            hidden = self.backbone.config.hidden_size
            dropout = getattr(self.backbone.config, "hidden_dropout_prob", 0.1)
            self.head = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(hidden, num_classes))
        self.max_length = usable_max_length(max_length, self.backbone, self.tokenizer)
        self.input_transform = self.input_transform  # now that the tokenizer exists, hand it over

    @classmethod
    def available_backbones(cls, pattern: str | None = None) -> list[str]:
        """Registered backbone names; any other Hugging Face id or local folder works too."""
        return cls.backbones.available_keys(pattern)

    # ------------------------------------------------------------------ the tokenizer travels with the transform
    @property
    def input_transform(self) -> InputTransform:
        return self.__dict__["_input_transform"]

    @input_transform.setter
    def input_transform(self, transform: InputTransform) -> None:
        self.__dict__["_input_transform"] = transform
        self._share_tokenizer(transform)

    def _share_tokenizer(self, transform: Any) -> None:
        tokenizer = self.__dict__.get("tokenizer")
        if tokenizer is not None and callable(getattr(transform, "set_tokenizer", None)):
            transform.set_tokenizer(tokenizer, max_length=self.max_length)

    def setup(self, stage: str) -> None:
        """Every trainer run: the datamodule's transform tokenizes with this model's tokenizer."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None:
            return
        self._share_tokenizer(getattr(datamodule, "transform", None))
        self._check_datamodule(datamodule)

    def _check_datamodule(self, datamodule: Any) -> None:
        num_classes, multi_label = getattr(datamodule, "num_classes", None), getattr(datamodule, "multi_label", None)
        if num_classes is not None and num_classes != self.num_classes:
            raise ConfigurationError(
                f"The data has {num_classes} classes but the model was built for {self.num_classes}. "
                "Build it with TextClassifier(num_classes=datamodule.num_classes, labels=datamodule.labels, ...)."
            )
        # A predict-only DataModule has no targets (num_classes None): neither single- nor multi-label.
        if num_classes is not None and multi_label is not None and bool(multi_label) != self.multi_label:
            raise ConfigurationError(f"The data is {'multi' if multi_label else 'single'}-label but the model has "
                                     f"multi_label={self.multi_label}. Pass multi_label=datamodule.multi_label.")
        if self.labels is None and getattr(datamodule, "labels", None):
            self.labels = list(datamodule.labels)
            self.hparams["labels"] = self.labels

    # ------------------------------------------------------------------ forward & steps
    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokenized batch ``{"input_ids": (B, T), "attention_mask": (B, T), ...}`` -> logits ``(B, C)``."""
        if not isinstance(self.head, torch.nn.Sequential):  # a checkpoint's own sequence-classification head
            return self.head(**x).logits
        return self.forward_head(self.forward_features(x))

    # the split the feature cache uses: with finetune(strategy="freeze") a frozen encoder runs once, not every epoch
    def forward_features(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """The encoder's output averaged over the real tokens: ``(B, H)``, what the head reads."""
        hidden = self.backbone(**x).last_hidden_state  # (B, T, H)
        mask = x["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    # ------------------------------------------------------------------ prediction
    def samples_from(self, inputs: Any) -> tuple[bool, list[dict]]:
        if isinstance(inputs, str):
            return True, [{INPUT: inputs}]
        if isinstance(inputs, (list, tuple)) and all(isinstance(text, str) for text in inputs):
            return False, [{INPUT: text} for text in inputs]
        raise ConfigurationError(
            f"TextClassifier.predict() takes a string or a list of strings. Received: {type(inputs).__name__}"
        )

    def predict(self, inputs: Any, *, output: str = "labels", batch_size: int = 8) -> Any:
        """Predict on a string or a list of strings; a list is batched shortest first (each batch pads to its own
        longest text, so sorted batches pad little), and the results come back in the order of ``inputs``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) <= batch_size:
            return super().predict(inputs, output=output, batch_size=batch_size)
        self.samples_from(inputs)  # the clear error for anything but strings
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        results = super().predict([inputs[i] for i in order], output=output, batch_size=batch_size)
        in_order: list[Any] = [None] * len(order)
        for position, index in enumerate(order):
            in_order[index] = results[position]
        return in_order

    # ------------------------------------------------------------------ checkpoints: config + tokenizer inside
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[CHECKPOINT_KEY] = backbone_files(self.backbone, self.tokenizer)

    @classmethod
    def from_checkpoint_state(cls, checkpoint: dict, hparams: dict) -> TextClassifier:
        """Rebuild encoder and tokenizer from the files stored in the checkpoint: no hub, no original folder."""
        files = checkpoint.get(CHECKPOINT_KEY)
        if not files:
            return super().from_checkpoint_state(checkpoint, hparams)
        with tempfile.TemporaryDirectory() as folder:
            write_backbone_files(files, folder)
            model = cls(**{**hparams, "backbone": folder, "pretrained": False})
        model.hparams["backbone"] = hparams.get("backbone", model.hparams["backbone"])
        model.load_state_dict(checkpoint["state_dict"])
        return model
