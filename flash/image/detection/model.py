"""``ObjectDetector``: torchvision's Faster R-CNN, RetinaNet, FCOS and SSDLite as a flash task.

Validation and test log ``val_loss`` / ``test_loss`` and their parts beside the COCO mAP, so
``ModelCheckpoint(monitor="val_loss")`` and ``EarlyStopping`` work as for every task.

Class indices follow ``ObjectDetectionData``: 0 is the background, 1..K the user's labels, and
``num_classes`` counts the background. Faster R-CNN and SSDLite reserve class 0 themselves;
RetinaNet and FCOS get K classes and the task shifts indices by one on the way in and out.

Example:
    >>> model = ObjectDetector(labels=["background", "cat", "dog"], head="fcos", backbone="resnet18_fpn",
    ...                        pretrained=False, image_size=128)
    >>> model.num_classes
    3
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch

from flash.core.classification import resolve_num_classes
from flash.core.data import INPUT, METADATA, TARGET
from flash.core.outputs import output_name
from flash.core.task import Task, temporarily
from flash.errors import ConfigurationError, invalid_choice, require
from flash.image.detection.data import label_map
from flash.image.detection.heads import HEADS, build_detector
from flash.image.detection.one_pass import losses_and_detections
from flash.image.detection.transforms import ObjectDetectionInputTransform
from flash.image.io import image_from_array, is_image_file, load_image

OUTPUTS = ("preds", "labels", "raw")
MAP_KEYS = ("map", "map_50", "map_75", "mar_100")


def mean_average_precision() -> Any:
    """torchmetrics' COCO mAP with whichever COCO backend is installed."""
    import importlib.util

    from torchmetrics.detection import MeanAveragePrecision

    backend: Literal["faster_coco_eval", "pycocotools"] = (
        "faster_coco_eval" if importlib.util.find_spec("faster_coco_eval") else "pycocotools"
    )
    require(backend, "image", purpose="COCO mAP")
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend=backend)
    metric.warn_on_many_detections = False  # detectors keep up to 100+ low-score boxes on purpose
    return metric


def scale_boxes(boxes: torch.Tensor, *, from_size: Sequence[int], to_size: Sequence[int]) -> torch.Tensor:
    """XYXY boxes on a ``from_size`` (h, w) image -> the same boxes on a ``to_size`` (h, w) image."""
    sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return boxes * torch.tensor([sx, sy, sx, sy], dtype=boxes.dtype, device=boxes.device)


