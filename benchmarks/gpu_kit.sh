#!/usr/bin/env bash
# The GPU check's offline kit: tools/offline_kit.py for this project's GPU nodes (Python 3.12,
# their own torch, no network; benchmarks/gpu_node_packages.txt lists what they have), with the
# demo detector's weights for bench_amp.py. Run here (the package index must answer), then on
# the node: benchmarks/gpu_check.sh OUT_DIR --kit KIT_DIR (docs/gpu.md).
#
#   benchmarks/gpu_kit.sh [KIT_DIR] [--weights FILE] [--node-packages FILE]
#
# KIT_DIR: default .gpu_kit (git ignores it). --weights: default the newest make demo model
# (output/demo/model_*/model_final.pth); `make demo` trains one (about 9 minutes on 2 cores).
# The kit must stay under 64 MiB (what the GPU machines take in one run); it prints its list.
set -euo pipefail
usage="usage: benchmarks/gpu_kit.sh [KIT_DIR] [--weights FILE] [--node-packages FILE]"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIT=.gpu_kit; WEIGHTS=; NODE=$ROOT/benchmarks/gpu_node_packages.txt
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then KIT=$1; shift; fi
while [ $# -gt 0 ]; do
    case $1 in
        --weights|--node-packages)
            [ $# -ge 2 ] || { echo "error: $1 needs a value; $usage" >&2; exit 2; }
            if [ "$1" = --weights ]; then WEIGHTS=$2; else NODE=$2; fi
            shift 2 ;;
        *) echo "error: unknown argument $1; $usage" >&2; exit 2 ;;
    esac
done
if [ -z "$WEIGHTS" ]; then
    WEIGHTS=$(ls -t "$ROOT"/output/demo/model_*/model_final.pth 2>/dev/null | head -1 || true)
    [ -n "$WEIGHTS" ] || { echo "error: no demo detector in output/demo: run make demo first (about 9 minutes on 2 cores), or pass --weights FILE" >&2; exit 2; }
fi
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python
else PY=python3; fi
exec "$PY" "$ROOT/tools/offline_kit.py" "$KIT" --python-version 3.12 --node-packages "$NODE" \
    --weights "$WEIGHTS:demo_detector" --max-mib 64
