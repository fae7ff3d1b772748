#!/usr/bin/env bash
# GPU checks for issue 16, for when a GPU machine is lent (NOT run yet: no GPU was available when written).
# Each line prints its own ratios; paste them into benchmarks/README.md with the date and the GPU.
#   1. bf16-mixed fine-tuning throughput, flash vs a hand torch.autocast loop (freeze, cached freeze, no_freeze)
#   2. DDP on every GPU of the machine (skipped with fewer than 2 GPUs): `flash train` on the demo data
#   3. predict: `flash predict --device cuda` vs the hand timm script on CUDA, whole processes
# Usage: bash benchmarks/gpu_check.sh            (from the repository root, venv active; about 5 minutes)
#        QUICK=1 bash benchmarks/gpu_check.sh    (smoke run, about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 PYTHONPATH="${PYTHONPATH:-$PWD}"
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("GPUs:", [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())], "torch", torch.__version__)
PY
if [ -n "${QUICK:-}" ]; then quick=(--quick); repeats=(); else quick=(); repeats=(--repeats 3); fi
echo "== 1. bf16-mixed fine-tuning, flash vs hand AMP loop"
python benchmarks/finetune_e2e.py --device cuda --precision bf16-mixed --modes freeze,cache,no_freeze "${quick[@]}" "${repeats[@]}"
gpus=$(python -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -ge 2 ]; then
  echo "== 2. DDP on $gpus GPUs (flash train, demo data, bf16-mixed)"
  tmp=$(mktemp -d)
  (cd "$tmp" && time python -m flash train image_classification --trainer.accelerator gpu \
      --trainer.devices "$gpus" --trainer.strategy ddp --trainer.precision bf16-mixed --trainer.max_epochs 2)
  rm -rf "$tmp"
else
  echo "== 2. DDP skipped: $gpus GPU"
fi
echo "== 3. predict on CUDA, whole processes"
python benchmarks/predict_cold_start.py --device cuda "${quick[@]}" --images 500
