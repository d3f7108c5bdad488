#!/usr/bin/env bash
# FreezeOut on an NVIDIA GPU: our Burn CUDA step times beside PyTorch's, one table at the end.
# Written for a machine with one NVIDIA H200 (CUDA 13, PyTorch 2.11.0+cu130).
#
#   scripts/gpu-bench.sh build   # on a build machine (no GPU needed): offline CUDA build (NVRTC,
#                                # scripts/cuda-offline.sh), packed into gpu-pack/
#   TORCH_PYTHON=/venv/bin/python scripts/gpu-bench.sh build-tch   # optional: Burn's LibTorch
#                                # backend, linked against that PyTorch (must match the GPU machine's)
#   scripts/gpu-bench.sh run     # on the GPU machine, in the repo root with gpu-pack/: everything,
#                                # table last
#
# What the run leaves in $OUT (default ./gpu-out) is a few files, easy to copy back from a remote
# machine: table.txt, logs.tar.xz (every log and report; under $OUT/logs/ until the end) and
# cubecl-cache.tar.xz.NN (CubeCL's compiled kernels and autotune results). Copy those parts into
# gpu-pack/ and the next run starts warm: no kernel compiled or tuned twice.
# A second run with a warm cache can skip what the first one did: SMOKE=0 TORCH=0 BATCHES=64,
# or give one cold stage the whole budget: SMOKE=0 TORCH=0 MODELS=densenet-bc-100-12 BATCHES=256
# FLOATS= (FLOATS lists the extra stages, default "tch flex32 bf16"; empty: none).
# AUTOTUNE=minimal|balanced|extensive|full sets CubeCL's autotune level (its default: balanced).
#
# The run stays inside BUDGET seconds (default 530): every stage has its own cap and never runs
# past the budget, so a hang in one stage still leaves the others and the table.
# A dry run on a CPU machine tests everything up to the GPU itself:
#   DEVICE=cpu BIN=target/release/paper-repro PYTHON=/path/to/python-with-torch MODELS=wrn-10-1 \
#     BATCHES="8 16" ITERS=2 WARMUP=1 SCHED_ITERS=20 scripts/gpu-bench.sh run
# DEVICE=wgpu with a `--features wgpu` binary runs the same stages on CubeCL's wgpu runtime (on a
# machine without a GPU: Mesa's lavapipe, Debian's mesa-vulkan-drivers), so CubeCL's compile and
# autotune logs, its cache directory and their summary in the table are real, not just parsed.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=${PACK:-gpu-pack}