class ObjectDetector(Task):
    """Detect objects: boxes, labels and scores per image.

    Args:
        num_classes: classes including the background (``datamodule.num_classes``); or pass ``labels``.
        labels: class names, ``labels[0]`` the background (added when missing): ``datamodule.labels``.
        head: ``"faster_rcnn"``, ``"retinanet"``, ``"fcos"``, ``"ssdlite"`` or ``"efficientdet"`` (backbones
            ``"d0"``..``"d7"``, needs ``pip install "flash-finetune[efficientdet]"``); see :meth:`available_heads`.
        backbone: e.g. ``"resnet18_fpn"``, ``"resnet50_fpn"``, ``"mobilenet_v3_large_fpn"``
            (see :meth:`available_backbones`).
        pretrained: ``True`` loads torchvision's COCO detector where the pair has one, else ImageNet weights
            for the backbone trunk; a string picks the trunk's weights tag (``"IMAGENET1K_V1"``); ``False``: random.
        image_size: the longer image side the model sees (images are resized, predictions mapped back).
        norm: the trunk's normalisation, ``"frozen_bn"`` (default when pretrained) or ``"bn"``.
        threshold: predictions below this score are left out of ``"preds"``/``"labels"`` outputs.
        learning_rate, optimizer, lr_scheduler: as in every task.
        **head_kwargs: passed to the torchvision detector (``detections_per_img``, ``nms_thresh``, ...).
    """

    model: torch.nn.Module  # the torchvision detector; always built

    input_transform_cls = ObjectDetectionInputTransform
    heads = HEADS

    def __init__(self, num_classes: int | None = None, *, labels: Sequence[Any] | None = None,
                 head: Literal["faster_rcnn", "retinanet", "fcos", "ssdlite", "efficientdet"] = "retinanet",
                 backbone: str = "resnet18_fpn", pretrained: bool | str = True, image_size: int = 512,
                 norm: Literal["frozen_bn", "bn"] | None = None, threshold: float = 0.5,
                 learning_rate: float | None = None, optimizer: Any = "adam", lr_scheduler: Any = None,
                 **head_kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, optimizer=optimizer, lr_scheduler=lr_scheduler)
        self.save_hyperparameters()
        if head not in HEADS:
            raise invalid_choice("head", head, self.available_heads())
        self.labels = label_map(labels, []) if labels is not None else None
        self.num_classes = resolve_num_classes(num_classes, self.labels, owner="ObjectDetector", minimum=2,
                                               counts=" (the background counts)")
        self.head_name, self.threshold, self.image_size = head, float(threshold), int(image_size)
        self.offset = 0 if HEADS.metadata(head)["background"] else 1
        norm = norm or ("frozen_bn" if pretrained else "bn")
        self.hparams.update(labels=self.labels, num_classes=self.num_classes, norm=norm)
        self.model = build_detector(head, backbone, num_classes=self.num_classes - self.offset, pretrained=pretrained,
                                    norm=norm, image_size=self.image_size, **head_kwargs)
        self.input_transform = ObjectDetectionInputTransform(image_size=self.image_size)
        self.map_metrics = torch.nn.ModuleDict({"val": mean_average_precision(), "test": mean_average_precision()})

    # ------------------------------------------------------------------ registry
    @classmethod
    def available_heads(cls) -> list[str]:
        return HEADS.available_keys()

    @classmethod
    def available_outputs(cls) -> list[str]:
        return list(OUTPUTS)

    @classmethod
    def available_backbones(cls, head: str | None = None) -> list[str] | dict[str, list[str]]:
        """The backbones ``head`` takes; without a head, ``{head: backbones}`` for all."""
        if head is None:
            return {name: list(HEADS.metadata(name)["backbones"]) for name in HEADS.available_keys()}
        return list(HEADS.metadata(head)["backbones"])

    @property
    def backbone(self) -> torch.nn.Module:
        """The trunk (what ``trainer.finetune(strategy="freeze")`` freezes), without the FPN and the head."""
        backbone: Any = self.model.backbone
        for part in ("body", "features"):  # torchvision's FPN trunk / SSDLite's features; EfficientDet's as is
            if hasattr(backbone, part):
                return getattr(backbone, part)
        return backbone

    # ------------------------------------------------------------------ steps
    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """``[(3, H, W)] -> [{"boxes": (N, 4) XYXY, "labels": (N,), "scores": (N,)}]`` in the inputs' pixels."""
        return self.model(images)

    def _losses(self, batch: dict) -> dict[str, torch.Tensor]:
        """The detector's loss parts (``classification``, ``bbox_regression``, ...) on a batch with targets."""
        return self.model(batch[INPUT], self._own_targets(batch))

    def _own_targets(self, batch: dict) -> list[dict[str, torch.Tensor]]:
        """The batch's targets with the detector's class indices (RetinaNet and FCOS have no background class)."""
        return [{"boxes": t["boxes"], "labels": t["labels"] - self.offset} for t in batch[TARGET]]

    def _log_losses(self, losses: dict[str, torch.Tensor], stage: str, size: int) -> torch.Tensor:
        """Log ``{stage}_loss`` (the sum) and ``{stage}_{part}`` for each part; return the sum."""
        loss: torch.Tensor = sum(losses.values())  # type: ignore[assignment]  # parts are tensors
        train = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=train, on_epoch=True, prog_bar=stage != "test", batch_size=size)
        for name, value in losses.items():
            self.log(f"{stage}_{name}", value, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        # the engine cannot infer a batch size from lists of images
        return self._log_losses(self._losses(batch), "train", len(batch[INPUT]))

    def evaluation_losses(self, batch: dict) -> dict[str, torch.Tensor]:
        """The training losses on a validation/test batch; BatchNorm statistics, dropout and the RNG are left alone.

        torchvision detectors return losses only in training mode, so the detector runs in training
        mode with its BatchNorm and Dropout layers in eval mode, under ``no_grad`` and a forked RNG
        (Faster R-CNN samples proposals at random).
        """
        was_training = self.model.training
        self.model.train()
        for module in self.model.modules():
            if isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout)):
                module.eval()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                return self._losses(batch)
        finally:
            self.model.train(was_training)

    def detect(self, batch: dict) -> list[dict[str, torch.Tensor]]:
        """Eval-mode detections with user class indices, boxes in original-image pixels."""
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            outputs = self.model(batch[INPUT])
        self.model.train(was_training)
        return self._user_detections(outputs, batch)

    def _user_detections(self, outputs: list[dict], batch: dict) -> list[dict[str, torch.Tensor]]:
        """The detector's outputs with user class indices, boxes in original-image pixels."""
        metadata = batch.get(METADATA) or [{}] * len(outputs)
        return [
            {
                "boxes": scale_boxes(
                    out["boxes"], from_size=image.shape[-2:], to_size=meta.get("size", image.shape[-2:])
                ),
                "labels": out["labels"] + self.offset,
                "scores": out["scores"],
            }
            for out, image, meta in zip(outputs, batch[INPUT], metadata)
        ]

    def _evaluate(self, batch: dict, stage: str) -> dict[str, list[dict]]:
        both = losses_and_detections(self.model, batch[INPUT], self._own_targets(batch))  # one pass where it can
        if both is None:
            losses, detections = self.evaluation_losses(batch), self.detect(batch)
        else:
            losses, detections = both[0], self._user_detections(both[1], batch)
        self._log_losses(losses, stage, len(batch[INPUT]))  # val_loss beside val_map
        targets = [
            {
                "boxes": scale_boxes(
                    t["boxes"], from_size=image.shape[-2:], to_size=meta.get("size", image.shape[-2:])
                ),
                "labels": t["labels"],
            }
            for t, image, meta in zip(batch[TARGET], batch[INPUT], batch[METADATA])
        ]
        self.map_metrics[stage].update(detections, targets)
        return {"detections": detections, "targets": targets}

    def validation_step(self, batch: dict, batch_idx: int) -> dict[str, list[dict]]:
        """Returns ``{"detections", "targets"}`` in original-image pixels; the run's report collects them."""
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict[str, torch.Tensor]]:
        return [{k: v.cpu() for k, v in d.items()} for d in self.detect(batch)]

    def _log_map(self, stage: str) -> None:
        metric = self.map_metrics[stage]
        if metric.update_count:
            results = metric.compute()
            for key in MAP_KEYS:
                self.log(
                    f"{stage}_{key}", results[key], on_step=False, on_epoch=True, prog_bar=key == "map", batch_size=1
                )
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        if self.trainer is not None and self.trainer.sanity_checking:
            self.map_metrics["val"].reset()
            return
        self._log_map("val")

    def on_test_epoch_end(self) -> None:
        self._log_map("test")

    def on_fit_start(self) -> None:
        super().on_fit_start()
        labels = getattr(getattr(self.trainer, "datamodule", None), "labels", None)
        if not labels or len(labels) <= 1:
            return
        if len(labels) != self.num_classes:
            raise ConfigurationError(
                f"The data has {len(labels)} classes ({labels}) but the model was built for {self.num_classes}. "
                f"Build it with ObjectDetector(labels=datamodule.labels, ...)."
            )
        if self.labels is None:
            self.labels = list(labels)
            self.hparams["labels"] = self.labels  # kept in the checkpoint

    # ------------------------------------------------------------------ predictions
    def format_predictions(self, outputs: list[dict], output: str) -> list:
        """``"preds"``: ``[{"boxes": [[x1, y1, x2, y2]], "labels": [name], "scores": [s]}]``; ``"labels"``: names;
        ``"raw"``: the detections as tensors (every score)."""
        output = output_name(output)
        if output not in OUTPUTS:
            raise invalid_choice("output", output, OUTPUTS)
        if output == "raw":
            return list(outputs)
        formatted: list = []
        for out in outputs:
            keep = out["scores"] >= self.threshold
            names = [self.labels[i] if self.labels else i for i in out["labels"][keep].tolist()]
            if output == "labels":
                formatted.append(names)
            else:
                formatted.append(
                    {"boxes": out["boxes"][keep].tolist(), "labels": names, "scores": out["scores"][keep].tolist()}
                )
        return formatted

    def predict(
        self, inputs: Any, *, output: str = "preds", threshold: float | None = None, batch_size: int = 8
    ) -> Any:
        """Detect objects in an image path, folder, PIL image, array, or a list of them.

        Example:
            >>> model.predict("street.jpg", threshold=0.3)  # doctest: +SKIP
            {'boxes': [[12.0, 40.5, 88.1, 120.0]], 'labels': ['car'], 'scores': [0.91]}
        """
        with temporarily(self, threshold=None if threshold is None else float(threshold)):
            return super().predict(inputs, output=output, batch_size=batch_size)

    def samples_from(self, inputs: Any) -> tuple[bool, Iterator[dict]]:
        """A path, folder, PIL image or array (or a list of them) -> samples, decoded lazily as predict batches them."""
        single = not isinstance(inputs, (list, tuple)) and not (
            isinstance(inputs, (str, os.PathLike)) and os.path.isdir(inputs)
        )
        return single, _samples([inputs] if not isinstance(inputs, (list, tuple)) else list(inputs))


def _samples(items: list) -> Iterator[dict]:
    """Each item's sample, an image decoded only when it is taken (a folder: its images, sorted by name)."""
    for item in items:
        if isinstance(item, (str, os.PathLike)) and os.path.isdir(item):
            for file in sorted(os.path.join(item, f) for f in os.listdir(item) if is_image_file(f)):
                yield {INPUT: load_image(file), METADATA: {"filepath": file}}
        elif isinstance(item, (str, os.PathLike)):
            yield {INPUT: load_image(item), METADATA: {"filepath": str(item)}}
        else:
            yield {INPUT: item if hasattr(item, "convert") else image_from_array(item), METADATA: {}}
