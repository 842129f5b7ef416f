#!/usr/bin/env bash
# One GPU check, under 8 minutes on one H100/H200, writing results/gpu_check/*.json:
#   1. images/s and step overhead per method at the gpu profile (ResNet-18, 32 px, batch 512)
#   2. batched-on-GPU vs per-image (DataLoader) augmentation, views/s
#   3. BYOL's kNN after a fixed budget beside lightly's BYOL (same backbone, batch, budget)
# Needs CIFAR-10: pass its folder as $1 or $SSLKIT_CIFAR10 (JPEG ImageFolder copy or
# torchvision's). Usage: bash benchmarks/gpu_check.sh /path/to/cifar10 [minutes per BYOL run]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_ROOT="${1:-${SSLKIT_CIFAR10:?give the CIFAR-10 folder as \$1 or \$SSLKIT_CIFAR10}}"
MINUTES="${2:-1.5}"
OUT=results/gpu_check
mkdir -p "$OUT"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device: this check needs a GPU'"
python - <<'EOF' > "$OUT/device.json"
import json, torch, sslkit
print(json.dumps({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                  "cuda": torch.version.cuda, "sslkit": sslkit.__version__}))
EOF
start=$(date +%s)
echo "== 1. step time and overhead per method (gpu profile)"
python benchmarks/step_overhead.py --profile gpu --device cuda --repeats 10 \
    --json "$OUT/step_overhead.json"
echo "== 2. augmentation: batched on the GPU vs per image in 8 DataLoader workers"
python benchmarks/augment.py --device cuda --batch-size 512 --n 20000 --repeats 5 --workers 8 \
    --json "$OUT/augment.json"
echo "== 3. BYOL for ${MINUTES} min: sslkit vs lightly"
PEERS=(--peers lightly)
if ! python -c "import lightly" 2>/dev/null; then
    echo "lightly is not installed (pip install -e '.[bench]'): BYOL runs without its peer"
    PEERS=()
fi
python benchmarks/cpu_budget.py --profile gpu --device cuda --minutes "$MINUTES" \
    --methods byol "${PEERS[@]}" --seeds 1 --workers 8 --data-root "$DATA_ROOT" --quiet \
    --out "$OUT/byol_budget.json"
echo "gpu_check: done in $(( $(date +%s) - start )) s; results in $OUT/"
