"""tools/demo.py end to end on tiny settings: data -> training -> eval_lfc -> (report)."""
import csv
import importlib.util
import json
import os

import pytest

pytest.importorskip("detectron2")
from pycocotools.coco import COCO  # noqa: E402

from helpers.demo_settings import TINY  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _demo():
    spec = importlib.util.spec_from_file_location("demo", os.path.join(REPO, "tools", "demo.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_outputs(out, radii):
    views = ["original"] + [f"{k}_r{r}" for k in ("low", "high", "noise") for r in radii]
    # and the bands between the radii (the last to twice it) and the blurs of the curves
    views += [f"band_r{a}-{b}" for a, b in zip(radii, radii[1:] + [2 * radii[-1]])] + ["blur_s1", "blur_s2", "blur_s4"]
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    assert set(summary["variants"]) == set(views)
    assert set(summary["per_image"]) == set(views) - {"original"}
    for by_measure in summary["per_image"].values():
        assert set(by_measure) == {"coco", "strict"}
        for counts in by_measure.values():
            assert counts["gain"] + counts["loss"] + counts["tie"] + counts["undefined"] == summary["num_images"]
    with open(os.path.join(out, "demo.json")) as f:
        demo = json.load(f)
    gt = COCO(demo["dataset"]["val"])
    for view in views:
        dets = json.load(open(os.path.join(out, "detections", f"{view}.json")))
        if dets:
            gt.loadRes(dets)  # valid COCO results on the generated val images
    with open(os.path.join(out, "per_image_ap.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == summary["num_images"] == len(gt.getImgIds())
    assert os.path.isfile(os.path.join(demo["model_dir"], "model_final.pth"))
    return demo


def test_demo_runs_end_to_end_without_report(tmp_path):
    import torch

    out = str(tmp_path / "demo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see test_train_smoke.one_thread: fastest on a busy shared CPU
    try:
        _demo().main(["--output", out, "--no-report", "--radius", "16", *TINY])
    finally:
        torch.set_num_threads(threads)
    demo = _check_outputs(out, [16])
    assert demo["model_cached"] is False and demo["report"] is None


@pytest.mark.slow
def test_demo_rerun_reuses_data_and_model_and_writes_report(tmp_path):
    out = str(tmp_path / "demo")
    demo_tool = _demo()
    demo_tool.main(["--output", out, "--radius", "8", "16", *TINY])
    first = _check_outputs(out, [8, 16])
    train_json = first["dataset"]["train"]
    mtime = os.stat(train_json).st_mtime_ns
    demo_tool.main(["--output", out, "--radius", "8", "16", *TINY])
    second = _check_outputs(out, [8, 16])
    assert second["model_cached"] is True and second["model_dir"] == first["model_dir"]
    assert os.stat(train_json).st_mtime_ns == mtime
    if os.path.isfile(os.path.join(REPO, "tools", "visualize_gain_loss.py")):
        assert os.path.isfile(os.path.join(out, "report", "index.html"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-images", "0"], "error: --max-images must be at least 1"),
        (["--radius", "-4"], "error: --radius values must be positive"),
        (["NO.SUCH_KEY", "1"], "error: bad config override: Non-existent key: NO.SUCH_KEY"),
        (["--config", "no_such_config"], "error: unknown config 'no_such_config'"),
    ],
)
def test_demo_user_mistakes_give_one_line_errors(tmp_path, argv, message):
    with pytest.raises(SystemExit) as e:
        _demo().main(["--output", str(tmp_path)] + argv)
    text = str(e.value.code)
    assert text.startswith(message) and "\n" not in text
