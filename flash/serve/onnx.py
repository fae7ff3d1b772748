"""Run an exported ``.onnx`` model with onnxruntime: preprocessing from its metadata, the same answers as the task.

Preprocessing reuses flash's own transforms (rebuilt from the stored settings) and the stored tokenizer /
feature-extractor files, so ``flash predict --checkpoint model.onnx`` answers as the checkpoint does; the
network runs in onnxruntime, with no autograd.

Example:
    >>> predictor = OnnxPredictor("model.onnx")  # doctest: +SKIP
    >>> predictor.predict([predictor.load("cat.png")])  # doctest: +SKIP
    ['cat']
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from flash.errors import ConfigurationError, require
from flash.serve.inputs import RequestError
from flash.serve.predictors import INPUT_KIND

RUNNERS: dict[str, type] = {}


def _runner(task: str):
    def register(cls: type) -> type:
        RUNNERS[task] = cls
        return cls

    return register


class OnnxPredictor:
    """An exported model on onnxruntime, with the predictor interface the server uses.

    Args:
        path: an ``.onnx`` file written by ``flash export`` (or :func:`flash.serve.export`).
        device: ``"cpu"``; ``"cuda"`` adds onnxruntime's CUDA provider when it is available.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu") -> None:
        ort = require("onnxruntime", "serve", purpose="running ONNX models")
        from flash.serve.export import read_metadata

        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        self.task = self.metadata.get("task")
        if self.task not in RUNNERS:
            raise ConfigurationError(f"'{path}' was exported from an unknown task. Received: task={self.task!r}")
        self.session = ort.InferenceSession(str(self.path), providers=providers)
        self.input_kind = INPUT_KIND[self.task]
        self.labels = self.metadata.get("labels")
        self.sampling_rate = self.metadata.get("sampling_rate")
        size = self.metadata.get("transform", {}).get("image_size") if self.task == "image_classification" else None
        self.image_min_size = tuple(size) if size else None  # JPEGs decoded as in training
        self.runner = RUNNERS[self.task](self.session, self.metadata)
        self.forward_calls = 0

    def load(self, item: str | os.PathLike) -> Any:
        """A file path (or, for text models, the text itself) -> what :meth:`predict` takes."""
        if self.input_kind == "text":
            return str(item)
        if self.input_kind == "audio":
            from flash.audio.speech_recognition.io import read_audio

            return read_audio(item, sampling_rate=self.sampling_rate)  # type: ignore[arg-type]  # set for audio
        from flash.image.io import load_image

        return load_image(item, min_size=self.image_min_size)

    def predict(self, inputs: list, *, output: str | None = None) -> list:
        """One answer per input (RGB PIL images, strings or waveforms), as the task's ``predict`` gives it."""
        if output not in (None, "preds" if self.task == "object_detection" else "labels"):
            raise RequestError(f"Exported models give the task's default answers only. Received: output={output!r}",
                               status=422)
        self.forward_calls += 1
        return self.runner(list(inputs))

    def describe(self) -> dict[str, Any]:
        return {"task": self.task, "input": self.input_kind, "labels": self.labels, "runtime": "onnxruntime",
                "sampling_rate": self.sampling_rate, "forward_calls": self.forward_calls}


def _classes(logits: np.ndarray, metadata: dict) -> list:
    import torch

    from flash.core.outputs import classification_output

    return classification_output(torch.from_numpy(logits), "labels", multi_label=metadata.get("multi_label", False),
                                 labels=metadata.get("labels"))


def _from_files(metadata: dict, load: Any) -> Any:
    """Write the stored tokenizer / feature-extractor files to a temporary folder, load them, remove the folder."""
    with tempfile.TemporaryDirectory() as folder:
        for name, data in metadata["files"].items():
            path = (Path(folder) / name).resolve()
            if Path(folder).resolve() not in path.parents:
                raise ConfigurationError(f"Refusing to write stored file {name!r} outside its folder.")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))
        return load(folder)


