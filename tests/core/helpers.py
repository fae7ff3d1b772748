"""A tiny task and input used by the core tests (2-D points, two classes)."""

from __future__ import annotations

import torch

from flash.core.data import Input
from flash.core.outputs import classification_output
from flash.core.task import Task


class PointsInput(Input):
    def load_data(self, points, targets=None):
        return [{"input": torch.tensor(p, dtype=torch.float32), "target": None if targets is None else targets[i],
                 "metadata": {"row": i}} for i, p in enumerate(points)]


class PointsClassifier(Task):
    def __init__(self, num_classes: int = 2, *, labels=None, learning_rate: float = 0.05, optimizer="sgd",
                 lr_scheduler=None, multi_label: bool = False, metrics=None):
        if metrics is None:  # a user's torchmetrics metric, by default (imported here: it takes seconds)
            import torchmetrics

            metrics = torchmetrics.Accuracy(task="multiclass", num_classes=num_classes)
        super().__init__(loss_fn=torch.nn.functional.cross_entropy, learning_rate=learning_rate, optimizer=optimizer,
                         lr_scheduler=lr_scheduler, metrics=metrics)
        self.save_hyperparameters()
        self.labels = labels
        self.backbone = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                            torch.nn.Linear(8, 8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))

    def metric_inputs(self, outputs, target):
        return outputs.softmax(-1), target

    def format_predictions(self, outputs, output):
        return classification_output(outputs, output, multi_label=False, labels=self.labels)

    def samples_from(self, inputs):
        single = not isinstance(inputs[0], (list, tuple))
        rows = [inputs] if single else inputs
        return single, [{"input": torch.tensor(r, dtype=torch.float32)} for r in rows]


def points(n: int = 80, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, 2, generator=g)
    names = ["pos" if a + b > 0 else "neg" for a, b in xs.tolist()]
    return xs.tolist(), names
