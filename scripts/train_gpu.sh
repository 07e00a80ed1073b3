#!/usr/bin/env bash
# A bounded training burst from the shipped weights, for a machine with a CUDA GPU and many cores:
# bf16 autocast, rooms rendered by parallel worker processes, a checkpoint every 2 minutes, then the
# weights (safetensors, with the app's input size) and a held-out evaluation written to OUT.
#
#   scripts/train_gpu.sh OUT [MINUTES]          # default 9 minutes of training
#
# Environment (all optional): DEVICE (cuda; "cpu" to try it here), WORKERS (render processes, default
# cores - 2), THREADS (torch CPU threads, default 2), STAGE (instance: the instance branch on the frozen
# trunk; all: the whole network), STEPS (length of the cosine schedule, default 6000), LR (default 2e-4),
# INIT (default the bundled weights), SEED (default 21), EVAL_SCENES (held-out rooms evaluated after,
# seeds 5000.., default 10; 0 = none), PYTHON (default .venv/bin/python of this checkout).
# OUT/run is the resumable run folder: running the script again with the same OUT continues it.
# Writes OUT/iggt-tiny-burst.safetensors, OUT/train.log, OUT/run/{train_log,val_log}.csv, OUT/eval.json.
set -euo pipefail

OUT=${1:?usage: scripts/train_gpu.sh OUT_FOLDER [MINUTES]}
MINUTES=${2:-9}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DEVICE=${DEVICE:-cuda}
CORES=$(nproc)
WORKERS=${WORKERS:-$(( CORES > 3 ? CORES - 2 : 1 ))}
THREADS=${THREADS:-2}
STAGE=${STAGE:-instance}
STEPS=${STEPS:-6000}
LR=${LR:-2e-4}
INIT=${INIT:-$ROOT/resources/weights/iggt-tiny.safetensors}
SEED=${SEED:-21}
EVAL_SCENES=${EVAL_SCENES:-10}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG="$OUT/train.log"
cd "$ROOT"
{
  echo "# $(date -u +%FT%TZ) train_gpu.sh: $MINUTES min on $DEVICE, $WORKERS render workers, $THREADS threads,"
  echo "# stage $STAGE, steps $STEPS, lr $LR, seed $SEED, init $INIT"
  "$PYTHON" - <<'EOF'
import torch
print(f"# torch {torch.__version__}, cuda available: {torch.cuda.is_available()}"
      + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
EOF
} | tee -a "$LOG"
if [ "$DEVICE" != "cpu" ]; then
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "error: DEVICE=$DEVICE but torch sees no CUDA GPU (DEVICE=cpu to run on the CPU)" | tee -a "$LOG"; exit 1; }
fi

OMP_NUM_THREADS=$THREADS "$PYTHON" -m app.cli train --out "$OUT/run" --init "$INIT" --stage "$STAGE" \
  --steps "$STEPS" --lr "$LR" --warmup 50 --views 4-8 --size 224x224 --size 224x308 --seed "$SEED" \
  --device "$DEVICE" --dtype bf16 --render-workers "$WORKERS" --threads "$THREADS" \
  --max-minutes "$MINUTES" --checkpoint-minutes 2 \
  --export "$OUT/iggt-tiny-burst.safetensors" --input-width 308 --input-height 224 2>&1 | tee -a "$LOG"

if [ "$EVAL_SCENES" -gt 0 ]; then
  "$PYTHON" -m app.cli eval "$OUT/iggt-tiny-burst.safetensors" --scenes "$EVAL_SCENES" --seed 5000 \
    --device "$DEVICE" --json > "$OUT/eval.json" 2>> "$LOG"
  echo "# held-out evaluation (seeds 5000..): $OUT/eval.json" | tee -a "$LOG"
fi
echo "# done: $OUT/iggt-tiny-burst.safetensors" | tee -a "$LOG"