# `pack BINARY NAME`: BINARY compressed into gpu-pack/NAME (the other files there stay), and
# gpu-pack kept small (under 64 MiB) to travel with the repository to the GPU machine.
pack() {
  mkdir -p "$PACK"
  xz -T2 -6 -c "$1" >"$PACK/$2.tmp" && mv "$PACK/$2.tmp" "$PACK/$2"
  du -sh "$PACK"/*
  local size
  size=$(du -sm "$PACK" | cut -f1)
  ((size < 60)) || { echo "gpu-pack is ${size} MiB: over its 64 MiB limit" >&2; exit 1; }
}

build() {
  scripts/cuda-offline.sh -p paper-repro --bin paper-repro --features cuda
  pack "${CARGO_TARGET_DIR:-target}/release/paper-repro" paper-repro.xz
}

# Burn's LibTorch backend (`--features tch`), linked against the PyTorch of TORCH_PYTHON: the
# GPU machine's own version (2.11.0+cu130, installable from PyPI on the build machine), as the
# binary loads that machine's libtorch at run time. tch 0.22 expects 2.9: the version check is bypassed (its C++
# glue compiles against 2.11's headers; checked by running it).
build_tch() {
  local py=${TORCH_PYTHON:?set TORCH_PYTHON to a python with the same PyTorch as the GPU machine (2.11.0+cu130)}
  local target=${TCH_TARGET:-target-tch}
  LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1 PATH="$(dirname "$py"):$PATH" CARGO_TARGET_DIR=$target \
    cargo build --release -p paper-repro --features tch
  pack "$target/release/paper-repro" paper-repro-tch.xz
}

# Seconds a stage may take: its cap, or what is left of the budget minus `reserve`.
allow() {
  local cap=$1 reserve=${2:-0} left
  left=$((DEADLINE - SECONDS - reserve))
  ((left < cap)) && cap=$left
  ((cap < 5)) && cap=0
  echo "$cap"
}

# CubeCL's configuration for one process (CubeCL reads ./cubecl.toml): kernel compilations
# (names only, no sources) and autotune results logged to files, no profiling (CUBECL_DEBUG_LOG
# would profile every kernel and format every source: far too slow to time anything); compiled
# kernels and autotune results kept in one environment directory ($CACHE), so later processes
# of this run, and the next run if the cache is copied into gpu-pack/, reuse them.
cubecl_dir() {
  local name=$1 dir="$WORK/$1"
  mkdir -p "$dir"
  cat >"$dir/cubecl.toml" <<EOF
[environment]
path = { directory = "$CACHE" }

[compilation]
cache = true

[compilation.logger]
level = "basic"
file = "$LOGS/cubecl-compile-$name.log"

[autotune]
level = "${AUTOTUNE:-balanced}"

[autotune.logger]
level = "minimal"
file = "$LOGS/cubecl-autotune-$name.log"
EOF
  echo "$dir"
}

# CubeCL's cache from an earlier run (gpu-pack/cubecl-cache.tar.xz.NN), if there.
restore_cache() {
  mkdir -p "$CACHE"
  if compgen -G "$PACK/cubecl-cache.tar.xz.*" >/dev/null; then
    cat "$PACK"/cubecl-cache.tar.xz.* | xz -dc | tar -x -C "$CACHE" &&
      echo "== cubecl cache restored: $(find "$CACHE" -type f | wc -l) files, $(du -sh "$CACHE" | cut -f1)"
  else
    echo "== cubecl cache: none in $PACK (cold start: every kernel is compiled and tuned here)"
  fi
}

# On any exit (a TERM included): the cache and the logs into a few files of at most 16 MiB,
# easy to copy back (and the cache parts into gpu-pack/, which stays under 64 MiB).
finish() {
  trap - EXIT
  set +e
  if [[ -d $CACHE ]] && [[ -n $(ls -A "$CACHE") ]]; then
    tar -C "$CACHE" -c . | xz -T0 -6 | split -b 15M -d -a 2 - "$OUT/cubecl-cache.tar.xz."
    local parts
    parts=$(compgen -G "$OUT/cubecl-cache.tar.xz.*" | wc -l)
    if ((parts > 2)); then
      rm -f "$OUT"/cubecl-cache.tar.xz.*
      echo "cubecl cache: over 30 MiB packed, not kept (gpu-pack must stay under 64 MiB)" >>"$LOGS/env.txt"
    fi
  fi
  if [[ -d $LOGS ]]; then
    tar -C "$OUT" -c logs | xz -T0 -6 >"$OUT/logs.tar.xz" && rm -rf "$LOGS"
  fi
  rm -rf "$WORK"
  echo "in \$OUT: $(cd "$OUT" && du -sh -- * | tr '\t\n' ': ')"
}

lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

# Every 5 s while a stage runs: seconds into it, kernels compiled, autotune log lines, steps
# done, GPU load and memory. A stage whose compile count keeps rising is compiling; one where
# nothing moves (no kernels, no steps, GPU idle) is hung.
progress() {
  local name=$1 start steps gpu
  start=$(date +%s)
  echo "# s compiled autotune_lines steps gpu_util_% gpu_mem_MiB"
  while sleep 5; do
    steps=$(grep -c '^step' "$LOGS/ours-$name.txt" 2>/dev/null) || true
    gpu=$(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits 2>/dev/null |
      head -n 1 | tr -d ' ' | tr ',' ' ') || true
    echo "$(($(date +%s) - start)) $(lines "$LOGS/cubecl-compile-$name.log") $(lines "$LOGS/cubecl-autotune-$name.log") ${steps:-0} ${gpu:-- -}"
  done
}

# Ours for one model and batch: every step printed, JSON report, CubeCL logs; capped. A stage
# cut off by its cap (cold kernel compilation and autotuning, most likely) is queued in
# TIMED_OUT to run once more (`retry`), from the cache it filled.
TIMED_OUT=()
ours() {
  local name=$1 cap=$2 reserve=$3 secs
  shift 3
  secs=$(allow "$cap" "$reserve")
  if ((secs == 0)); then echo "== $name: skipped (budget spent)"; return; fi
  echo "== $name (up to ${secs}s)"
  local dir
  dir=$(cubecl_dir "$name")
  progress "$name" >"$LOGS/progress-$name.txt" &
  local sampler=$!
  local rc=0
  (cd "$dir" && env LD_LIBRARY_PATH="$OURS_LD" ${PRELOAD:+"LD_PRELOAD=$PRELOAD"} timeout -k 5 "$secs" \
    "$BIN" speed --device "$DEVICE" --verbose --json "$LOGS/ours-$name.json" "$@") \
    >"$LOGS/ours-$name.txt" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "ours $name: failed or timed out (rc $rc)" >>"$LOGS/ours-$name.txt"
    if ((rc == 124 || rc == 137)) && [[ $name != *-retry ]]; then
      TIMED_OUT+=("$name $(printf '%q ' "$@")")
    fi
  fi
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  grep -v '^step' "$LOGS/ours-$name.txt" | tail -n 12 || true
  echo "   kernels compiled: $(lines "$LOGS/cubecl-compile-$name.log"), autotune log lines: $(lines "$LOGS/cubecl-autotune-$name.log")"
  echo "   last progress sample (s compiled autotune steps gpu% MiB): $(tail -n 1 "$LOGS/progress-$name.txt")"
  return 0
}

# Burn's LibTorch backend on the same GPU (`build-tch`), against the GPU machine's own libtorch.
tch_stage() {
  local model=$1 batch=$2 iters=$3 warmup=$4 python=$5
  if [[ ! -f $PACK/paper-repro-tch.xz ]]; then
    echo "== LibTorch backend: skipped (no $PACK/paper-repro-tch.xz: see build-tch)"
    return 0
  fi
  local torch_lib
  torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  local BIN=$WORK/paper-repro-tch DEVICE=tch-cuda PRELOAD=$torch_lib/libtorch_cuda.so
  local OURS_LD=$torch_lib${OURS_LD:+:$OURS_LD}
  [[ -f $BIN ]] || { xz -dc "$PACK/paper-repro-tch.xz" >"$BIN" && chmod +x "$BIN"; }
  # Dry run on a CPU machine: LibTorch's CPU device, nothing preloaded.
  [[ ${DEVICE_MAIN:-cuda} != cuda ]] && DEVICE=tch PRELOAD=
  ours "$model-$batch-$DEVICE" 60 5 --model "$model" --batch "$batch" --iters "$iters" --warmup "$warmup" \
    --fractions 0 0.25 0.5 0.75 1
}

# The stages cut off so far, once more with the kernels and tuning results they cached; `reserve`
# seconds stay for what follows.
retry() {
  local reserve=$1 entry
  for entry in "${TIMED_OUT[@]}"; do
    eval "ours ${entry%% *}-retry 150 $reserve ${entry#* }"
  done
  TIMED_OUT=()
}

run() {
  OUT=${OUT:-gpu-out}
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  LOGS=$OUT/logs
  mkdir -p "$LOGS"
  WORK=$(mktemp -d)
  CACHE=$WORK/cubecl-env
  trap finish EXIT
  trap 'exit 143' TERM INT
  restore_cache
  DEVICE=${DEVICE:-cuda}
  DEVICE_MAIN=$DEVICE
  DEADLINE=$((SECONDS + ${BUDGET:-530}))
  local models=${MODELS:-densenet-bc-100-12 wrn-40-4} batches=${BATCHES:-256 64}
  local iters=${ITERS:-10} warmup=${WARMUP:-3} sched=${SCHED_ITERS:-60} python=${PYTHON:-python3}
  export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
  # Our binary finds NVRTC in the toolkit too (only ours: PyTorch brings its own CUDA libraries,
  # and LD_LIBRARY_PATH would take precedence over them).
  OURS_LD=${LD_LIBRARY_PATH:-}
  [[ -d $CUDA_PATH/lib64 ]] && OURS_LD=$CUDA_PATH/lib64${OURS_LD:+:$OURS_LD}
  # No NVRTC in the toolkit or the loader's cache: use the one PyTorch's wheels bring (CUDA 13).
  if ! compgen -G "$CUDA_PATH/lib64/libnvrtc.so*" >/dev/null && ! ldconfig -p | grep -q 'libnvrtc\.so'; then
    local wheel_lib
    wheel_lib=$("$python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null || true)
    [[ -n $wheel_lib && -d $wheel_lib ]] && OURS_LD=$OURS_LD${OURS_LD:+:}$wheel_lib
  fi
  if [[ -z ${BIN:-} ]]; then
    BIN=$WORK/paper-repro
    xz -dc "$PACK/paper-repro.xz" >"$BIN" && chmod +x "$BIN"
  fi
  BIN=$(realpath "$BIN")
  (nvidia-smi; "$python" -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; "$BIN" --version
    echo "CUDA_PATH=$CUDA_PATH LD_LIBRARY_PATH (ours)=$OURS_LD"; ldconfig -p | grep -E 'libcuda\.|libnvrtc' || true
    ls "$CUDA_PATH/lib64" | grep -E 'nvrtc' || true) >"$LOGS/env.txt" 2>&1 || true

  # 1. Smoke test: a tiny model, every step printed (is it compilation/autotune, or a hang?).
  if [[ ${SMOKE:-1} != 0 ]]; then
    ours smoke-wrn-10-1 75 300 --model wrn-10-1 --batch 8 --iters 3 --warmup 1 --fractions 0 0.5
  fi

  # 2. Ours: the largest batch first (the goal is set there); the scheduled run only there.
  # PyTorch's time (stage 3) stays reserved unless TORCH=0.
  local first=1 model batch keep=110
  [[ ${TORCH:-1} == 0 ]] && keep=10
  for batch in $batches; do
    for model in $models; do
      local extra=()
      ((first)) && extra=(--schedule-iters "$sched")
      ours "$model-$batch" 130 "$keep" --model "$model" --batch "$batch" --iters "$iters" --warmup "$warmup" \
        --fractions 0 0.25 0.5 0.75 1 "${extra[@]}"
    done
    # The goal is set at this batch: a stage cut off by a cold cache gets its second try now,
    # before the other batch (PyTorch's time stays reserved).
    ((first)) && retry "$keep"
    first=0
  done

  # 3. PyTorch, same models, batches and protocol.
  local secs
  secs=$(allow 120 10)
  local torch_device=()
  [[ $DEVICE != cuda ]] && torch_device=(--device cpu)
  if [[ ${TORCH:-1} == 0 ]]; then
    echo "== pytorch: skipped (TORCH=0)"
  elif ((secs == 0)); then
    echo "== pytorch: skipped (budget spent)"
  else
    echo "== pytorch (up to ${secs}s)"
    # shellcheck disable=SC2086
    timeout -k 5 "$secs" "$python" bench-harness/reference/torch_speed.py --model $models --batch $batches \
      --fractions 0 0.25 0.5 0.75 1 --iters "$((iters * 3))" --warmup "$warmup" "${torch_device[@]}" \
      >"$LOGS/torch.jsonl" 2>"$LOGS/torch.err" || echo "pytorch: failed or timed out (rc $?)"
    tail -n 3 "$LOGS/torch.err"
  fi

  # 4. Stages of the other batch cut off by their cap, once more.
  retry 40

  # 5. With whatever budget is left, the first model and batch: Burn's LibTorch backend (if packed;
  # cuDNN, nothing to tune), ours in flex32 (relaxed f32, the counterpart of PyTorch's TF32
  # convolutions), ours in bf16. Each float type tunes its own kernels: on a cold cache those two
  # stages mostly fill the cache for the next run (bench-harness/PERF.md, CubeCL on lavapipe).
  local m0=${models%% *} b0=${batches%% *} float
  for float in ${FLOATS-tch flex32 bf16}; do
    if [[ $float == tch ]]; then
      tch_stage "$m0" "$b0" "$iters" "$warmup" "$python"
      continue
    fi
    ours "$m0-$b0-$float" 45 5 --model "$m0" --batch "$b0" --iters "$iters" --warmup "$warmup" \
      --fractions 0 0.5 --float "$float"
  done

  # 6. The table.
  "$python" scripts/gpu_table.py "$LOGS" | tee "$OUT/table.txt"
}

case "${1:-}" in
  build) build ;;
  build-tch) build_tch ;;
  run) run ;;
  *) echo "usage: $0 build|build-tch|run" >&2; exit 2 ;;
esac
