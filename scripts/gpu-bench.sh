#!/usr/bin/env bash
# FreezeOut on the H200: our Burn CUDA step times beside PyTorch's, one table at the end.
#
#   scripts/gpu-bench.sh build   # here (CPU machine): offline CUDA build (NVRTC), packed into gpu-pack/
#   scripts/gpu-bench.sh run     # on the GPU machine, in the repo root: everything, table last
#
# With the device tool:  run(command="scripts/gpu-bench.sh run", carry=["gpu-pack"], timeout_s=590)
# Full logs go to $OUT (the device tool's result folder; ./gpu-out elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=gpu-pack

build() {
  ../shared/cuda-offline/build.sh -p paper-repro --bin paper-repro --features cuda
  rm -rf "$PACK" && mkdir -p "$PACK"
  xz -T2 -6 -c target/release/paper-repro >"$PACK/paper-repro.xz"
  cp bench-harness/reference/torch_speed.py scripts/gpu_table.py "$PACK/"
  du -sh "$PACK"
  local size
  size=$(du -sm "$PACK" | cut -f1)
  ((size < 60)) || { echo "gpu-pack is ${size} MiB: over the 64 MiB carry limit" >&2; exit 1; }
}

run() {
  OUT=${OUT:-gpu-out}
  mkdir -p "$OUT"
  export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
  local bin=/tmp/paper-repro-cuda
  xz -dc "$PACK/paper-repro.xz" >"$bin" && chmod +x "$bin"
  (nvidia-smi; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)') >"$OUT/env.txt" 2>&1 || true
  # Autotune results persist between runs of this script on the same machine.
  export CUBECL_AUTOTUNE_CACHE=1

  # 1. Smoke test: a tiny model, every step printed, CubeCL's compile/autotune log kept.
  echo "== smoke: wrn-10-1 batch 8" | tee "$OUT/smoke.txt"
  CUBECL_DEBUG_LOG="$OUT/cubecl-smoke.log" timeout 90 "$bin" speed --device cuda --model wrn-10-1 \
    --batch 8 --iters 3 --warmup 1 --fractions 0 0.5 --verbose >>"$OUT/smoke.txt" 2>&1 \
    || echo "smoke test failed or timed out (rc $?)" | tee -a "$OUT/smoke.txt"
  tail -n 12 "$OUT/smoke.txt"

  # 2. Ours: DenseNet-BC-100-12 and WRN-40-4 at batch 64 and 256, 0/25/50/75% frozen.
  for model in densenet-bc-100-12 wrn-40-4; do
    for batch in 64 256; do
      echo "== ours: $model batch $batch"
      CUBECL_DEBUG_LOG="$OUT/cubecl-$model-$batch.log" timeout 110 "$bin" speed --device cuda \
        --model "$model" --batch "$batch" --iters 10 --warmup 3 --verbose \
        --json "$OUT/ours-$model-$batch.json" >"$OUT/ours-$model-$batch.txt" 2>&1 \
        || echo "ours $model $batch failed or timed out (rc $?)"
      grep -v '^step' "$OUT/ours-$model-$batch.txt" | tail -n 9 || true
    done
  done

  # 3. PyTorch, same protocol.
  echo "== pytorch"
  timeout 150 python3 "$PACK/torch_speed.py" --model densenet-bc-100-12 wrn-40-4 --batch 64 256 \
    --iters 30 --warmup 5 >"$OUT/torch.jsonl" 2>"$OUT/torch.err" || echo "pytorch failed (rc $?)"

  # 4. The table.
  python3 "$PACK/gpu_table.py" "$OUT" | tee "$OUT/table.txt"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
