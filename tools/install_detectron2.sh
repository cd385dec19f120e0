#!/usr/bin/env bash
# Install detectron2 into a Python environment, online or offline.
#
# usage: tools/install_detectron2.sh [PYTHON]     (default: .venv/bin/python)
#        tools/install_detectron2.sh --python-sources DIR [PYTHON]
#
# The second form installs nothing: it puts route (c)'s `detectron2/` package in DIR/detectron2
# and its dependencies, one per line, in DIR/requirements.txt (the offline kit,
# tools/offline_kit.py, carries them to a node without network). PYTHON (default: python3)
# only runs pip there; it needs no torch.
#
# detectron2 is not on PyPI. In order:
#  (a) already importable: nothing to do;
#  (b) the official way: a source build from detectron2's GitHub repository (compiled ops
#      included), tried only when the repository answers within a short time-out;
#  (c) offline fallback: PyPI's `pb1-detectron2==0.6` source archive, pinned by sha256. It
#      holds upstream detectron2 v0.6's Python sources unchanged but not its C++ sources, so
#      `pip install pb1-detectron2` fails while compiling. We unpack its `detectron2/`
#      package into the venv, add a .pth file, and install its pure-Python dependencies.
#      hfc_det/compat.py makes that install work with today's Pillow/setuptools and without
#      the compiled ops.
set -euo pipefail

SOURCES_DIR=
if [ "${1:-}" = --python-sources ]; then
    [ -n "${2:-}" ] || { echo "install_detectron2: --python-sources needs a folder" >&2; exit 2; }
    SOURCES_DIR=$2
    shift 2
fi
D2_REPO=https://github.com/facebookresearch/detectron2.git
D2_FALLBACK=pb1-detectron2==0.6
D2_FALLBACK_SHA256=5d2e9e51e523ec72f6a31cca04b0a515492e9514b773a3d134cedc0677170b29
D2_DEPS=("fvcore>=0.1.5,<0.1.6" "iopath>=0.1.7,<0.1.10" "omegaconf>=2.1,<2.4" "hydra-core>=1.1"
         "yacs>=0.1.8" "termcolor>=1.1" tabulate cloudpickle "tqdm>4.29.0" matplotlib
         "pycocotools>=2.0.2" "Pillow>=7.1" tensorboard)

# Route (c)'s archive: downloaded with a private pip 24.0 (pip >= 25 refuses it, its metadata
# names a direct-URL extra), checked against its sha256 and unpacked into $work.
fetch_fallback_sources() {  # fetch_fallback_sources PYTHON WORK
    local py=$1 work=$2
    "$py" -m pip install -q --target "$work/pip24" "pip==24.0"
    # --no-build-isolation: the download never builds the archive, so no torch is needed.
    PYTHONPATH="$work/pip24" "$py" -m pip download -q --no-deps --no-binary :all: \
        --no-build-isolation -d "$work" "$D2_FALLBACK"
    local archive
    archive=$(ls "$work"/pb1-detectron2-0.6.tar.gz)
    echo "$D2_FALLBACK_SHA256  $archive" | sha256sum -c --quiet -
    tar -xzf "$archive" -C "$work"
}

if [ -n "$SOURCES_DIR" ]; then
    PY=${1:-python3}
    mkdir -p "$SOURCES_DIR"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    fetch_fallback_sources "$PY" "$work"
    rm -rf "$SOURCES_DIR/detectron2"
    cp -r "$work/pb1-detectron2-0.6/detectron2" "$SOURCES_DIR/"
    printf '%s\n' "${D2_DEPS[@]}" > "$SOURCES_DIR/requirements.txt"
    echo "install_detectron2: detectron2 0.6 Python sources in $SOURCES_DIR/detectron2"
    exit 0
fi

PY=${1:-.venv/bin/python}

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "install_detectron2: torch must be installed in $PY first" >&2
    exit 1
fi

if "$PY" -c 'import detectron2' 2>/dev/null; then
    echo "install_detectron2: detectron2 already importable, nothing to do"
    exit 0
fi

site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

if [ "${HFC_DET_OFFLINE:-0}" != 1 ] && command -v git >/dev/null \
   && GIT_TERMINAL_PROMPT=0 timeout 20 git ls-remote --exit-code "$D2_REPO" HEAD >/dev/null 2>&1; then
    echo "install_detectron2: building detectron2 from source ($D2_REPO)"
    if "$PY" -m pip install --no-build-isolation "git+$D2_REPO"; then
        exit 0
    fi
    echo "install_detectron2: source build failed, using the Python-only fallback" >&2
fi

echo "install_detectron2: offline fallback: $D2_FALLBACK Python sources without compiled ops"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch_fallback_sources "$PY" "$work"

# Unpacked next to the venv's site-packages (not inside it, so pip never mistakes it for a
# distribution); written to a temp name first, so an interrupted run leaves nothing usable.
dest="$site/../hfc_det-detectron2-0.6"
rm -rf "$dest.tmp" "$dest"
mkdir -p "$dest.tmp"
cp -r "$work/pb1-detectron2-0.6/detectron2" "$dest.tmp/"
mv "$dest.tmp" "$dest"
(cd "$dest" && pwd) > "$site/hfc_det_detectron2.pth"

"$PY" -m pip install -q "${D2_DEPS[@]}"
"$PY" -c 'import hfc_det.compat, detectron2.modeling, detectron2.evaluation; print("install_detectron2: detectron2", __import__("detectron2").__version__, "ready (compiled ops:", hfc_det.compat.HAS_COMPILED_OPS, ")")'
