#!/usr/bin/env bash
# The `flash` command, end to end: train, predict, list, export. No Python to write, no internet needed.
# Run: bash examples/cli_walkthrough.sh   (FLASH_QUICK=1 trains a tiny model for a few steps)
set -euo pipefail
work=$(mktemp -d)
cd "$work"

extra=()
if [ "${FLASH_QUICK:-0}" = "1" ]; then
  extra=(--model.backbone test_resnet --trainer.max_steps 3 --data.transform_kwargs "{image_size: [16, 16]}")
fi

# 1. Train on the built-in demo data (real handwritten digits); it prints where the checkpoint went.
flash train image_classification "${extra[@]}" --checkpoint digits.pt

# 2. Write a few digits as PNG files and predict on the folder.
python - <<'PY'
from pathlib import Path
from PIL import Image
from flash.image.classification.demo import load_digits
images, targets = load_digits()
Path("new").mkdir(exist_ok=True)
for i in range(5):
    Image.fromarray(images[i]).save(f"new/digit_{i}_true_{targets[i]}.png")
PY
flash predict --checkpoint digits.pt new/
flash predict --checkpoint digits.pt new/ --output predictions.csv

# 3. What else is there?
flash list tasks
# head stops reading after 5 lines; flash then ends quietly with a closed pipe's status (141), as Unix tools do.
flash list backbones image_classification "resnet1*" | head -5 || [ "${PIPESTATUS[0]}" = 141 ]

# 4. Export for serving.
flash export --checkpoint digits.pt --format onnx --output digits.onnx
echo "Done: everything is in $work"
