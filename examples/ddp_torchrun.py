"""Data-parallel training on several processes.

Either let flash start the processes:       python examples/ddp_torchrun.py --devices 2
or start them with torchrun (also multi-node): torchrun --nproc_per_node=2 examples/ddp_torchrun.py
On CPU the processes talk over gloo; on GPUs over NCCL, one GPU each.
"""

import argparse
import os

import torch

import flash
from flash.image import ImageClassificationData, ImageClassifier
from flash.image.classification.demo import load_digits

parser = argparse.ArgumentParser()
parser.add_argument("--devices", type=int, default=int(os.environ.get("LOCAL_WORLD_SIZE", 2)))
args = parser.parse_args()
QUICK = os.environ.get("FLASH_QUICK") == "1"

flash.seed_everything(42)
images, targets = load_digits()
datamodule = ImageClassificationData.from_numpy(
    train_data=images, train_targets=targets, val_split=0.2, batch_size=32,
    labels=[str(d) for d in range(10)], transform_kwargs={"image_size": (16, 16)},
)
model = ImageClassifier(backbone="test_resnet", pretrained=False, labels=datamodule.labels)
trainer = flash.Trainer(
    strategy="ddp",
    devices=args.devices,
    accelerator="cuda" if torch.cuda.is_available() else "cpu",
    max_epochs=1 if QUICK else 5,
    limit_train_batches=4 if QUICK else None,
)
trainer.fit(model, datamodule=datamodule)
if trainer.is_global_zero:
    print(f"world size {trainer.world_size}: val_accuracy={trainer.callback_metrics['val_accuracy']:.3f}")
