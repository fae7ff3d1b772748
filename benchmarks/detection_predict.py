"""Images per second of ``trainer.predict`` against the same torchvision detector called in a hand loop.

Both paths see the same images with the same preprocessing (decode, resize so the longer side is
``image_size``, scale to [0, 1]) and map boxes back to the original pixels; they run alternately in
one process, ``--repeats`` times each, and the median rates are compared (target ratio >= 0.9).

    python benchmarks/detection_predict.py            # 64 images, 5 repeats
    python benchmarks/detection_predict.py --quick    # 16 images, 3 repeats
    python benchmarks/detection_predict.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script


def hand_loop(model, files, *, image_size: int, batch_size: int) -> int:
    """The baseline: decode, resize, batch and call the torchvision model directly."""
    from torchvision.transforms import v2

    from flash.image.detection.model import scale_boxes
    from flash.image.io import load_image

    transform = v2.Compose(
        [v2.ToImage(), v2.Resize(size=None, max_size=image_size), v2.ToDtype(torch.float32, scale=True)]
    )
    detector = model.model.eval()
    count = 0
    with torch.no_grad():
        for start in range(0, len(files), batch_size):
            images = [load_image(f) for f in files[start : start + batch_size]]
            tensors = [transform(image) for image in images]
            for out, tensor, image in zip(detector(tensors), tensors, images):
                scale_boxes(out["boxes"], from_size=tensor.shape[-2:], to_size=(image.height, image.width))
                count += 1
    return count


def flash_predict(trainer, model, datamodule) -> int:
    batches = trainer.predict(model, datamodule=datamodule)
    return sum(len(batch) for batch in batches)


def run(args: argparse.Namespace) -> dict:
    """Images/s of ``trainer.predict`` and the hand loop, ``args.repeats`` times each."""
    import flash
    from flash.image import ObjectDetectionData, ObjectDetector
    from flash.image.detection.demo import write_shapes

    root = Path(tempfile.mkdtemp(prefix="detection_bench_"))
    write_shapes(root / "images", num_images=args.images, seed=0, size=(300, 400))
    files = sorted(str(p) for p in (root / "images").glob("*.png"))
    datamodule = ObjectDetectionData.from_folders(
        predict_folder=str(root / "images"),
        batch_size=args.batch_size,
        transform_kwargs={"image_size": args.image_size},
    )
    torch.manual_seed(0)
    model = ObjectDetector(
        4, head=args.head, backbone=args.backbone, pretrained=False, image_size=args.image_size
    ).eval()
    trainer = flash.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        default_root_dir=str(root),
    )
    runs = {
        "flash": lambda: flash_predict(trainer, model, datamodule),
        "hand": lambda: hand_loop(model, files, image_size=args.image_size, batch_size=args.batch_size),
    }
    for run in runs.values():  # warm-up
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            count = run()
            rates[name].append(count / (time.perf_counter() - start))
    flash_rate, hand_rate = statistics.median(rates["flash"]), statistics.median(rates["hand"])
    print(
        f"{args.head}/{args.backbone}, {args.images} images 300x400 -> {args.image_size}, batch {args.batch_size}, "
        f"{args.repeats} repeats, {torch.get_num_threads()} threads"
    )
    print(f"trainer.predict: {flash_rate:.2f} images/s   (runs: {', '.join(f'{r:.2f}' for r in rates['flash'])})")
    print(f"hand loop:       {hand_rate:.2f} images/s   (runs: {', '.join(f'{r:.2f}' for r in rates['hand'])})")
    print(f"ratio flash / hand = {flash_rate / hand_rate:.3f} (target >= 0.9)")
    return {"head": args.head, "backbone": args.backbone, "images": args.images, "image_size": args.image_size,
            "flash_images_per_s": rates["flash"], "hand_images_per_s": rates["hand"], "ratio": flash_rate / hand_rate}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 images, 3 repeats")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--head", default="fcos")
    parser.add_argument("--backbone", default="mobilenet_v3_large_fpn")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats = 16, 3
    result = run(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
