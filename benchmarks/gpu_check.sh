#!/usr/bin/env bash
# GPU check: the CUDA tests and the GPU benchmarks in one command, every step under a time
# limit (8 minutes in all on a GPU). Results: at most 5 JSON files directly in OUT_DIR:
# gpu_check.json (the card, the kit, each step's exit status, seconds and log tail, the
# headline figures) and one per benchmark. Full logs go to a temporary folder (printed).
#
#   benchmarks/gpu_check.sh OUT_DIR                       # CUDA machine with this checkout's .venv
#   benchmarks/gpu_check.sh OUT_DIR --kit .gpu_kit        # offline node: its own python3 + the kit
#   benchmarks/gpu_check.sh OUT_DIR --device cpu [--kit K]  # dry run: every Python part, tiny sizes
#
# --kit DIR (benchmarks/gpu_kit.sh builds it; docs/gpu.md): installs the kit's wheels into a
# temporary folder with `pip install --no-index --no-deps --target` and runs everything on the
# node's own python ($PYTHON, else python3), never on a .venv; the code under test is this
# checkout's (first on PYTHONPATH), the kit's installed hfc_det is checked to import on its own.
# Steps: (0) kit_install, kit_import (with --kit); (1) cuda_tests: the suite's CUDA tests;
# (2) bench_eval: random-init RetinaNet-R50-FPN at 800x1333, detectron2's loop vs ours,
# N = 1 4 8, float32 and bf16 --amp; (3) bench_amp: the AP difference under bf16 autocast on
# the demo detector (the kit's weights/demo_detector.pth, else --weights FILE, else the newest
# output/demo model; skipped without one); (4) bench_frequency: the split on the device;
# (5) cifar_epoch: one CIFAR-10-sized ResNet-18 epoch with 4 tracked radii, synthetic data
# (target: <= 10 s on an H100-class GPU). A failing step is recorded and the others still
# run; the exit status is non-zero when any step failed.
set -u
usage="usage: benchmarks/gpu_check.sh OUT_DIR [--device cuda|cpu] [--kit DIR] [--weights FILE] [--time-limit S]"
[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || { echo "$usage" >&2; exit 2; }
OUT=$1; shift
DEVICE=cuda; KIT=; WEIGHTS=; LIMIT=
while [ $# -gt 0 ]; do
    case $1 in
        --device|--kit|--weights|--time-limit)
            [ $# -ge 2 ] || { echo "error: $1 needs a value; $usage" >&2; exit 2; }
            case $1 in --device) DEVICE=$2 ;; --kit) KIT=$2 ;; --weights) WEIGHTS=$2 ;; --time-limit) LIMIT=$2 ;; esac
            shift 2 ;;
        *) echo "error: unknown argument $1; $usage" >&2; exit 2 ;;
    esac
done
case $DEVICE in cuda|cpu) ;; *) echo "error: --device must be cuda or cpu, got '$DEVICE'" >&2; exit 2 ;; esac
# 8 minutes on a GPU node (the check is one command of a short GPU session); the CPU dry run is slower
LIMIT=${LIMIT:-$([ "$DEVICE" = cuda ] && echo 480 || echo 1800)}
case $LIMIT in ''|*[!0-9]*) echo "error: --time-limit must be whole seconds, got '$LIMIT'" >&2; exit 2 ;; esac
if [ -n "$KIT" ] && [ ! -f "$KIT/kit.json" ]; then
    echo "error: --kit $KIT is not a kit (no kit.json); build one with benchmarks/gpu_kit.sh" >&2; exit 2
