"""benchmarks/gpu_check.sh: its dry run on CPU runs every Python part (tiny sizes) and
writes the JSON results; a bad call is a one-line error."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
ENV = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "2"}


def _run(*args):
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=ENV)


def test_bad_calls_are_one_line_errors(tmp_path):
    for args, msg in [((), "usage: benchmarks/gpu_check.sh OUT_DIR"),
                      ((tmp_path, "--device", "tpu"), "--device must be cuda or cpu"),
                      ((tmp_path, "--fast"), "unknown argument --fast")]:
        proc = _run(*args)
        assert proc.returncode == 2 and msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA machine runs the real check")
def test_cuda_run_without_cuda_says_so(tmp_path):
    proc = _run(tmp_path / "out")
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr and "--device cpu" in proc.stderr


@pytest.mark.slow
def test_dry_run_on_cpu_runs_every_python_part(tmp_path):
    out = tmp_path / "check"
    proc = _run(out, "--device", "cpu")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["cuda_tests", "bench_eval", "bench_frequency", "cifar_epoch"]
    assert all(s["exit"] == 0 and s["seconds"] > 0 for s in summary["steps"])
    evaluation = json.loads((out / "eval_cpu.json").read_text())
    assert [r["run"] for r in evaluation["rows"]] == ["baseline_detectron2", "ours_original", "ours_all_views_N1",
                                                      "ours_all_views_N2"]
    assert summary["eval"]["ours_original_vs_baseline_time"] > 0
    assert json.loads((out / "frequency_cpu.json").read_text())["rows"]
    assert summary["cifar_epoch"]["full_cifar10_epoch_seconds_extrapolated"] > 0
