"""Image tasks: classification, object detection, semantic segmentation (``pip install "flash-finetune[image]"``).

Names resolve lazily so that importing one task does not load the other's dependencies.
"""

from __future__ import annotations

from flash.lazy import lazy_getattr

_LAZY = {
    "ImageClassifier": "flash.image.classification.model",
    "ImageClassificationData": "flash.image.classification.data",
    "ImageClassificationInputTransform": "flash.image.classification.transforms",
    "ObjectDetector": "flash.image.detection.model",
    "ObjectDetectionData": "flash.image.detection.data",
    "SemanticSegmentation": "flash.image.segmentation.model",
    "SemanticSegmentationData": "flash.image.segmentation.data",
    "SemanticSegmentationInputTransform": "flash.image.segmentation.transforms",
}
__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
