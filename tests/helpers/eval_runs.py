"""Shared by the resume and distributed tests: tools/eval_lfc.py runs on the tiny fixture
(random-init RetinaNet-R50 on CPU, small input size) and the outputs to compare.

The uninterrupted one-process run is made once per test session and reused.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.coco_fixture import make_coco_fixture

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "eval_lfc.py"
FAST = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "96",
        "INPUT.MAX_SIZE_TEST", "160", "DATALOADER.NUM_WORKERS", "0"]
# The reference run's views: every kind, the control included, so that the resume and
# distributed tests cover it too.
ALL_VIEWS = ["HFC.VIEWS", "['original', 'low', 'high', 'noise']"]
# Passive OpenMP threads: spinning ones make CPU inference many times slower on a busy machine.
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}

_SESSION = {}


def tool_args(data, output, *extra):
    """eval_lfc.py arguments for the fixture ``data = (json_file, image_root)``."""
    json_file, image_root = data
    return ["--dataset-json", json_file, "--image-root", image_root, "--output", str(output),
            "--radius", "8", "--no-progress", *map(str, extra), *FAST, *ALL_VIEWS]


def run_tool(*args, check=True):
    proc = subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=ENV)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def load_tool(module_name: str = "eval_lfc_tool"):
    """tools/eval_lfc.py as a module (its ``cli``, ``main``, ``parse_args``), in this process."""
    spec = importlib.util.spec_from_file_location(module_name, TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_and_reference(tmp_path_factory):
    """``(data, reference_output_dir)``: the fixture (with a corrupt image) and one
    uninterrupted one-process run on it, saving every 2 images. Made once per session."""
    if "reference" not in _SESSION:
        root = tmp_path_factory.mktemp("eval_reference")
        data = make_coco_fixture(root, corrupt_image=True)
        out = root / "reference"
        _SESSION["reference_process"] = run_tool(*tool_args(data, out, "--save-every", 2))
        _SESSION["reference"] = (data, out)
    return _SESSION["reference"]


def reference_process(tmp_path_factory):
    """The ``CompletedProcess`` (stdout, stderr) of the reference run."""
    fixture_and_reference(tmp_path_factory)
    return _SESSION["reference_process"]


def comparable_outputs(out: Path) -> dict:
    """Everything in an output folder that must not depend on how the run got there:
    detections, per-image AP, gain/loss lists, and the summary's results."""
    summary = json.loads((out / "summary.json").read_text())
    return {
        "detections": {p.name: p.read_text() for p in sorted((out / "detections").glob("*.json"))},
        "per_image_ap": (out / "per_image_ap.csv").read_text(),
        "gain_loss": {p.name: p.read_text() for p in sorted((out / "gain_loss").glob("*.csv"))},
        "summary": {k: summary[k] for k in ("variants", "per_image", "paired", "controls", "num_images", "skipped",
                                             "views", "radii", "strict_score", "errors", "fingerprint") if k in summary},
    }
