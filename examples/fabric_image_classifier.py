"""Write your own training loop on flash.fabric: an image classifier on the built-in handwritten digits.

Run: python examples/fabric_image_classifier.py   (FLASH_QUICK=1 for a seconds-long smoke run)
     python examples/fabric_image_classifier.py --devices 2   (two processes on CPU, gloo)
Code written for Lightning Fabric runs the same way: only the import changes.
"""

import argparse
import os

import torch

from flash.fabric import Fabric, seed_everything
from flash.image import ImageClassificationData, ImageClassifier
from flash.image.classification.demo import load_digits

QUICK = os.environ.get("FLASH_QUICK") == "1"
parser = argparse.ArgumentParser()
parser.add_argument("--devices", type=int, default=1)
parser.add_argument("--precision", default="32-true")
args = parser.parse_args()

seed_everything(42)
fabric = Fabric(accelerator="cpu" if QUICK else "auto", devices=args.devices, precision=args.precision)
fabric.launch()

images, targets = load_digits()  # (1797, 8, 8) uint8, (1797,) int
datamodule = ImageClassificationData.from_numpy(
    train_data=images[:1500], train_targets=targets[:1500], val_split=0.2, batch_size=64,
    labels=[str(i) for i in range(10)], transform_kwargs={"image_size": (16, 16)},
)
with fabric.rank_zero_first():
    model = ImageClassifier(backbone="test_resnet" if QUICK else "resnet18", pretrained=False,
                            labels=datamodule.labels)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model, optimizer = fabric.setup(model, optimizer)
train_loader, val_loader = fabric.setup_dataloaders(datamodule.train_dataloader(), datamodule.val_dataloader())

steps = 5 if QUICK else 200
step = 0
model.train()
while step < steps:
    for batch in train_loader:
        logits = model(batch["input"])  # (B, 3, 16, 16) -> (B, 10)
        loss = torch.nn.functional.cross_entropy(logits, batch["target"])
        fabric.backward(loss)
        fabric.clip_gradients(model, optimizer, max_norm=1.0)
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        if step % 50 == 0 or step == steps:
            fabric.print(f"step {step}: loss {loss.item():.3f}")
        if step == steps:
            break

model.eval()
correct = total = torch.zeros((), device=fabric.device)
with torch.no_grad():
    for batch in val_loader:
        predicted = model(batch["input"]).argmax(-1)
        correct = correct + (predicted == batch["target"]).sum()
        total = total + len(predicted)
correct, total = fabric.all_reduce(correct, reduce_op="sum"), fabric.all_reduce(total, reduce_op="sum")
fabric.print(f"validation accuracy {correct.item() / total.item():.3f} on {int(total.item())} images "
             f"(world size {fabric.world_size})")

fabric.save("fabric_checkpoint.ckpt", {"model": model, "optimizer": optimizer, "step": step})
state = {"model": model, "optimizer": optimizer, "step": 0}
fabric.load("fabric_checkpoint.ckpt", state)
fabric.print(f"saved and reloaded at step {state['step']}: fabric_checkpoint.ckpt")
