#!/usr/bin/env bash
# The 2026-11-30 2spirals sweep (benchmarks/README.md): eight runs of the reference circuit on one shared
# GPU, larger batches and higher peak rates than the first reproduction runs, 5,000 steps each (a
# quarter of the reference's), in three legs of about 8 minutes. One process and one thread each.
# Run from the repository root with python3 holding torch (CUDA), torchdiffeq, scikit-learn, safetensors:
#   bash benchmarks/generative_2spirals_legs.sh 1 490 && bash benchmarks/generative_2spirals_legs.sh 2 490 \
#     && bash benchmarks/generative_2spirals_legs.sh 3 480
# Leg 1 starts every run; legs 2 and 3 resume each from the state the one before left in $STATE.
set -u
leg=$1 limit=$2 STATE=${STATE:-/tmp/kstate2}
mkdir -p "$STATE"
init=(); [ "$leg" -gt 1 ] && init=(--init "$STATE")
runs=(g7:4096:7e-3 g10:4096:1e-2 h7:8192:7e-3 h10:8192:1e-2 h14:8192:1.4e-2
      k10:16384:1e-2 k14:16384:1.4e-2 k20:16384:2e-2)
for r in "${runs[@]}"; do IFS=: read -r tag batch lr <<< "$r"
  OMP_NUM_THREADS=1 python3 benchmarks/generative_repro.py --targets 2spirals --lr "$lr" --batch-size "$batch" \
    --steps 5000 --device cuda --tag "_$tag" --threads 1 --time-limit "$limit" --log-every 250 \
    --log-eval-size 2000 --out "$STATE" "${init[@]}" >> "$STATE/log_$tag.txt" 2>&1 &
done
wait
grep -h "^| [a-z0-9]" "$STATE"/log_*.txt | grep -v "| target"
