#!/usr/bin/env bash
# scripts/bench/gpu.sh — the one-command GPU check of issue 9: on a GPU host, after `npm ci` (and the
# CUDA provider install of docs/bundles.md "GPU hosts"), it builds the SD-1.5-sized benchmark bundle
# locally, runs a short extraction on CUDA (else WebGPU) and prints it/s, the GPU-idle share and the
# projected wall time for 275 concepts × 50 steps. No network at run time. Where no GPU provider
# loads it says what is missing and how to install it, and exits 3 without timing the CPU.
# The work is scripts/bench/gpu.ts; GPU_BENCH_DEVICE, GPU_BENCH_CONCEPTS, GPU_BENCH_STEPS, GPU_BENCH_BATCH tune it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -d node_modules/onnxruntime-node ] || [ ! -d node_modules/tsx ]; then
  echo "bench:gpu: node_modules is missing: run npm ci first (it needs the npm registry; the benchmark itself needs no network)." >&2
  exit 2
fi
exec node --import tsx scripts/bench/gpu.ts "$@"
