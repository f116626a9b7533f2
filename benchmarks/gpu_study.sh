#!/usr/bin/env bash
# The GPU study in one go, for a machine with an NVIDIA GPU (written for the H200 machine: JAX with
# CUDA 13, NumPyro and torch with CUDA preinstalled). In order:
#   1. bench run --suite bnn --device gpu --seeds 1
#   2. bench run --suite bnn --device cpu --seeds 1
#   3. bench scale on both devices (sizes 1e3..1e6, widths 4, 32, 256; the three VI methods, and
#      numpyro.nuts per gradient evaluation at N = 1e3), sizes run most informative first, steps by
#      N (200 up to 1e4, down to 10 at 1e6: the CPU's 1e6-point steps take a second each)
#   4. the report (Markdown and CSV) and the scale figure
# into $OUT (default results/gpu-study). Every phase has a deadline (timeout sends SIGTERM: bench
# keeps every finished cell, and `bench scale` still prints its table and draws its figure), so the
# whole script ends inside BUDGET_S seconds (default 480) whatever the machine's speed; a command
# still alive GRACE_S after its SIGTERM (a driver waiting on a long cell) is killed, and step 4
# rebuilds the tables and the figure from the store, where every finished cell already is. Every cell
# gets THREADS threads (default: all cores), so the CPU side is the whole CPU, not one core of it.
#
#   OUT=/tmp/out bash benchmarks/gpu_study.sh
#   DEVICES=cpu SIZES=1e3,1e4 WIDTHS=4 BNN_S=60 BUDGET_S=240 OUT=/tmp/out bash benchmarks/gpu_study.sh  # its CPU half, tiny
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu-study}
PY=${PYTHON:-python}
BUDGET_S=${BUDGET_S:-480}
DEVICES=${DEVICES:-gpu,cpu}            # the bnn runs in this order; bench scale measures both at each size
SIZES=${SIZES:-1e6,1e3,1e5,1e4,3e5,3e4}  # the two claims first (GPU >= 10x at 1e6, CPU wins at ~1e3), then the bracket
WIDTHS=${WIDTHS:-4,32,256}
BNN_S=${BNN_S:-100}                    # deadline of each bnn run
THREADS=${THREADS:-$(nproc)}
GRACE_S=${GRACE_S:-15}                 # after a deadline's SIGTERM, SIGKILL
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT/figures"
STORE="$OUT/bench.sqlite"
START=$(date +%s)
left() { echo $(( BUDGET_S - ($(date +%s) - START) )); }
say() { echo "[gpu_study $(( $(date +%s) - START ))s] $*" | tee -a "$OUT/log.txt"; }

# 0. What the machine has: the GPU, the frameworks' own view of it, missing wheels.
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/nvidia-smi.txt" 2>&1
nvidia-smi >> "$OUT/nvidia-smi.txt" 2>&1
if [ -d shared/wheels ]; then  # ArviZ, BlackJAX, PyMC may travel as wheels: install the missing ones, offline
    for module in arviz blackjax typer rich sklearn; do
        $PY -c "import $module" 2>/dev/null || $PY -m pip install -q --no-index --find-links shared/wheels \
            "$( [ $module = sklearn ] && echo scikit-learn || echo $module )" >> "$OUT/log.txt" 2>&1
    done
fi
$PY -m bench env --json > "$OUT/env.json" 2>&1
# The VI methods whose backend is importable here (a missing one would stop the plan with exit 2).
METHODS=$($PY - <<'EOF'
import importlib.util
needs = {"numpyro.svi:auto_normal": ("numpyro",), "blackjax.meanfield_vi": ("blackjax", "numpyro"),
         "torch.vi": ("torch",), "numpyro.nuts": ("numpyro",)}
print(",".join(m for m, mods in needs.items() if all(importlib.util.find_spec(x) for x in mods)))
EOF
)
say "methods: $METHODS"

# 1-2. The bnn suite on the GPU, then on the CPU (about a minute each on a fast machine).
for device in ${DEVICES//,/ }; do
    say "bench run --suite bnn --device $device"
    timeout -k "$GRACE_S" -s TERM "$BNN_S" $PY -m bench run --suite bnn --device "$device" --seeds 1 --threads "$THREADS" \
        --store "$STORE" --tag "bnn-$device" --no-compile-cache > "$OUT/bnn-$device.txt" 2>&1
    say "exit $? ($(tail -n 1 "$OUT/bnn-$device.txt"))"
done

# 3. The scale study: both devices at each size before the next size; N = 1e6 and 1e3 first (the
#    two claims: the GPU >= 10x faster at 1e6, the CPU faster at the seed's N ~ 1e3), then the
#    sizes that place the crossover. 2 repeats; steps by N (bench.studies.scale.steps_at): time per step
#    is what is measured, and 100 CPU steps at 1e6 points would spend the whole budget on one size.
SCALE_S=$(( $(left) - 45 - GRACE_S ))
say "bench scale (deadline ${SCALE_S}s)"
timeout -k "$GRACE_S" -s TERM "$SCALE_S" $PY -m bench scale --devices "$DEVICES" --sizes "$SIZES" --widths "$WIDTHS" \
    --methods "$METHODS" --nuts-max-n 1e3 --repeats 2 --threads "$THREADS" --store "$STORE" \
    --out "$OUT/figures" --format both --no-compile-cache > "$OUT/scale.txt" 2>&1
say "exit $?"

# 4. Tables and figures from the store.
$PY -m bench report --store "$STORE" > "$OUT/report.md" 2>&1
$PY -m bench report --store "$STORE" --format csv --out "$OUT/report.csv" >> "$OUT/log.txt" 2>&1
timeout 30 $PY -m bench plot --kind scale --store "$STORE" --out "$OUT/figures" --format both >> "$OUT/log.txt" 2>&1
say "done: $OUT (report.md, scale.txt, figures/scale.png)"
tail -n 40 "$OUT/scale.txt"
sed -n '/^## scale/,$p' "$OUT/report.md" | head -n 40  # the study's table from the store, even after a kill
