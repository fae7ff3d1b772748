"""``flash predict`` cold start against a 15-line timm script, as whole processes.

Setup (not timed): PNG images written here, and an image-classifier checkpoint (timm ``resnet18``, random
weights, 64 px) written the way ``flash train`` writes its model file. Then, alternating, each repeat runs
``python -m flash predict --checkpoint model.pt <folder>`` and ``python hand_predict.py model.pt <folder>``
(the script below: loads the same weights into ``timm.create_model("resnet18")``, reads the images with
PIL, the same resize and normalisation, prints ``file<TAB>label``) in fresh processes, and times each from
start to exit (time to the last prediction, interpreter start-up included on both sides). Both must print
the same labels. Prints the median ratio flash/hand and its spread; target <= 1.2.

Usage:
    python benchmarks/predict_cold_start.py             # 60 images, 7 repeats
    python benchmarks/predict_cold_start.py --quick     # 8 images, 1 repeat: checks the labels agree
    python benchmarks/predict_cold_start.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import add_json_argument, write_json  # noqa: E402 - beside this script

HAND_SCRIPT = '''
import sys
from pathlib import Path
import timm, torch
from PIL import Image
from torchvision import transforms
device = sys.argv[3] if len(sys.argv) > 3 else "cpu"
checkpoint = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
state, task = checkpoint["state_dict"], checkpoint["task"]
model = timm.create_model("resnet18", pretrained=False, num_classes=len(task["hyper_parameters"]["labels"]))
model.load_state_dict({k.replace("backbone.", "").replace("head.", "fc."): v for k, v in state.items()})
model = model.to(device).eval()
settings = task["input_transform"]["kwargs"]
tf = transforms.Compose([transforms.Resize(settings["image_size"]), transforms.ToTensor(),
                         transforms.Normalize(settings["mean"], settings["std"])])
files = sorted(str(p) for p in Path(sys.argv[2]).glob("*.png"))
with torch.no_grad():
    for i in range(0, len(files), 8):
        logits = model(torch.stack([tf(Image.open(f).convert("RGB")) for f in files[i:i + 8]]).to(device))
        labels = [task["hyper_parameters"]["labels"][c] for c in logits.argmax(1).tolist()]
        print("\\n".join(f"{f}\\t{label}" for f, label in zip(files[i:i + 8], labels)))
'''


def make_checkpoint(root: Path, *, images: int) -> tuple[Path, Path]:
    """A folder of PNGs and a flash model file for them (one training step, like a short `flash train`)."""
    import torch
    from PIL import Image

    import flash
    from flash.image import ImageClassificationData, ImageClassifier

    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("predict", images)):
        for i in range(count):
            folder = root / split / (f"class_{i % 2}" if split == "train" else "")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    torch.manual_seed(0)
    dm = ImageClassificationData.from_folders(train_folder=root / "train", batch_size=4,
                                              transform_kwargs={"image_size": 64})
    model = ImageClassifier(labels=dm.labels, backbone="resnet18", pretrained=False)
    trainer = flash.Trainer(max_epochs=1, limit_train_batches=1, enable_progress_bar=False, logger=False,
                            enable_checkpointing=False, default_root_dir=root)
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(root / "model.pt", weights_only=True)
    return root / "model.pt", root / "predict"


def timed(command: list[str], cwd: Path) -> tuple[float, list[str]]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-3000:]}")
    labels = [line.split("\t")[-1] for line in result.stdout.splitlines() if "\t" in line]
    return elapsed, labels


def run(args: argparse.Namespace) -> dict:
    """Alternating cold starts of ``flash predict`` and the hand script; returns their times and ratio."""
    images, repeats = (8, 1) if args.quick else (args.images, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checkpoint, folder = make_checkpoint(root, images=images)
        (root / "hand_predict.py").write_text(HAND_SCRIPT)
        sides = {"flash": [sys.executable, "-m", "flash", "predict", "--checkpoint", str(checkpoint), str(folder),
                           "--device", args.device],
                 "hand": [sys.executable, str(root / "hand_predict.py"), str(checkpoint), str(folder), args.device]}
        times: dict[str, list[float]] = {"flash": [], "hand": []}
        agreed = []
        for repeat in range(repeats):
            labels = {}
            for side in (("flash", "hand") if repeat % 2 == 0 else ("hand", "flash")):
                elapsed, labels[side] = timed(sides[side], root)
                times[side].append(elapsed)
            same = labels["flash"] == labels["hand"] and len(labels["hand"]) == images
            agreed.append(same)
            print(f"repeat {repeat}: flash {times['flash'][-1]:.2f} s, hand {times['hand'][-1]:.2f} s; "
                  f"labels {'equal' if same else 'DIFFER'} ({len(labels['flash'])} predictions)", flush=True)
            if not same:
                raise SystemExit(f"flash and the hand script disagree: {labels}")
        ratios = [f / h for f, h in zip(times["flash"], times["hand"])]
        print(f"median flash {statistics.median(times['flash']):.2f} s, hand {statistics.median(times['hand']):.2f} s; "
              f"ratio flash/hand {statistics.median(ratios):.2f} (spread {min(ratios):.2f}-{max(ratios):.2f})")
    return {"images": images, "flash_s": times["flash"], "hand_s": times["hand"], "ratio": statistics.median(ratios),
            "ratios": ratios, "labels_equal": all(agreed), "predictions": len(labels["flash"])}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu", help="cpu | cuda (both sides)")
    parser.add_argument("--quick", action="store_true", help="8 images, 1 repeat: a correctness smoke run")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    result = run(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
