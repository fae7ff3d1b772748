"""``ImageClassifier``: a backbone (timm, torchvision, or a local folder) plus a head, single- or multi-label.

Example:
    >>> import flash
    >>> from flash.image import ImageClassificationData, ImageClassifier
    >>> datamodule = ImageClassificationData.from_folders(train_folder="data/train", batch_size=4)  # doctest: +SKIP
    >>> model = ImageClassifier(backbone="resnet18", labels=datamodule.labels)  # doctest: +SKIP
    >>> flash.Trainer(max_epochs=3).finetune(model, datamodule=datamodule, strategy="freeze")  # doctest: +SKIP
    >>> model.predict("data/predict/ant.jpg")  # doctest: +SKIP
    'ants'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch

from flash.core.classification import ClassificationMixin, default_loss, resolve_num_classes
from flash.core.data import INPUT
from flash.core.metrics import Accuracy, F1Score
from flash.core.task import Task
from flash.errors import ConfigurationError
from flash.image.classification.backbones import IMAGE_CLASSIFIER_BACKBONES
from flash.image.classification.transforms import ImageClassificationInputTransform
from flash.image.io import IMAGE_EXTENSIONS, as_rgb_image, is_image_file
from flash.image.memory_format import as_layout, prefers_channels_last, to_channels_last

HeadSpec = Any  # None | "linear" | nn.Module | (num_features, num_classes) -> nn.Module


def build_head(head: HeadSpec, num_features: int, num_classes: int) -> torch.nn.Module:
    """A linear layer by default; an ``nn.Module`` as given; a factory called with the two sizes."""
    if head is None or head == "linear":
        return torch.nn.Linear(num_features, num_classes)
    if isinstance(head, torch.nn.Module):
        return head
    if callable(head):
        module = head(num_features, num_classes)
        if not isinstance(module, torch.nn.Module):
            raise ConfigurationError(f"The head factory must return an nn.Module. Received: {type(module).__name__}")
        return module
    raise ConfigurationError("head must be None, 'linear', an nn.Module, or a callable (num_features, num_classes) -> "
                             f"nn.Module. Received: head={head!r}")


class ImageClassifier(ClassificationMixin, Task):
    """Classify images with a pretrained backbone and a (linear) head.

    Args:
        num_classes: number of classes (default: ``len(labels)``).
        backbone: ``"resnet18"`` / ``"timm:<name>"`` / ``"torchvision:<name>"`` / a local folder; see
            :meth:`available_backbones`.
        labels: class names, used by ``output="labels"``.
        backbone_kwargs: extra arguments for the backbone factory (e.g. ``{"drop_rate": 0.1}``).
        head: None (linear), an ``nn.Module``, or ``(num_features, num_classes) -> nn.Module``.
        pretrained: True (the provider's weights, downloaded or cached), False, or a weights file path.
        loss_fn / metrics / optimizer / lr_scheduler / learning_rate: see :class:`~flash.core.task.Task`.
        multi_label: one sigmoid per class (binary cross-entropy) instead of a softmax.
        channels_last: run the backbone on channels-last tensors; None: where it is faster (MobileNet/EfficientNet
            families, see :mod:`flash.image.memory_format`).
    """

    backbones = IMAGE_CLASSIFIER_BACKBONES
    input_transform: ImageClassificationInputTransform
    input_transform_cls = ImageClassificationInputTransform

    def __init__(
        self,
        num_classes: int | None = None,
        *,
        backbone: str = "resnet18",
        labels: Sequence[str] | None = None,
        backbone_kwargs: dict | None = None,
        head: HeadSpec = None,
        pretrained: bool | str = True,
        loss_fn: Callable | None = None,
        optimizer: Any = "Adam",
        lr_scheduler: Any = None,
        metrics: Any = None,
        learning_rate: float | None = None,
        multi_label: bool = False,
        channels_last: bool | None = None,
    ) -> None:
        num_classes = resolve_num_classes(num_classes, labels, owner="ImageClassifier")
        if loss_fn is None:
            loss_fn = default_loss(multi_label)
        if metrics is None:  # built on first use
            metrics = partial(self._default_metrics, num_classes, multi_label)
        super().__init__(loss_fn=loss_fn, metrics=metrics,
                         learning_rate=learning_rate, optimizer=optimizer, lr_scheduler=lr_scheduler)
        self.save_hyperparameters(ignore=("loss_fn", "metrics"))  # a head module/factory is not stored: pass it again
        self.num_classes, self.multi_label = num_classes, multi_label
        self.labels = list(labels) if labels is not None else None
        built = self._build_backbone(backbone, pretrained=pretrained, backbone_kwargs=backbone_kwargs or {})
        self.backbone = built.module
        self.num_features = built.num_features
        self.data_config = dict(built.data_config)
        self.head = build_head(head, self.num_features, num_classes)
        self.channels_last = prefers_channels_last(self.backbone) if channels_last is None else bool(channels_last)
        if self.channels_last:
            to_channels_last(self.backbone)
        self.input_transform = ImageClassificationInputTransform(**self.data_config)

    @classmethod
    def _build_backbone(cls, backbone: Any, *, pretrained: Any, backbone_kwargs: dict) -> Any:
        if not isinstance(backbone, (str, os.PathLike)):
            raise ConfigurationError(
                f"backbone must be a name or a folder path; see ImageClassifier.available_backbones(). "
                f"Received: backbone={backbone!r}"
            )
        try:
            factory = cls.backbones.get(os.fspath(backbone))
        except ConfigurationError as err:
            message = str(err).replace("See available_keys()", f"See {cls.__name__}.available_backbones()")
            raise ConfigurationError(
                message.replace(f"{backbone!r}.", f"{backbone!r} for {cls.__name__}.", 1)
            ) from None
        return factory(pretrained=pretrained, **backbone_kwargs)

    @staticmethod
    def _default_metrics(num_classes: int, multi_label: bool) -> list:
        if multi_label:
            return [Accuracy("multilabel", num_labels=num_classes), F1Score("multilabel", num_labels=num_classes)]
        if num_classes < 2:
            return []
        return [Accuracy("multiclass", num_classes=num_classes)]

    @classmethod
    def available_backbones(cls, pattern: str | None = None) -> list[str]:
        """Backbone names, filtered by a wildcard: ``available_backbones("*resnet1*")``."""
        return cls.backbones.available_keys(pattern)

    @classmethod
    def available_heads(cls) -> list[str]:
        """Named heads; an ``nn.Module`` or a ``(num_features, num_classes) -> nn.Module`` callable works too."""
        return ["linear"]

    @classmethod
    def available_pretrained_weights(cls, backbone: str) -> list[str]:
        """Weight tags of ``backbone`` (timm: ``backbone="resnet18.a1_in1k"``; torchvision: ``"...:name.tag"``)."""
        from flash.image.classification.backbones import pretrained_weights

        return pretrained_weights(backbone)

    # ------------------------------------------------------------------ forward & steps
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's output, ``(B, 3, H, W) -> (B, num_features)``."""
        features = self.backbone(as_layout(x, self.channels_last))
        features = getattr(features, "logits", features)
        return torch.flatten(features, 1) if features.ndim > 2 else features

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, num_features) -> (B, num_classes)``."""
        return self.head(features)

    # ------------------------------------------------------------------ transforms follow the backbone
    def setup(self, stage: str) -> None:
        """Fill the datamodule's unset transform settings (image size, mean, std) from this model's."""
        datamodule = getattr(self.trainer, "datamodule", None) if self.trainer is not None else None
        transform = getattr(datamodule, "transform", None)
        if isinstance(transform, ImageClassificationInputTransform) and transform is not self.input_transform:
            transform.fill_defaults(**self.input_transform.kwargs)

    def example_input(self) -> torch.Tensor:
        """One random image at the evaluation size, ``(1, 3, H, W)``: what ``flash export`` traces with."""
        height, width = self.input_transform.settings()["image_size"]
        return torch.randn(1, 3, height, width)

    # ------------------------------------------------------------------ predict on raw inputs
    def samples_from(self, inputs: Any) -> tuple[bool, list[dict]]:
        """A path, folder, PIL image, array or tensor (or a list of them / a batch) -> image samples."""
        load = partial(as_rgb_image, min_size=self.input_transform.decode_size())  # decoded as in training
        if isinstance(inputs, (str, os.PathLike)) and Path(inputs).is_dir():
            files = sorted(str(p) for p in Path(inputs).rglob("*") if p.is_file() and is_image_file(p))
            if not files:
                raise ConfigurationError(f"Folder '{inputs}' has no images ({', '.join(IMAGE_EXTENSIONS)}).")
            return False, [{INPUT: load(f)} for f in files]
        if isinstance(inputs, (list, tuple)):
            return False, [{INPUT: load(item)} for item in inputs]
        if hasattr(inputs, "ndim") and (inputs.ndim == 4 or _is_grey_batch(inputs)):  # (N, C, H, W), (N, H, W[, C])
            return False, [{INPUT: load(item)} for item in inputs]
        return True, [{INPUT: load(inputs)}]


def _is_grey_batch(array: Any) -> bool:
    """(N, H, W) with neither end a channel axis (1, 3 or 4), e.g. 50 greyscale 8x8 digits."""
    return array.ndim == 3 and array.shape[0] not in (1, 3, 4) and array.shape[-1] not in (1, 3, 4)
