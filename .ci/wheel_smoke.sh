#!/usr/bin/env bash
# CI: the release a user installs. Build the wheel and the sdist, install the WHEEL (not editable)
# into a fresh virtual environment, and from a folder outside the source tree run every task's
# zero-code `flash train <task>` for one batch and `flash predict` on a few inputs. A module or a
# package-data file left out of the wheel, or an extra that misses a package, fails here.
#
# Run it with the CI's first venv active (it needs `build`, from the "lint" extra); that venv's
# versions are the constraints of the second one, so pip takes the same torch (2.14.1 from this
# machine's disk) and the wheels it already has in its cache.
#   bash .ci/wheel_smoke.sh                                  # all four tasks, in a mktemp -d removed at the end
#   FLASH_SMOKE_TASKS="text_classification" bash .ci/wheel_smoke.sh   # only some tasks
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { echo "== wheel smoke: $*"; }

step "build the wheel and the sdist"
python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/*.whl)"
sdist="$(ls "$work"/dist/*.tar.gz)"
python - "$wheel" "$sdist" <<'EOF'
import sys, tarfile, zipfile
wheel = {n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith("flash/")}
with tarfile.open(sys.argv[2]) as tar:
    files = [member.name for member in tar.getmembers() if member.isfile()]
sdist = {name.split("/", 1)[1] for name in files if name.split("/")[1:2] == ["flash"]}
missing = sorted(sdist - wheel)
assert not missing, f"in the sdist but not in the wheel: {missing}"
assert "flash/py.typed" in wheel, "py.typed is missing from the wheel"
print(f"wheel: {len(wheel)} files under flash/, the sdist's {len(sdist)} included")
EOF

step "install the wheel into a fresh venv"
python -m pip freeze --exclude-editable | grep -v -i -e "^flash-finetune" -e " @ " >"$work/constraints.txt"
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q -c "$work/constraints.txt" "$wheel[image,text,audio]"
export PATH="$work/venv/bin:$PATH" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
unset PYTHONPATH
cd "$work"
python - "$src" <<'EOF'
import sys, flash
from pathlib import Path
where = Path(flash.__file__).resolve()
assert Path(sys.argv[1]).resolve() not in where.parents, f"flash imported from the source tree: {where}"
assert "site-packages" in where.parts, where
from importlib.metadata import version
print(f"flash {flash.__version__} from {where.parent}; torch {version('torch')}")
EOF
flash --version

step "inputs for predict"
mkdir -p inputs/images inputs/audio
python - <<'EOF'
import shutil
from importlib.resources import files
import numpy as np
from PIL import Image
from flash.image.detection.demo import write_shapes

digits = np.load(files("flash.image.classification") / "assets" / "digits.npz")["images"]
for i in range(2):
    Image.fromarray((digits[i] * 16).astype(np.uint8)).resize((16, 16)).convert("RGB").save(f"inputs/images/{i}.png")
write_shapes("inputs/shapes", num_images=2, seed=0)
for name in ("yes_m.wav", "no_f.wav"):
    shutil.copy(files("flash.audio.speech_recognition") / "assets" / name, f"inputs/audio/{name}")
EOF

predict() {  # predict on a couple of inputs with the checkpoint of task $1
  case "$1" in
    image_classification) flash predict --checkpoint "$1.pt" inputs/images/0.png inputs/images/1.png ;;
    object_detection) flash predict --checkpoint "$1.pt" inputs/shapes --output detections.json
                      test -s detections.json ;;
    text_classification) flash predict --checkpoint "$1.pt" "a wonderful, moving film" "dull and far too long" ;;
    speech_recognition) flash predict --checkpoint "$1.pt" inputs/audio ;;
  esac
}

for task in ${FLASH_SMOKE_TASKS:-image_classification object_detection text_classification speech_recognition}; do
  step "flash train $task (one batch), then flash predict"
  if ! flash train "$task" --trainer.fast_dev_run true --checkpoint "$task.pt" >"$task.log" 2>&1; then
    cat "$task.log"
    exit 1
  fi
  tail -n 4 "$task.log"
  predict "$task"
done
step "passed"
