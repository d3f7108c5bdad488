#!/usr/bin/env bash
# FreezeOut under burn-train's DDP on the GPU machine: step time and the gradient bytes
# all-reduced per step before and after each freeze, beside the same run on one device without
# DDP (what fork, sharding and NCCL cost with one worker) — one table at the end.
#
#   scripts/gpu-ddp.sh build   # on a build machine (no GPU needed): offline CUDA build of
#                              # paper-repro (scripts/cuda-offline.sh) with `--features cuda,ddp`,
#                              # packed into gpu-pack/paper-repro-ddp.xz
#   scripts/gpu-ddp.sh run     # on the GPU machine, in the repo root with gpu-pack/
#
# Written for a machine with one NVIDIA H200: on one GPU, one DDP worker still exercises the
# fork, the sharder and NCCL; WORKERS defaults to the number of GPUs nvidia-smi lists. It reuses
# CubeCL's cache parts of scripts/gpu-bench.sh when they are in gpu-pack/ (and packs none back:
# the kernels it compiles stay on the GPU machine).
# What the run leaves in $OUT (default ./gpu-out): ddp.txt (the tables), ddp-*.json (the
# reports), logs.tar.xz.
#
# Dry run on a CPU machine (MultiDevice over the CPU device twice instead of DDP):
#   DEVICE=cpu STRATEGY=multi WORKERS=2 BIN=target/release/paper-repro MODELS=wrn-10-1 BATCH=10 \
#     IMAGES=200 scripts/gpu-ddp.sh run
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=${PACK:-gpu-pack}

build() {
  scripts/cuda-offline.sh -p paper-repro --bin paper-repro --features cuda,ddp
  mkdir -p "$PACK"
  xz -T2 -6 -c "${CARGO_TARGET_DIR:-target}/release/paper-repro" >"$PACK/paper-repro-ddp.xz.tmp"
  mv "$PACK/paper-repro-ddp.xz.tmp" "$PACK/paper-repro-ddp.xz"
  du -sh "$PACK"/*
}

run() {
  OUT=${OUT:-$PWD/gpu-out}
  mkdir -p "$OUT"
  LOGS=$OUT/logs
  mkdir -p "$LOGS"
  local budget=${BUDGET:-530} device=${DEVICE:-cuda} strategy=${STRATEGY:-ddp}
  local bin=${BIN:-}
  if [[ -z $bin ]]; then
    bin=$(mktemp -d)/paper-repro
    xz -dc "$PACK/paper-repro-ddp.xz" >"$bin"
    chmod +x "$bin"
  fi
  local workers=${WORKERS:-}
  if [[ -z $workers ]]; then
    workers=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU') || workers=1
  fi
  # CubeCL's kernels and autotune results from an earlier run, if in gpu-pack/.
  local cache
  cache=$(mktemp -d)
  if compgen -G "$PACK/cubecl-cache.tar.xz.*" >/dev/null; then
    cat "$PACK"/cubecl-cache.tar.xz.* | xz -dc | tar -x -C "$cache" || true
  fi
  cat >cubecl.toml <<EOF
[environment]
path = { directory = "$cache" }

[compilation]
cache = true

[compilation.logger]
level = "basic"
file = "$LOGS/cubecl-compile.log"

[autotune]
level = "${AUTOTUNE:-balanced}"
EOF
  trap 'rm -f cubecl.toml; tar -C "$OUT" -c logs | xz -T0 -6 >"$OUT/logs.tar.xz" && rm -rf "$LOGS"' EXIT
  {
    echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
    echo "# workers $workers, device $device, strategy $strategy"
  } | tee "$OUT/ddp.txt"
  local deadline=$((SECONDS + budget)) model
  for model in ${MODELS:-wrn-40-4 densenet-bc-100-12}; do
    # The strategy under test, then the same run on one device without it.
    local stage
    for stage in "$strategy:$workers" "single:1"; do
      local s=${stage%%:*} w=${stage##*:} left=$((deadline - SECONDS))
      ((left < 20)) && { echo "== $model $s: skipped (budget spent)" | tee -a "$OUT/ddp.txt"; continue; }
      local cap=$((left < 240 ? left : 240))
      echo "== $model $s × $w (up to ${cap}s)" | tee -a "$OUT/ddp.txt"
      timeout -k 5 "$cap" "$bin" ddp --model "$model" --strategy "$s" --device "$device" --workers "$w" \
        --batch "${BATCH:-128}" --images "$((${IMAGES:-3840} / w * w))" --epochs "${EPOCHS:-2}" \
        --dir "$LOGS/run-$model-$s" --json "$OUT/ddp-$model-$s.json" >"$LOGS/$model-$s.txt" 2>&1 ||
        echo "$model $s: failed or timed out (rc $?)" | tee -a "$OUT/ddp.txt"
      sed -n '/ optimizer steps per worker$/,$p' "$LOGS/$model-$s.txt" | tee -a "$OUT/ddp.txt"
      grep -m3 -i 'error\|panick' "$LOGS/$model-$s.txt" | tee -a "$OUT/ddp.txt" || true
    done
  done
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: $0 build|run" >&2; exit 2 ;;
esac
