#!/usr/bin/env bash
# The 2026-11-30 reproduction runs (benchmarks/README.md): 15 runs (5 targets x 3 settings) trained in
# three legs of about 8 minutes, one process and one thread each, on a 16-core machine with one GPU.
# Run from the repository root with python3 holding torch, torchdiffeq, scikit-learn and safetensors:
#   bash benchmarks/generative_legs.sh 1 490 && bash benchmarks/generative_legs.sh 2 500 && bash benchmarks/generative_legs.sh 3 470
# Leg 1 starts every run; legs 2 and 3 resume each from the state the one before left in $STATE.
# Leg 3 shortens some plans (--steps) so their cosine decay ends inside the device time that was left.
set -u
leg=$1 limit=$2 STATE=${STATE:-/tmp/kstate}
mkdir -p "$STATE"
init=(); [ "$leg" -gt 1 ] && init=(--init "$STATE")
go() {  # tag target lr batch steps device
  OMP_NUM_THREADS=1 python3 benchmarks/generative_repro.py --targets "$2" --lr "$3" --batch-size "$4" \
    --steps "$5" --device "$6" --tag "$1" --threads 1 --time-limit "$limit" --log-every 250 \
    --log-eval-size 2000 --out "$STATE" "${init[@]}" >> "$STATE/log$1_$2.txt" 2>&1 &
}
if [ "$leg" -lt 3 ]; then steps=(moons:10000:10000:10000 circles:12000:12000:12000 pinwheel:5000:5000:5000
                               2spirals:5000:5000:5000 swissroll:12000:12000:12000)
else steps=(moons:8000:8000:10000 circles:4750:6500:7250 pinwheel:5000:5000:5000
            2spirals:5000:5000:5000 swissroll:5600:6000:9800); fi
for s in "${steps[@]}"; do IFS=: read -r t a b g <<< "$s"
  go _a "$t" 5e-3 512 "$a" cpu; go _b "$t" 3e-3 512 "$b" cpu; go _g "$t" 5e-3 4096 "$g" cuda
done
wait
grep -h "^| [a-z0-9]" "$STATE"/log*.txt | grep -v "| target"
