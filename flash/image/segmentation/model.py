"""``SemanticSegmentation``: a class for every pixel, with segmentation-models-pytorch or torchvision networks.

Metrics per epoch: ``{stage}_mIoU`` (mean IoU over the classes present), ``{stage}_iou_<class>``,
``{stage}_pixel_accuracy`` and ``{stage}_dice``; pixels equal to ``ignore_index`` count in neither the loss
nor the metrics. ``trainer.finetune(strategy="freeze")`` freezes the encoder (``model.backbone``).

Example:
    >>> import flash
    >>> from flash.image import SemanticSegmentation, SemanticSegmentationData
    >>> datamodule = SemanticSegmentationData.from_folders(train_folder="images", train_target_folder="masks",
    ...                                                   num_classes=3, val_split=0.2)  # doctest: +SKIP
    >>> model = SemanticSegmentation(backbone="resnet18", head="unet", num_classes=3)  # doctest: +SKIP
    >>> flash.Trainer(max_epochs=3).finetune(model, datamodule=datamodule, strategy="freeze")  # doctest: +SKIP
    >>> model.predict("street.png")  # a class per pixel, at the image's size  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from flash.core.classification import resolve_num_classes
from flash.core.data import INPUT, METADATA
from flash.core.task import Task
from flash.errors import ConfigurationError
from flash.image.io import IMAGE_EXTENSIONS, as_rgb_image, is_image_file
from flash.image.segmentation.backbones import SEGMENTATION_BACKBONES, SEGMENTATION_HEADS, build_network
from flash.image.segmentation.masks import LabelsMap, check_labels_map
from flash.image.segmentation.metrics import build_loss, segmentation_metrics
from flash.image.segmentation.predict import OUTPUTS, format_masks, resize_logits, sliding_window
from flash.image.segmentation.transforms import SemanticSegmentationInputTransform

PAD_TO = 32  # smp networks need sides divisible by their output stride; inputs are padded to it, logits cropped


class SemanticSegmentation(Task):
    """Classify every pixel of an image.

    Args:
        num_classes: the number of classes (``datamodule.num_classes``); or pass ``labels``.
        backbone: the encoder: any segmentation-models-pytorch encoder (``"resnet34"``, ``"efficientnet-b0"``,
            ``"mit_b0"``), ``"tu-<timm model>"`` or a plain timm name; for ``torchvision:`` heads, their own
            (``"resnet50"``, ``"mobilenet_v3_large"``). See :meth:`available_backbones`.
        head: ``"fpn"``, ``"unet"``, ``"deeplabv3plus"``, ... or ``"torchvision:deeplabv3"`` / ``"torchvision:lraspp"``
            / ``"torchvision:fcn"``; see :meth:`available_heads`.
        labels: class names (``datamodule.labels``), for per-class metrics and reports.
        labels_map: ``{class: (r, g, b)}`` colours for drawings (overlays); a fixed palette otherwise.
        pretrained: True: the encoder's ImageNet weights, from the local caches only; a string names other
            weights (``"ssl"``); False: random weights.
        loss_fn: ``"cross_entropy"`` (default), ``"dice"``, ``"focal"``, or a callable ``(logits, target) -> loss``.
        ignore_index: the mask value of unlabelled pixels (None: every value is a class).
        head_kwargs: passed to the network (e.g. ``{"decoder_channels": (128, 64, 32, 16, 8)}`` for a Unet).
        image_size: the training size, used by prediction before a datamodule gives its own.
        optimizer, lr_scheduler, learning_rate, metrics: as for every task.
    """

    backbones = SEGMENTATION_BACKBONES
    heads = SEGMENTATION_HEADS
    input_transform: SemanticSegmentationInputTransform
    input_transform_cls = SemanticSegmentationInputTransform

    def __init__(self, num_classes: int | None = None, *, backbone: str = "resnet50", head: str = "fpn",
                 labels: Sequence[str] | None = None, labels_map: LabelsMap | None = None,
                 pretrained: bool | str = True, loss_fn: str | Callable | None = None, optimizer: Any = "adam",
                 lr_scheduler: Any = None, learning_rate: float | None = None, metrics: Any = None,
                 ignore_index: int | None = 255, head_kwargs: dict | None = None, backbone_kwargs: dict | None = None,
                 image_size: int | tuple[int, int] = (256, 256)) -> None:
        num_classes = resolve_num_classes(num_classes, labels, owner="SemanticSegmentation")
        ignore = ignore_index
        if metrics is None:  # built on first use
            metrics = {"segmentation": lambda: segmentation_metrics(num_classes, ignore)}
            metrics = _Factory(metrics)
        super().__init__(loss_fn=build_loss(loss_fn, ignore_index=ignore_index), metrics=metrics,
                         learning_rate=learning_rate, optimizer=optimizer, lr_scheduler=lr_scheduler)
        self.save_hyperparameters(ignore=("metrics",))
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.labels = list(labels) if labels is not None else None
        self.labels_map = check_labels_map(labels_map)
        self.head_name = head
        self.model = build_network(head, backbone, num_classes=num_classes, pretrained=pretrained,
                                   **(backbone_kwargs or {}), **(head_kwargs or {}))
        self.pad_to = 1 if head.startswith("torchvision:") else PAD_TO
        self.input_transform = SemanticSegmentationInputTransform(image_size=image_size, ignore_index=ignore_index)

    # ------------------------------------------------------------------ registry
    @classmethod
    def available_backbones(cls, pattern: str | None = None) -> list[str]:
        """Encoder names (``smp:``/``timm:`` prefixed), filtered by a wildcard: ``available_backbones("*resnet*")``."""
        return cls.backbones.available_keys(pattern)

    @classmethod
    def available_heads(cls) -> list[str]:
        return cls.heads.available_keys()

    @classmethod
    def available_outputs(cls) -> list[str]:
        return list(OUTPUTS)

    @property
    def backbone(self) -> torch.nn.Module:
        """The encoder: what ``trainer.finetune(strategy="freeze")`` freezes."""
        encoder: torch.nn.Module = self.model.encoder  # type: ignore[assignment]  # always built
        return encoder

    # ------------------------------------------------------------------ steps
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalized images -> ``(B, num_classes, H, W)`` logits (any H, W: padded inside)."""
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % self.pad_to, (-width) % self.pad_to
        if pad_h or pad_w:
            x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h))
        logits = self.model(x)  # type: ignore[misc]  # always built
        return logits[..., :height, :width] if pad_h or pad_w else logits

    def metric_inputs(self, outputs: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # (B, C, H, W) -> (B, H, W) classes; on the CPU max().indices is ~10x faster than argmax over channels
        return outputs.max(dim=1).indices, target

    def validation_step(self, batch: dict, batch_idx: int) -> dict[str, Any]:
        """Returns ``{"loss", "masks", "targets"}`` (class maps at the training size); the run's report reads them."""
        out = self._shared_step(batch, "val")
        return {"loss": out["loss"], "masks": out["preds"], "targets": out["target"]}

    def _log_metrics(self, stage: str) -> None:
        metrics = {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[stage]
        for name, metric in metrics.items():
            if not getattr(metric, "update_count", 1):
                metric.reset()
                continue
            value = metric.compute()
            if not isinstance(value, dict):  # a user's metric: one number
                self.log(f"{stage}_{name}", value, on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
            else:
                self._log_scores(stage, value)
            metric.reset()

    def _log_scores(self, stage: str, value: dict[str, torch.Tensor]) -> None:
        for key in ("mIoU", "pixel_accuracy", "dice"):
            self.log(f"{stage}_{key}", value[key], on_step=False, on_epoch=True, prog_bar=key == "mIoU", batch_size=1)
        for index, iou in enumerate(value["iou"].tolist()):
            if iou == iou:  # NaN: the class is in neither truth nor prediction
                self.log(f"{stage}_iou_{self._class_name(index)}", iou, on_step=False, on_epoch=True, batch_size=1)

    def _class_name(self, index: int) -> str:
        return str(self.labels[index]) if self.labels and index < len(self.labels) else str(index)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        datamodule = getattr(self.trainer, "datamodule", None)
        classes = getattr(datamodule, "num_classes", None)
        if classes is not None and classes != self.num_classes:
            raise ConfigurationError(f"The data has {classes} classes but the model was built for {self.num_classes}. "
                                     "Build it with SemanticSegmentation(num_classes=datamodule.num_classes, ...).")
        if self.labels is None and getattr(datamodule, "labels", None):
            self.labels = list(datamodule.labels)
            self.hparams["labels"] = self.labels
        if self.labels_map is None and getattr(datamodule, "labels_map", None):
            self.labels_map = dict(datamodule.labels_map)
            self.hparams["labels_map"] = self.labels_map
        self.hparams["image_size"] = list(self.input_transform.image_size)

    # ------------------------------------------------------------------ predictions
    def predict_step(self, batch: dict, batch_idx: int) -> list[torch.Tensor]:
        """Per image, its logits ``(C, H, W)`` at its original size (``metadata["size"]``), on the CPU."""
        logits = self(batch[INPUT])
        metadata = batch.get(METADATA) or [{}] * len(logits)
        return [resize_logits(item[None], meta.get("size", item.shape[-2:]))[0].cpu()
                for item, meta in zip(logits, metadata)]

    def format_predictions(self, outputs: Sequence[torch.Tensor], output: Any) -> list:
        return format_masks(outputs, output)

    def predict(self, inputs: Any, *, output: str = "labels", batch_size: int = 8, sliding_window: bool = False,
                overlap: float = 0.25) -> Any:
        """Segment an image path, folder, PIL image or array (or a list of them); answers at each image's own size.

        ``sliding_window=False`` (default) resizes each image to the training size and maps the logits back;
        ``sliding_window=True`` keeps the image's full resolution and runs the model on overlapping windows of
        the training size (``overlap``: the fraction of a window shared with the next), for images much larger
        than the training size whose details a resize would lose.

        Example:
            >>> mask = model.predict("street.png")  # doctest: +SKIP
            >>> len(mask), len(mask[0])  # the image's height and width  # doctest: +SKIP
            (600, 800)
        """
        if not sliding_window:
            return super().predict(inputs, output=output, batch_size=batch_size)
        single, samples = self.samples_from(inputs)
        transform = self.input_transform.build(train=False, resize=False)
        was_training = self.training
        self.eval()
        results: list = []
        with torch.no_grad():
            for sample in samples:
                image = transform(dict(sample))[INPUT].to(self.device)
                logits = self._windows(image, overlap=overlap, batch_size=batch_size)
                results += self.format_predictions([logits.cpu()], output)
        self.train(was_training)
        return results[0] if single else results

    def _windows(self, image: torch.Tensor, *, overlap: float, batch_size: int) -> torch.Tensor:
        return sliding_window(self, image, window=self.input_transform.image_size, overlap=overlap,
                              batch_size=batch_size)

    def samples_from(self, inputs: Any) -> tuple[bool, list[dict] | Iterator[dict]]:
        """A path, folder, PIL image, array or tensor (or a list of them) -> image samples, files named.

        Many inputs give a generator: each image is decoded when predict takes it, not all before the first.
        """
        if isinstance(inputs, (str, os.PathLike)) and Path(inputs).is_dir():
            files = sorted(str(p) for p in Path(inputs).rglob("*") if p.is_file() and is_image_file(p))
            if not files:
                raise ConfigurationError(f"Folder '{inputs}' has no images ({', '.join(IMAGE_EXTENSIONS)}).")
            return False, (_sample(f) for f in files)
        if isinstance(inputs, (list, tuple)):
            return False, (_sample(item) for item in inputs)
        if hasattr(inputs, "ndim") and inputs.ndim == 4:  # a batch (N, C, H, W) / (N, H, W, C)
            return False, (_sample(item) for item in inputs)
        return True, [_sample(inputs)]

    def example_input(self) -> torch.Tensor:
        """One random normalized image at the training size, ``(1, 3, H, W)``: what ``flash export`` traces."""
        return torch.randn(1, 3, *self.input_transform.image_size)

    @classmethod
    def from_checkpoint_state(cls, checkpoint: dict, hparams: dict) -> SemanticSegmentation:
        hparams = dict(hparams)
        if isinstance(hparams.get("labels_map"), dict):  # JSON-like checkpoints may store keys as strings
            hparams["labels_map"] = {int(k): tuple(v) for k, v in hparams["labels_map"].items()}
        return super().from_checkpoint_state(checkpoint, hparams)


def _sample(item: Any) -> dict:
    meta = {"filepath": str(item)} if isinstance(item, (str, os.PathLike)) else {}
    return {INPUT: as_rgb_image(item), METADATA: meta}


class _Factory:
    """Task metrics built on first use (a callable returning ``{name: Metric}``)."""

    def __init__(self, metrics: dict[str, Callable[[], Any]]) -> None:
        self.metrics = metrics

    def __call__(self) -> dict[str, Any]:
        return {name: make() for name, make in self.metrics.items()}