fi
if [ -n "$WEIGHTS" ] && [ ! -f "$WEIGHTS" ]; then echo "error: --weights: no such file: $WEIGHTS" >&2; exit 2; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -z "$KIT" ] && [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python
else PY=python3; fi
mkdir -p "$OUT" || { echo "error: cannot create output folder $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
[ -z "$KIT" ] || KIT=$(cd "$KIT" && pwd)
if [ -z "$WEIGHTS" ]; then
    if [ -n "$KIT" ] && [ -f "$KIT/weights/demo_detector.pth" ]; then WEIGHTS=$KIT/weights/demo_detector.pth
    else WEIGHTS=$(ls -t "$ROOT"/output/demo/model_*/model_final.pth 2>/dev/null | head -1); fi
fi
cd "$ROOT"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
LOGS=$WORK/logs; mkdir -p "$LOGS"
# a result left from an earlier run must not pass for this one's
rm -f "$OUT"/{gpu_check,eval_$DEVICE,amp_$DEVICE,frequency_$DEVICE,cifar_epoch_$DEVICE}.json
STARTED=$(date +%s)
RESERVE=15  # seconds kept for the summary

FAILED=0
: > "$WORK/steps.tsv"
step() {  # step NAME BUDGET_S COMMAND...: run under min(budget, time left), log, record exit status and seconds
    local name=$1 budget=$2; shift 2
    local left=$(( LIMIT - RESERVE - ($(date +%s) - STARTED) ))
    [ "$budget" -le "$left" ] || budget=$left
    if [ "$budget" -lt 5 ]; then
        echo "== $name: skipped, the time limit (${LIMIT} s) is spent"
        printf '%s\t%s\t%s\t%s\n' "$name" 124 0 "no time left" >> "$WORK/steps.tsv"; FAILED=1; return 1
    fi
    echo "== $name (at most ${budget} s): $*"
    local t0=$(date +%s%N)
    timeout -k 10 "$budget" "$@" > "$LOGS/$name.log" 2>&1
    local rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local note=; [ $rc -ne 124 ] && [ $rc -ne 137 ] || note="stopped at its ${budget} s limit"
    echo "   exit $rc, $((ms / 1000)).$(printf %03d $((ms % 1000))) s ${note:+($note) }(log: $LOGS/$name.log)"
    [ $rc -eq 0 ] || { FAILED=1; tail -5 "$LOGS/$name.log" | sed 's/^/   | /'; }
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$ms" "$note" >> "$WORK/steps.tsv"
    return $rc
}
skip() {  # skip NAME REASON
    echo "== $1: skipped, $2"; printf '%s\t%s\t%s\t%s\n' "$1" "" 0 "skipped: $2" >> "$WORK/steps.tsv"
}

if [ -n "$KIT" ]; then
    SITE=$WORK/site
    # the kit's wheels only, nothing from an index: what an offline node can do
    if ! step kit_install 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --disable-pip-version-check --target "$SITE" "$KIT"/wheels/*.whl; then
        echo "error: the kit did not install on $PY (built for another Python or platform?); nothing else can run" >&2
        "$PY" "$ROOT/benchmarks/gpu_check_summary.py" "$OUT" "$DEVICE" "$WORK" "$KIT" "$LIMIT" "$(( $(date +%s) - STARTED ))"
        exit 1
    else
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
        # the installed hfc_det on its own, from another folder (not this checkout)
        step kit_import 60 bash -c "cd '$WORK' && '$PY' '$ROOT/benchmarks/kit_import_check.py' '$WORK/kit_import.json'"
    fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if [ "$DEVICE" = cuda ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "error: torch sees no CUDA device; run with --device cpu for a dry run of the Python parts" >&2
    rm -rf "$WORK"; exit 2
fi

if [ "$DEVICE" = cpu ]; then
    echo "dry run on CPU: the CUDA tests skip (no CUDA device), bench_eval leaves out --amp (CUDA only), sizes are tiny"
fi
if [ "$DEVICE" = cuda ]; then EVAL=(--images 16 --batch-sizes 1 4 8 --amp); AMP=(--images 100)
    CIFAR=(--train-size 50000 --track-size 10000); FREQ=()
else EVAL=(--images 1 --min-size 128 --batch-sizes 1 2); AMP=(--images 2)
    CIFAR=(--train-size 200 --track-size 100); FREQ=(--repeat 1); fi
step cuda_tests 150 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py "tests/views/test_frequency.py::test_cuda_matches_cpu"
step bench_eval 120 "$PY" benchmarks/bench_eval.py --device "$DEVICE" "${EVAL[@]}" --output "$OUT/eval_$DEVICE.json"
if [ -n "$WEIGHTS" ]; then
    step bench_amp 75 "$PY" benchmarks/bench_amp.py --device "$DEVICE" --weights "$WEIGHTS" "${AMP[@]}" \
        --shapes-root "$WORK/shapes" --output "$OUT/amp_$DEVICE.json"
else
    skip bench_amp "no demo detector (benchmarks/gpu_kit.sh carries one; or --weights FILE, or make demo)"
fi
step bench_frequency 45 "$PY" benchmarks/bench_frequency.py --device "$DEVICE" "${FREQ[@]}" --output "$OUT/frequency_$DEVICE.json"
step cifar_epoch 60 "$PY" benchmarks/bench_cifar.py --device "$DEVICE" --epoch-only "${CIFAR[@]}" --output "$OUT/cifar_epoch_$DEVICE.json"

"$PY" "$ROOT/benchmarks/gpu_check_summary.py" "$OUT" "$DEVICE" "$WORK" "${KIT:-}" "$LIMIT" "$(( $(date +%s) - STARTED ))" \
    || FAILED=1
echo "wrote $OUT/gpu_check.json (full logs: $LOGS)"
exit $FAILED
