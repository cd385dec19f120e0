"""benchmarks/gpu_check.sh: its dry run on CPU runs every Python part (tiny sizes) and
writes at most 8 JSON results, no deeper than its output folder; a bad call is a one-line
error; gpu_check_summary.py reads pytest's counts. (The dry run from a kit alone, on
Python 3.12 with torch 2.11, was run by hand: benchmarks/RESULTS.md.)"""
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
                      (("--kit", tmp_path), "usage: benchmarks/gpu_check.sh OUT_DIR"),
                      ((tmp_path, "--device", "tpu"), "--device must be cuda or cpu"),
                      ((tmp_path, "--fast"), "unknown argument --fast"),
                      ((tmp_path, "--kit"), "--kit needs a value"),
                      ((tmp_path, "--kit", tmp_path / "nokit"), "is not a kit (no kit.json)"),
                      ((tmp_path, "--weights", tmp_path / "none.pth"), "--weights: no such file"),
                      ((tmp_path, "--time-limit", "8m"), "--time-limit must be whole seconds")]:
        proc = _run(*args)
        assert proc.returncode == 2 and msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_kit_script_bad_calls_are_one_line_errors(tmp_path):
    kit = ROOT / "benchmarks" / "gpu_kit.sh"
    for args, msg in [((tmp_path / "kit", "--weights"), "--weights needs a value"),
                      ((tmp_path / "kit", "--fast"), "unknown argument --fast")]:
        proc = subprocess.run(["bash", str(kit), *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=ENV)
        assert proc.returncode == 2 and msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "kit").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA machine runs the real check")
def test_cuda_run_without_cuda_says_so(tmp_path):
    proc = _run(tmp_path / "out")
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr and "--device cpu" in proc.stderr


def test_pytest_counts_from_the_summary_line():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpu_check_summary import pytest_counts

    log = "....s\nSKIPPED [1] tests/test_gpu.py: no CUDA device\n3 passed, 2 skipped, 1 deselected in 4.10s\n"
    assert pytest_counts(log) == {"passed": 3, "skipped": 2, "deselected": 1}
    assert pytest_counts("1 failed, 7 passed, 1 error in 2s") == {"failed": 1, "passed": 7, "error": 1}
    assert pytest_counts("ERROR: file or directory not found") == {}


@pytest.mark.slow
def test_dry_run_on_cpu_runs_every_python_part(tmp_path):
    import torch

    from hfc_det.config import get_cfg
    from hfc_det.evaluation.run import build_eval_model

    # the demo detector, random init, as the kit carries it ({"model": state_dict})
    state = build_eval_model(get_cfg("demo/retinanet_R18_FPN_shapes", ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"]))
    torch.save({"model": state.state_dict()}, tmp_path / "demo.pth")
    out = tmp_path / "check"
    proc = _run(out, "--device", "cpu", "--weights", tmp_path / "demo.pth")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["cuda_tests", "bench_eval", "bench_amp", "bench_frequency",
                                                     "cifar_epoch"]
    assert all(s["exit"] == 0 and s["seconds"] > 0 for s in summary["steps"]) and summary["all_steps_passed"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8 and all(p.suffix == ".json" and p.parent == out for p in files), files
    evaluation = json.loads((out / "eval_cpu.json").read_text())
    assert [r["run"] for r in evaluation["rows"]] == ["baseline_detectron2", "ours_original", "ours_all_views_N1",
                                                      "ours_all_views_N2"]
    assert summary["eval"]["ours_original_vs_baseline_time"] > 0
    assert summary["cuda_tests"].get("skipped", 0) >= 1  # no CUDA here: the CUDA tests skip, they do not fail
    assert summary["amp"]["n_images"] == 2 and summary["amp"]["max_abs_coco_ap_difference"] >= 0
    assert json.loads((out / "frequency_cpu.json").read_text())["rows"]
    assert summary["cifar_epoch"]["full_cifar10_epoch_seconds_extrapolated"] > 0