@_runner("image_classification")
class ImageClassificationRunner:
    def __init__(self, session: Any, metadata: dict) -> None:
        from flash.image.classification.transforms import ImageClassificationInputTransform

        self.session, self.metadata = session, metadata
        self.transform = ImageClassificationInputTransform(**metadata["transform"]).pipeline(train=False)

    def __call__(self, images: list) -> list:
        batch = np.stack([self.transform(image).numpy() for image in images])  # (B, 3, H, W)
        return _classes(self.session.run(None, {"input": batch})[0], self.metadata)


@_runner("text_classification")
class TextClassificationRunner:
    def __init__(self, session: Any, metadata: dict) -> None:
        transformers = require("transformers", "text", purpose="tokenizing text")
        self.session, self.metadata = session, metadata
        self.tokenizer = _from_files(metadata, transformers.AutoTokenizer.from_pretrained)

    def __call__(self, texts: list[str]) -> list:
        encoded = self.tokenizer(texts, padding="longest", truncation=True, max_length=self.metadata["max_length"],
                                 return_tensors="np")
        feed = {name: encoded[name].astype(np.int64) for name in self.metadata["input_names"]}
        return _classes(self.session.run(None, feed)[0], self.metadata)


@_runner("object_detection")
class ObjectDetectionRunner:
    def __init__(self, session: Any, metadata: dict) -> None:
        from flash.image.detection.transforms import DetectionSampleTransform

        self.session, self.metadata = session, metadata
        self.transform = DetectionSampleTransform(metadata["image_size"], train=False)

    def __call__(self, images: list) -> list:
        return [self._detect(image) for image in images]  # the graph takes one image (sizes differ)

    def _detect(self, image: Any) -> dict:
        sample = self.transform({"input": image})
        tensor = sample["input"].numpy()  # (3, h, w) in [0, 1], longer side image_size
        boxes, labels, scores = self.session.run(None, {"image": tensor})
        (height, width), (h, w) = sample["metadata"]["size"], tensor.shape[-2:]
        boxes = boxes * np.array([width / w, height / h, width / w, height / h], dtype=boxes.dtype)
        keep = scores >= self.metadata["threshold"]
        names = self.metadata.get("labels")
        ids = (labels[keep] + self.metadata["offset"]).tolist()
        return {"boxes": boxes[keep].tolist(), "labels": [names[i] if names else i for i in ids],
                "scores": scores[keep].tolist()}


@_runner("speech_recognition")
class SpeechRecognitionRunner:
    def __init__(self, session: Any, metadata: dict) -> None:
        transformers = require("transformers", "audio", purpose="speech features")
        self.session, self.metadata = session, metadata
        self.extractor = _from_files(metadata, transformers.AutoFeatureExtractor.from_pretrained)
        self.tokenizer = _from_files(metadata, transformers.AutoTokenizer.from_pretrained)

    def __call__(self, waveforms: list) -> list[str]:
        from flash.errors import DataError

        rate, limit = self.metadata["sampling_rate"], self.metadata["max_duration"]
        clips = [np.asarray(w, dtype=np.float32) for w in waveforms]
        for clip in clips:
            if len(clip) / rate > limit + 1e-6:
                raise DataError(f"Audio is {len(clip) / rate:.1f} s long, but this model takes at most {limit:g} s. "
                                "Split the recording into shorter clips.")
        kwargs = {"return_attention_mask": True} if "attention_mask" in self.metadata["input_names"] else {}
        features = self.extractor(clips, sampling_rate=rate, return_tensors="np", padding=True, **kwargs)
        feed = {name: features[name].astype(np.int64 if name == "attention_mask" else np.float32)
                for name in self.metadata["input_names"]}
        logits, frames = self.session.run(None, feed)
        ids = logits.argmax(-1)  # (B, F, V) -> (B, F); frames made from padding are blanks
        ids[np.arange(ids.shape[1])[None, :] >= frames[:, None]] = self.tokenizer.pad_token_id
        return [" ".join(t.split()) for t in self.tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)]
