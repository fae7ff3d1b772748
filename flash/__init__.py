"""flash: fine-tune a deep-learning model in three lines.

>>> import flash
>>> from flash.image import ImageClassificationData, ImageClassifier  # doctest: +SKIP
>>> datamodule = ImageClassificationData.from_folders(train_folder="data/train", batch_size=4)  # doctest: +SKIP
>>> model = ImageClassifier(backbone="resnet18", labels=datamodule.labels)  # doctest: +SKIP
>>> flash.Trainer(max_epochs=3).finetune(model, datamodule=datamodule, strategy="freeze")  # doctest: +SKIP

The public names are resolved lazily (PEP 562), so ``import flash`` loads neither torch
nor any task library; each name imports its module the first time it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flash._version import __version__
from flash.lazy import lazy_getattr, provide

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # engine
    "Trainer": "flash.engine.trainer",
    "TrainingModule": "flash.engine.module",
    "seed_everything": "flash.fabric.seed",
    # fabric (Lightning Fabric's API, for loops written by hand)
    "Fabric": "flash.fabric.fabric",
    "Callback": "flash.engine.callbacks",
    "ModelCheckpoint": "flash.engine.callbacks",
    "EarlyStopping": "flash.engine.callbacks",
    "LearningRateMonitor": "flash.engine.callbacks",
    "ProgressBar": "flash.engine.progress",
    "CSVLogger": "flash.engine.loggers",
    "TensorBoardLogger": "flash.engine.loggers",
    # core
    "Task": "flash.core.task",
    "DataModule": "flash.core.data",
    "InputTransform": "flash.core.data",
    "Registry": "flash.registry",
    "plot_metrics": "flash.core.plots",
    # tuning
    "Tuner": "flash.tune.tuner",
    # reports (the package is flash.reports: a subpackage named "report" would shadow this function)
    "report": "flash.reports.build",
    # tasks
    "ImageClassifier": "flash.image",
    "ImageClassificationData": "flash.image",
    "ObjectDetector": "flash.image",
    "ObjectDetectionData": "flash.image",
    "TextClassifier": "flash.text",
    "TextClassificationData": "flash.text",
    "SpeechRecognizer": "flash.audio",
    "SpeechRecognition": "flash.audio",
    "SpeechRecognitionData": "flash.audio",
}

__all__ = sorted(_LAZY) + ["__version__"]


# flash.reports registers the Trainer's default "report" callback (flash.engine.defaults) when imported, so the
# names that build Trainers import it first: flash.Trainer(...) writes the report, `import flash` loads nothing.
_IMPORTS_FIRST = {name: ("flash.reports",) for name in ("Trainer", "Tuner", "report")}

__getattr__ = lazy_getattr(__name__, _LAZY, imports_first=_IMPORTS_FIRST)

# what lower layers use from higher ones, wired here at the top (see flash.lazy.provide)
provide("serve", "flash.serve:serve")  # Task.serve


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for editors and type checkers only
    from flash.engine.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from flash.engine.loggers import CSVLogger, TensorBoardLogger
    from flash.engine.module import TrainingModule
    from flash.engine.trainer import Trainer
    from flash.fabric.fabric import Fabric
    from flash.fabric.seed import seed_everything
    from flash.tune.tuner import Tuner
