"""`make demo`'s pipeline (hfc_det.experiments.demo.run_demo) end to end on tiny settings:
data -> training -> evaluation -> (report), checked against pycocotools on the written
detections; and tools/demo.py's one-line errors."""
import contextlib
import csv
import importlib.util
import io
import json
import logging
import os

import pytest

pytest.importorskip("detectron2")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

from helpers.demo_settings import TINY  # noqa: E402
from hfc_det.experiments.demo import run_demo  # noqa: E402

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
    # and a small COCO-C set: one corruption per family at severity 3 (the report's Corruptions section)
    corrupted = [f"corrupt_{c}_s3" for c in ("gaussian_noise", "defocus_blur", "fog", "jpeg_compression")]
    views += corrupted
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    assert [v for v in summary["robustness"]["per_corruption"]] == [c[8:-3] for c in corrupted]
    assert os.path.isfile(os.path.join(out, "corruption_spectra.png"))
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
    assert demo["views"] == summary["variants"] and demo["summary"] == os.path.join(out, "summary.json")
    for view in ("original", f"low_r{radii[0]}"):  # the summary's AP is pycocotools' on the detections
        dets = json.load(open(os.path.join(out, "detections", f"{view}.json")))
        if dets:
            with contextlib.redirect_stdout(io.StringIO()):
                e = COCOeval(gt, gt.loadRes(dets), "bbox")
                e.evaluate(), e.accumulate(), e.summarize()
            assert summary["variants"][view]["AP"] == pytest.approx(100 * e.stats[0], abs=1e-6)
    return demo


def test_demo_runs_end_to_end_without_report(tmp_path, capsys):
    import torch

    out = str(tmp_path / "demo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see test_train_smoke.one_thread: fastest on a busy shared CPU
    try:
        returned = run_demo(output=out, radii=[16], overrides=TINY, report=False)
    finally:
        torch.set_num_threads(threads)
    demo = _check_outputs(out, [16])
    assert returned == demo
    assert demo["model_cached"] is False and demo["report"] is None
    assert demo["overrides"] == list(TINY) and demo["radii"] == [16]
    assert demo["config"] == "demo/retinanet_R18_FPN_shapes"
    assert demo["model_dir"].startswith(out)  # the cache defaults to the output folder
    printed = capsys.readouterr().out
    assert "[demo] evaluate views: eval_lfc.py --config demo/retinanet_R18_FPN_shapes" in printed
    assert "--fresh" in printed and "[demo] report skipped (--no-report)" in printed
    assert f"results in {os.path.abspath(out)}" in printed  # the evaluation's own table and path


@pytest.mark.slow
def test_demo_rerun_reuses_data_and_model_and_writes_report(tmp_path):
    out, cache = str(tmp_path / "demo"), str(tmp_path / "cache")
    run_demo(output=out, cache=cache, radii=[8, 16], overrides=TINY)
    first = _check_outputs(out, [8, 16])
    handlers = {name: list(logging.getLogger(name).handlers) for name in ("detectron2", "hfc_det", "fvcore")}
    train_json = first["dataset"]["train"]
    mtime = os.stat(train_json).st_mtime_ns
    # the tool, as `make demo` runs it, in the same process
    _demo().main(["--output", out, "--cache", cache, "--radius", "8", "16", *TINY])
    second = _check_outputs(out, [8, 16])
    assert second["model_cached"] is True and second["model_dir"] == first["model_dir"]
    assert second["model_dir"].startswith(cache)
    assert os.stat(train_json).st_mtime_ns == mtime
    assert second["report"] == os.path.join(out, "report", "index.html") and os.path.isfile(second["report"])
    # each evaluation's log handlers are taken off again: none piles up run after run
    assert {name: list(logging.getLogger(name).handlers) for name in handlers} == handlers
    # the evaluation's log of the second run is in its own log.txt
    assert open(os.path.join(out, "log.txt")).read().count("Full config saved to") == 2


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


def test_run_demo_refuses_bad_values_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="--max-images must be at least 1, got 0"):
        run_demo(output=str(tmp_path), max_images=0)
    with pytest.raises(ValueError, match="--radius values must be positive"):
        run_demo(output=str(tmp_path), radii=[8, 0])
    assert not os.listdir(tmp_path)
