#!/usr/bin/env bash
# The quick form of `make bench` on a CUDA GPU, prepared for a session that has one
# (the device tool: `run` with command `bash bench/gpu.sh` and timeout_s 600; an
# estimate of 6 to 8 minutes on an H200, not measured yet). Its numbers go where
# bench/README.md expects them: bench/results/cuda-<time>-quick.json and the
# tables between the bench:cuda markers of bench/README.md. With $OUT set (the device tool), the results file,
# bench/README.md and the log are copied there, so that they come back.
#
# Environment: PYTHON (default python3, the one that has torch there), BENCH_QUICK
# (default 1: one repetition, few batches; 0 for the full run, about 3x longer),
# BENCH_DATA (default ../shared/data/cifar10-test; 2,000 random PNGs when absent,
# which is the case on the device machine unless a copy is carried).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 BENCH_DEVICE=cuda BENCH_QUICK="${BENCH_QUICK:-1}"
PYTHON="${PYTHON:-python3}"
LOG="${OUT:-/tmp}/bench-gpu.log"

nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader \
    | tee "$LOG" || true
PYTHONPATH=src "$PYTHON" -c 'from ganzo.hardware import hardware; print(hardware("cuda").describe())' \
    | tee -a "$LOG"
"$PYTHON" bench/run.py 2>&1 | tee -a "$LOG"
if [ -n "${OUT:-}" ]; then
    cp "$(ls -t bench/results/cuda-*.json | head -n 1)" bench/README.md "$OUT/"
fi
