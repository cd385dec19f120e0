#!/usr/bin/env bash
# GPU check: the CUDA tests and the GPU benchmarks in one go (about 5 minutes on one GPU),
# from a fresh copy of the working tree with the venv carried along. Results as JSON in
# OUT_DIR: one JSON file per benchmark, a log per step, and gpu_check.json with the card,
# every step's exit status and seconds, and the targets' figures.
#
#   benchmarks/gpu_check.sh OUT_DIR                # on a CUDA machine
#   benchmarks/gpu_check.sh OUT_DIR --device cpu   # dry run: every Python part at tiny sizes
#
# Steps: (1) the suite's CUDA tests (frequency split on CUDA against CPU, evaluation on
# MODEL.DEVICE cuda batched and with --amp, train_cifar.py --device cuda --amp);
# (2) bench_eval.py at a reduced size (random-init RetinaNet-R50-FPN at 800x1333 on the
# fixture's photos, detectron2's loop vs ours, N = 1 4 8, float32 and --amp);
# (3) bench_frequency.py on the device; (4) one CIFAR-10-sized ResNet-18 epoch with 4
# tracked radii on synthetic data (target: <= 10 s on an H100-class GPU).
# Python: $PYTHON, else .venv/bin/python, else python3. A failing step is recorded and the
# others still run; the exit status is non-zero when any step failed.
set -u
usage="usage: benchmarks/gpu_check.sh OUT_DIR [--device cuda|cpu]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
OUT=$1; shift
DEVICE=cuda
while [ $# -gt 0 ]; do
    case $1 in
        --device) DEVICE=${2:-}; shift 2 || { echo "$usage" >&2; exit 2; } ;;
        *) echo "error: unknown argument $1; $usage" >&2; exit 2 ;;
    esac
done
case $DEVICE in cuda|cpu) ;; *) echo "error: --device must be cuda or cpu, got '$DEVICE'" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python
else PY=python3; fi
mkdir -p "$OUT" || { echo "error: cannot create output folder $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
cd "$ROOT"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if [ "$DEVICE" = cuda ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: torch sees no CUDA device; run with --device cpu for a dry run of the Python parts" >&2
    exit 2
fi

FAILED=0
: > "$OUT/steps.tsv"
step() {  # step NAME COMMAND...: run, log to OUT/NAME.log, record exit status and seconds
    local name=$1; shift
    echo "== $name: $*"
    local t0=$(date +%s%N)
    "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "   exit $rc, $((ms / 1000)).$(printf %03d $((ms % 1000))) s (log: $OUT/$name.log)"
    [ $rc -eq 0 ] || { FAILED=1; tail -5 "$OUT/$name.log" | sed 's/^/   | /'; }
    printf '%s\t%s\t%s\n' "$name" "$rc" "$ms" >> "$OUT/steps.tsv"
}

if [ "$DEVICE" = cuda ]; then
    step cuda_tests "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py "tests/test_frequency.py::test_cuda_matches_cpu"
    step bench_eval "$PY" benchmarks/bench_eval.py --device cuda --images 16 --batch-sizes 1 4 8 --amp --output "$OUT/eval_cuda.json"
    step bench_frequency "$PY" benchmarks/bench_frequency.py --device cuda --output "$OUT/frequency_cuda.json"
    step cifar_epoch "$PY" benchmarks/bench_cifar.py --device cuda --epoch-only --train-size 50000 --track-size 10000 --output "$OUT/cifar_epoch_cuda.json"
else
    echo "dry run on CPU: the CUDA tests skip (no CUDA device), --amp is left out (CUDA only), sizes are tiny"
    step cuda_tests "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py "tests/test_frequency.py::test_cuda_matches_cpu"
    step bench_eval "$PY" benchmarks/bench_eval.py --device cpu --images 1 --min-size 128 --batch-sizes 1 2 --output "$OUT/eval_cpu.json"
    step bench_frequency "$PY" benchmarks/bench_frequency.py --device cpu --repeat 1 --output "$OUT/frequency_cpu.json"
    step cifar_epoch "$PY" benchmarks/bench_cifar.py --device cpu --epoch-only --train-size 200 --track-size 100 --output "$OUT/cifar_epoch_cpu.json"
fi

"$PY" - "$OUT" "$DEVICE" <<'PYEOF'
import json, sys
from pathlib import Path

out, device = Path(sys.argv[1]), sys.argv[2]
import torch

steps = [dict(zip(("step", "exit", "seconds"), line.split("\t"))) for line in (out / "steps.tsv").read_text().splitlines()]
steps = [{"step": s["step"], "exit": int(s["exit"]), "seconds": int(s["seconds"]) / 1000} for s in steps]
summary = {"device": device, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
           "torch": torch.__version__, "steps": steps}
for name in ("eval", "cifar_epoch"):
    path = out / f"{name}_{device}.json"
    if path.is_file():
        r = json.loads(path.read_text())
        keep = ("ours_original_vs_baseline_time", "all_views_N1_vs_baseline_time", "all_views_best_vs_baseline_time",
                "best_n_float32", "views_per_s_fastest_vs_baseline_images_per_s", "full_cifar10_epoch_seconds_extrapolated",
                "epoch_seconds_measured", "target_full_epoch_seconds_on_h100_class_gpu")
        summary[name] = {k: r[k] for k in keep if k in r}
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary, indent=2))
PYEOF
echo "wrote $OUT/gpu_check.json"
exit $FAILED
