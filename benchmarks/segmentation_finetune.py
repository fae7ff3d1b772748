"""Semantic segmentation, flash against hand-written PyTorch on the same segmentation-models-pytorch U-Net.

Two measurements, each alternating flash and the hand loop in one process (``--repeats`` times, medians compared):

* a freeze fine-tune epoch: ``trainer.finetune(model, datamodule=dm, strategy="freeze")`` against a plain loop
  (the same files, transforms, batch size, optimizer and frozen encoder in eval mode); both start every repeat
  from the same weights, and the validation mIoU each reaches is reported (target ratio flash/hand <= 1.0);
* prediction: ``trainer.predict(..., output="classes")`` against a loop that decodes, resizes, normalises,
  runs the model, resizes the logits back to each image's size and takes the arg-max (target ratio >= 0.95).

The data is the demo's (shapes on scikit-learn's two real photographs). ``run()`` returns a dict.

    python benchmarks/segmentation_finetune.py            # 64 images of 128 px, 3 repeats
    python benchmarks/segmentation_finetune.py --quick    # 16 images of 64 px, 2 repeats
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


class Pairs(torch.utils.data.Dataset):
    """The hand loop's data: PNG pairs, resized (nearest for masks), flipped when training, normalised."""

    def __init__(self, folder: Path, size: int, *, train: bool) -> None:
        from torchvision.transforms import v2

        self.images = sorted((folder / "images").glob("*.png"))
        self.masks = sorted((folder / "masks").glob("*.png"))
        steps = [v2.ToImage(), v2.Resize([size, size], antialias=True)]
        steps += [v2.RandomHorizontalFlip(0.5)] if train else []
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
        self.transform = v2.Compose(steps)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        import numpy as np
        from PIL import Image
        from torchvision import tv_tensors

        image = Image.open(self.images[index]).convert("RGB")
        mask = tv_tensors.Mask(torch.from_numpy(np.asarray(Image.open(self.masks[index]), dtype=np.int64)))
        out = self.transform({"image": image, "mask": mask})
        return out["image"].as_subclass(torch.Tensor), out["mask"].as_subclass(torch.Tensor)


def hand_freeze_epoch(network: torch.nn.Module, loader, *, learning_rate: float) -> None:
    """One epoch with the encoder frozen (no gradients, BatchNorm in eval mode), Adam on every parameter."""
    for parameter in network.encoder.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    network.train()
    network.encoder.eval()
    for images, masks in loader:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(network(images), masks).backward()
        optimizer.step()


def hand_miou(network: torch.nn.Module, loader, num_classes: int) -> float:
    from flash.image.segmentation.metrics import confusion_matrix, scores

    network.eval()
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for images, masks in loader:
            matrix += confusion_matrix(network(images).argmax(1), masks, num_classes, 255)
    return float(scores(matrix)["mIoU"])


