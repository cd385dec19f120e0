"""benchmarks/bench_amp.py (float32 against bf16 autocast) on a tiny demo setup, on the CPU:
its JSON against pycocotools run on the detections it wrote, view by view and image by image,
and bad input as one line and exit 2."""
import contextlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from helpers.coco_reference import reference_ap
from helpers.demo_settings import TINY

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_amp.py"
CONFIG = "demo/retinanet_R18_FPN_shapes"
N_IMAGES = 3
# four val images, three evaluated: "the first N" is exercised
OVERRIDES = TINY + ["SHAPES.NUM_VAL", "4"]


def run_bench(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, check=False, timeout=300)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The demo detector, random init, its classifier bias at 0 (scores ~0.5: every image gets
    detections, whose ranking bf16's rounding can change). A {"model": state_dict} file, as
    the GPU kit carries."""
    import torch

    from hfc_det.config import get_cfg
    from hfc_det.evaluation.run import build_eval_model

    cfg = get_cfg(CONFIG, OVERRIDES + ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"])
    state = build_eval_model(cfg).state_dict()
    state["head.cls_score.bias"].zero_()
    path = tmp_path_factory.mktemp("amp_weights") / "model.pth"
    torch.save({"model": state}, path)
    return path


@pytest.fixture(scope="module")
def run(weights, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("amp")
    proc = run_bench("--weights", weights, "--device", "cpu", "--images", N_IMAGES, "--shapes-root", tmp / "shapes",
                     "--output", tmp / "amp.json", "--detections", tmp / "dets", *OVERRIDES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    gt_json = next((tmp / "shapes").glob("*/instances_val.json"))
    return json.loads((tmp / "amp.json").read_text()), tmp / "dets", gt_json, proc.stdout


def _cocoeval(gt, dets, image_ids):
    """pycocotools on ``image_ids`` -> (stats, {image_id: AP in [0, 1] or NaN})."""
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        e = COCOeval(gt, dt, "bbox")
        e.params.imgIds = image_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats, {i: reference_ap(gt, dt, i) for i in image_ids}


def _close(a, b, tol=1e-9):
    return (a is None and b is None) or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def test_json_matches_pycocotools_on_its_detections(run):
    result, dets_dir, gt_json, stdout = run
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_json))
    image_ids = sorted(gt.getImgIds())[:N_IMAGES]  # detectron2 loads a COCO json by sorted image id
    assert result["device"] == "cpu" and result["n_images"] == N_IMAGES
    assert list(result["views"]) == ["original", "low_r16", "high_r16"]
    n_changed = 0
    for view, entry in result["views"].items():
        per_image = {}
        for precision in ("float32", "bf16"):
            dets = json.loads((dets_dir / f"{precision}_{view}.json").read_text())
            assert {d["image_id"] for d in dets} <= set(image_ids)
            assert entry[precision]["detections"] == len(dets) > 0
            stats, per_image[precision] = _cocoeval(gt, dets, image_ids)
            for k, metric in enumerate(("AP", "AP50", "AP75")):
                assert _close(entry[precision][metric], stats[k] * 100), (view, precision, metric)
        for metric in ("AP", "AP50", "AP75"):
            assert entry["difference"][metric] == entry["bf16"][metric] - entry["float32"][metric]
        assert not any(math.isnan(per_image[p][i]) for p in per_image for i in image_ids)  # every image has objects
        diffs = [abs(per_image["bf16"][i] - per_image["float32"][i]) * 100 for i in image_ids]
        changed = sum(per_image["bf16"][i] != per_image["float32"][i] for i in image_ids)
        got = entry["per_image_ap"]
        assert got["images_changed"] == changed, view
        assert _close(got["mean_abs_difference"], sum(diffs) / len(diffs)), view
        assert _close(got["max_abs_difference"], max(diffs)), view
        n_changed += changed
        assert view in stdout  # the printed table
    assert result["max_abs_coco_ap_difference"] == max(abs(e["difference"]["AP"]) for e in result["views"].values())
    assert n_changed > 0  # bf16 did change something: the comparison is not vacuous
    for key in ("seconds", "model_seconds"):
        assert set(result[key]) == {"float32", "bf16"} and min(result[key].values()) > 0
    for ratio, key in (("bf16_vs_float32_time", "seconds"), ("bf16_vs_float32_model_time", "model_seconds")):
        # the ratio is rounded to 3 decimals, the seconds to microseconds
        assert result[ratio] == pytest.approx(result[key]["bf16"] / result[key]["float32"], rel=1e-3, abs=6e-4)
    assert result["machine"]["cpu_count"] >= 1


@pytest.mark.parametrize("args, needle", [
    (["--weights", "{tmp}/missing.pth"], "weights file not found"),
    (["--weights", "{weights}", "--images", "0"], "--images"),
    (["--weights", "{weights}", "--images", "many"], "--images"),
    (["--weights", "{weights}", "--radius", "-4"], "--radius"),
    (["--weights", "{weights}", "SHAPES.NUM_VAL"], "KEY VALUE"),
    (["--images", "3"], "no --weights and no make demo model"),  # run where no output/demo is
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")  # these checks come before the file is read
    proc = run_bench(*[a.format(tmp=tmp_path, weights=weights) for a in args], cwd=tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]


def test_weights_that_do_not_fit_are_one_line_and_exit_2(tmp_path):
    import torch

    bad = tmp_path / "other.pth"
    torch.save({"model": {"some.tensor": torch.zeros(3)}}, bad)
    proc = run_bench("--weights", bad, "--device", "cpu", "--images", 1, "--shapes-root", tmp_path / "shapes", *OVERRIDES)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith("error:") and str(bad) in lines[0], lines[0]
    assert not (tmp_path / "shapes").exists()  # refused before making the data