def hand_predict(network: torch.nn.Module, files: list[str], *, size: int, batch_size: int) -> int:
    import torch.nn.functional as F
    from PIL import Image
    from torchvision.transforms import v2

    transform = v2.Compose([v2.ToImage(), v2.Resize([size, size], antialias=True),
                            v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    network.eval()
    count = 0
    with torch.no_grad():
        for start in range(0, len(files), batch_size):
            images = [Image.open(f).convert("RGB") for f in files[start : start + batch_size]]
            logits = network(torch.stack([transform(image) for image in images]))
            for item, image in zip(logits, images):
                F.interpolate(item[None], size=(image.height, image.width), mode="bilinear")[0].argmax(0).numpy()
                count += 1
    return count


def _median_ratio(times: dict[str, list[float]]) -> float:
    return statistics.median(times["flash"]) / statistics.median(times["hand"])


def run(*, images: int = 64, size: int = 128, repeats: int = 3, batch_size: int = 8, backbone: str = "resnet18",
        head: str = "unet", learning_rate: float = 1e-3) -> dict[str, Any]:
    import flash
    from flash.image import SemanticSegmentation, SemanticSegmentationData
    from flash.image.segmentation.demo import write_scenes

    root = Path(tempfile.mkdtemp(prefix="segmentation_bench_"))
    train = write_scenes(root / "train", num_images=images, seed=0, size=(size, size))
    val = write_scenes(root / "val", num_images=max(8, images // 4), seed=1, size=(size, size))
    new = write_scenes(root / "new", num_images=images, seed=2, size=(size + size // 4, size + size // 2), masks=False)
    files = sorted(str(p) for p in (new / "images").glob("*.png"))
    datamodule = SemanticSegmentationData.from_folders(
        train_folder=train / "images", train_target_folder=train / "masks", val_folder=val / "images",
        val_target_folder=val / "masks", num_classes=3, batch_size=batch_size, num_workers=0,
        transform_kwargs={"image_size": size})
    torch.manual_seed(0)
    model = SemanticSegmentation(3, backbone=backbone, head=head, pretrained=False, image_size=size,
                                 learning_rate=learning_rate)
    start_weights = {k: v.clone() for k, v in model.state_dict().items()}
    hand_network = SemanticSegmentation(3, backbone=backbone, head=head, pretrained=False).model
    train_loader = torch.utils.data.DataLoader(Pairs(train, size, train=True), batch_size=batch_size, shuffle=True)
    val_loader = torch.utils.data.DataLoader(Pairs(val, size, train=False), batch_size=batch_size)

    def flash_epoch() -> None:
        model.load_state_dict(start_weights)
        trainer = flash.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                limit_val_batches=0, num_sanity_val_steps=0, report=False, default_root_dir=str(root))
        trainer.finetune(model, datamodule=datamodule, strategy="freeze")

    def hand_epoch() -> None:
        hand_network.load_state_dict({k[len("model."):]: v for k, v in start_weights.items()})
        hand_freeze_epoch(hand_network, train_loader, learning_rate=learning_rate)

    epochs = {"flash": [], "hand": []}
    for _ in range(repeats):
        for name, step in (("flash", flash_epoch), ("hand", hand_epoch)):
            began = time.perf_counter()
            step()
            epochs[name].append(time.perf_counter() - began)
    validator = flash.Trainer(logger=False, enable_progress_bar=False, report=False, default_root_dir=str(root))
    flash_miou = float(validator.validate(model, datamodule=datamodule)[0]["val_mIoU"])
    miou = {"flash": flash_miou, "hand": hand_miou(hand_network, val_loader, 3)}

    predict_data = SemanticSegmentationData.from_files(predict_files=files, batch_size=batch_size, num_workers=0,
                                                       transform_kwargs={"image_size": size})
    predictor = flash.Trainer(logger=False, enable_progress_bar=False, report=False, default_root_dir=str(root))
    runs = {"flash": lambda: sum(len(b) for b in predictor.predict(model, datamodule=predict_data, output="classes")),
            "hand": lambda: hand_predict(model.model, files, size=size, batch_size=batch_size)}
    for go in runs.values():  # warm-up
        go()
    predicting = {"flash": [], "hand": []}
    for _ in range(repeats):
        for name, go in runs.items():
            began = time.perf_counter()
            count = go()
            predicting[name].append(time.perf_counter() - began)
    rates = {name: count / statistics.median(times) for name, times in predicting.items()}
    return {"images": images, "size": size, "repeats": repeats, "threads": torch.get_num_threads(),
            "freeze_epoch_s": {k: statistics.median(v) for k, v in epochs.items()},
            "freeze_epoch_ratio": _median_ratio(epochs), "val_mIoU_after_one_epoch": miou,
            "predict_images_per_s": rates, "predict_ratio": rates["flash"] / rates["hand"]}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 images of 64 px, 2 repeats")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--head", default="unet")
    args = parser.parse_args()
    if args.quick:
        args.images, args.size, args.repeats = 16, 64, 2
    result = run(images=args.images, size=args.size, repeats=args.repeats, backbone=args.backbone, head=args.head)
    print(f"{args.head}/{args.backbone}, {result['images']} images of {result['size']} px, {result['repeats']} "
          f"repeats, {result['threads']} threads")
    seconds = result["freeze_epoch_s"]
    print(f"freeze epoch: flash {seconds['flash']:.2f} s, hand {seconds['hand']:.2f} s, "
          f"ratio flash/hand {result['freeze_epoch_ratio']:.3f} (target <= 1.0)")
    miou = result["val_mIoU_after_one_epoch"]
    print(f"val mIoU after one freeze epoch: flash {miou['flash']:.3f}, hand {miou['hand']:.3f}")
    rates = result["predict_images_per_s"]
    print(f"predict: flash {rates['flash']:.2f} images/s, hand {rates['hand']:.2f} images/s, "
          f"ratio flash/hand {result['predict_ratio']:.3f} (target >= 0.95)")
    return result


if __name__ == "__main__":
    main()
