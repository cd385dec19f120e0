"""tools/eval_lfc.py end to end on the tiny fixture (random RetinaNet-R50 on CPU), and its
one-line errors. Results are checked against pycocotools run on the written detections."""
import contextlib
import csv
import io
import json
import math
import os

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from helpers import eval_runs
from helpers.coco_fixture import make_coco_fixture
from helpers.eval_runs import FAST, fixture_and_reference, load_tool, reference_process
from hfc_det.metrics.tide_errors import tide_available
from helpers.coco_reference import reference_strict

VIEWS = ["original", "low_r8", "high_r8", "noise_r8"]
MEASURES = (("coco", "ap_", ""), ("strict", "ap_strict_", "_strict"))


def run_tool(*args):
    return eval_runs.run_tool(*args, check=False)


def cocoeval(coco_gt, dets, img_ids):
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        e.params.imgIds = img_ids
        e.evaluate(), e.accumulate(), e.summarize()
    return e.stats


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # the run the resume and distributed tests compare with (made once per session)
    (json_file, image_root), out = fixture_and_reference(tmp_path_factory)
    return reference_process(tmp_path_factory), out, json_file, image_root


def test_output_contract(run):
    proc, out, json_file, image_root = run
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(json_file)
    readable = sorted(i for i, im in coco_gt.imgs.items() if im["file_name"] != "corrupt.jpg")
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["variants"]) == VIEWS and summary["views"] == VIEWS
    assert summary["radii"] == [8] and summary["filter_stage"] == "before_resize"
    assert summary["hfc_scaling"] == "none" and summary["weights"] == ""
    assert summary["config_file"].endswith("configs/retinanet_R50_FPN.yaml")
    assert summary["coco_backend"] == "faster-coco-eval"  # the default, a dependency
    assert summary["dataset"]["json_file"] == json_file and summary["dataset"]["image_root"] == image_root
    assert {"torch", "detectron2", "pycocotools", "hfc_det"} <= set(summary["versions"])
    assert [s["file_name"].rsplit("/", 1)[-1] for s in summary["skipped"]] == ["corrupt.jpg"]
    assert summary["num_images"] == len(readable)

    rows = list(csv.DictReader((out / "per_image_ap.csv").open()))
    assert list(rows[0]) == ["image_id", "file_name"] + [f"ap_{v}" for v in VIEWS] + [f"ap_strict_{v}" for v in VIEWS]
    assert [int(r["image_id"]) for r in rows] == readable
    for view in VIEWS:
        dets = json.loads((out / "detections" / f"{view}.json").read_text())
        assert dets and {tuple(sorted(d)) for d in dets} == {("bbox", "category_id", "image_id", "score")}
        assert {d["image_id"] for d in dets} <= set(readable)
        assert {d["category_id"] for d in dets} <= set(coco_gt.getCatIds())
        # overall metrics: pycocotools on the written detections, over the evaluated images
        stats = cocoeval(coco_gt, dets, readable)
        for k, m in enumerate(["AP", "AP50", "AP75", "APs", "APm", "APl"]):
            got = summary["variants"][view][m]
            assert (stats[k] < 0 and got is None) or abs(got - 100 * stats[k]) < 1e-9
        # per-image AP: pycocotools once per image; strict: once per image and category
        coco_dt = coco_gt.loadRes(dets)
        for r in rows:
            s = cocoeval(coco_gt, dets, [int(r["image_id"])])[0]
            got = float(r[f"ap_{view}"])
            assert (s == -1 and math.isnan(got)) or abs(got - s) < 1e-9
            want = reference_strict(coco_gt, coco_dt, int(r["image_id"]), summary["strict_score"])
            got = float(r[f"ap_strict_{view}"])
            assert (math.isnan(want) and math.isnan(got)) or abs(got - want) < 1e-9
    for view in VIEWS[1:]:
        gl = list(csv.DictReader((out / "gain_loss" / f"{view}.csv").open()))
        assert sorted(int(g["image_id"]) for g in gl) == readable
        diffs = [float(g["difference"]) for g in gl]
        defined = [d for d in diffs if not math.isnan(d)]
        assert defined == sorted(defined, reverse=True) and all(math.isnan(d) for d in diffs[len(defined):])
        by_id = {int(r["image_id"]): r for r in rows}
        for measure, column, suffix in MEASURES:
            counts = {"gain": 0, "loss": 0, "tie": 0, "undefined": 0}
            for g in gl:
                a0 = float(by_id[int(g["image_id"])][f"{column}original"])
                a1 = float(by_id[int(g["image_id"])][f"{column}{view}"])
                want = ("undefined" if math.isnan(a0) or math.isnan(a1) else
                        "gain" if a1 > a0 else "loss" if a1 < a0 else "tie")
                assert g[f"outcome{suffix}"] == want
                assert float(g[f"{column}{view}"]) == a1 or math.isnan(a1)
                counts[want] += 1
            assert summary["per_image"][view][measure] == counts
            paired = summary["paired"][view][measure]
            assert (paired["gains"], paired["losses"], paired["ties"]) == (counts["gain"], counts["loss"], counts["tie"])
            assert paired["n"] == counts["gain"] + counts["loss"] + counts["tie"]
    assert summary["controls"] == {"low_r8": "noise_r8", "high_r8": "noise_r8"}
    if tide_available():  # the breakdown of each view's detections as written
        from hfc_det.metrics.tide_errors import tide_errors

        assert set(summary["errors"]) == set(VIEWS)
        for view in VIEWS:
            dets = json.loads((out / "detections" / f"{view}.json").read_text())
            arrays = {}
            for d in dets:
                arrays.setdefault(d["image_id"], []).append([*d["bbox"], d["score"], d["category_id"]])
            want = tide_errors(coco_gt, {view: {i: np.array(a) for i, a in arrays.items()}}, readable)[view]
            assert summary["errors"][view] == want
    assert not list(out.rglob("*.tmp-*"))  # no half-written files left behind
    assert "AP50" in proc.stdout and "low_r8" in proc.stdout and "1 skipped" in proc.stdout
    assert "corrupt.jpg" in proc.stderr


def one_line_error(argv, capsys):
    """Run the tool's cli in-process; return its one-line error (it must exit non-zero)."""
    with pytest.raises(SystemExit) as exc:
        load_tool().cli(argv)
    message = str(exc.value.code)
    assert exc.value.code not in (0, None) and "\n" not in message.strip()
    return message


def test_missing_annotation_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.json"
    proc = run_tool("--dataset-json", missing, "--image-root", tmp_path, "--output", tmp_path / "o", *FAST)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and str(missing) in last


def test_user_mistakes(tmp_path, capsys):
    json_file, image_root = make_coco_fixture(tmp_path)
    data = ["--dataset-json", json_file, "--image-root", image_root, "--output", str(tmp_path / "o")]
    msg = one_line_error(["--config", "no_such_config", *data, *FAST], capsys)
    assert "no_such_config" in msg and "retinanet_R50_FPN" in msg
    assert "--max-images" in one_line_error([*data, "--max-images", "0", *FAST], capsys)
    assert "--save-every" in one_line_error([*data, "--save-every", "0", *FAST], capsys)
    assert "SMOOTH_RHO" in one_line_error([*data, "--smooth-rho", "-1", *FAST], capsys)
    for bad in ("-0.1", "1.5", "nan"):
        assert "--strict-score must be a number in [0, 1]" in one_line_error([*data, "--strict-score", bad, *FAST], capsys)
    assert "HFC.STRICT_SCORE" in one_line_error([*data, *FAST, "HFC.STRICT_SCORE", "2.0"], capsys)
    msg = one_line_error([*data, *FAST, "HFC.VIEWS", "['original', 'noise']", "HFC.RADII", "[]"], capsys)
    assert "HFC.RADII is empty" in msg and "noise" in msg
    assert "NO.SUCH_KEY" in one_line_error([*data, *FAST, "NO.SUCH_KEY", "1"], capsys)
    msg = one_line_error([*data, *FAST, "MODEL.WEIGHTS", str(tmp_path / "w.pkl")], capsys)
    assert str(tmp_path / "w.pkl") in msg
    assert "image folder" in one_line_error(["--dataset-json", json_file, "--image-root", str(tmp_path / "x"), *FAST], capsys)
    msg = one_line_error([*data, *FAST, "MODEL.RETINANET.NUM_CLASSES", "3"], capsys)
    assert "80 categories" in msg
    msg = one_line_error(["--dataset", "coco_2017_val", *FAST], capsys)
    assert "instances_val2017.json" in msg
    import torch

    if not torch.cuda.is_available():
        assert "MODEL.DEVICE cpu" in one_line_error([*data, *FAST, "MODEL.DEVICE", "cuda"], capsys)


def test_radius_list_then_overrides():
    args = load_tool().parse_args(["--radius", "8", "16.5", "MODEL.DEVICE", "cpu"])
    assert args.radius == [8.0, 16.5] and args.opts == ["MODEL.DEVICE", "cpu"]
    with pytest.raises(SystemExit):
        load_tool().parse_args(["--radius", "MODEL.DEVICE", "cpu"])


def test_views_list_then_overrides(capsys):
    args = load_tool().parse_args(["--views", "original", "band_r8-16", "blur_s2", "MODEL.DEVICE", "cpu",
                                   "--radius", "4", "MODEL.WEIGHTS", ""])
    assert args.views == ["original", "band_r8-16", "blur_s2"] and args.radius == [4.0]
    pairs = {tuple(args.opts[k:k + 2]) for k in range(0, len(args.opts), 2)}
    assert len(args.opts) == 4 and pairs == {("MODEL.WEIGHTS", ""), ("MODEL.DEVICE", "cpu")}


def test_bad_views_are_one_line_errors(tmp_path, capsys):
    json_file, image_root = make_coco_fixture(tmp_path)
    data = ["--dataset-json", json_file, "--image-root", image_root, "--output", str(tmp_path / "o")]
    assert "0 <= a < b" in one_line_error([*data, "--views", "original", "band_r16-8", *FAST], capsys)
    assert "sigma must be > 0" in one_line_error([*data, "--views", "blur_s-1", *FAST], capsys)
    assert "unknown view 'mid_r3'" in one_line_error([*data, "--views", "mid_r3", *FAST], capsys)


def test_band_and_blur_views_end_to_end(tmp_path):
    json_file, image_root = make_coco_fixture(tmp_path)
    out = tmp_path / "out"
    proc = run_tool("--dataset-json", json_file, "--image-root", image_root, "--output", out,
                    "--max-images", "2", "--views", "original", "band_r4-16", "blur_s2", "--no-progress", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["views"] == ["original", "band_r4-16", "blur_s2"]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(json_file)
    ids = sorted(coco_gt.imgs)[:2]
    for view in ("band_r4-16", "blur_s2"):
        dets = json.loads((out / "detections" / f"{view}.json").read_text())
        assert (out / "gain_loss" / f"{view}.csv").is_file()
        if dets:  # a random-init model may find nothing on a band: then AP is 0 or undefined
            stats = cocoeval(coco_gt, dets, ids)
            got = summary["variants"][view]["AP"]
            assert (stats[0] < 0 and got is None) or abs(got - 100 * stats[0]) < 1e-9


def test_file_without_annotations(tmp_path):
    json_file, image_root = make_coco_fixture(tmp_path, annotations=False)
    out = tmp_path / "out"
    proc = run_tool("--dataset-json", json_file, "--image-root", image_root, "--output", out,
                    "--max-images", "2", "--radius", "16", "--no-progress", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert all(v is None for view in summary["variants"].values() for v in view.values())
    assert summary["per_image"]["low_r16"]["coco"] == {"gain": 0, "loss": 0, "tie": 0, "undefined": 2}
    # strict: 0 where an image holds a detection >= T (of a category it cannot have), else undefined
    strict = summary["per_image"]["low_r16"]["strict"]
    assert strict["gain"] == strict["loss"] == 0 and strict["tie"] + strict["undefined"] == 2
    assert "nan" in proc.stdout


def test_settings_round_trip_through_the_command_line():
    """EvalSettings.from_args reads every option of the parser, and command_line gives the
    arguments that parse back to the same settings."""
    import argparse
    import dataclasses

    from hfc_det.cli.eval_lfc_parser import build_parser, parse_args
    from hfc_det.evaluation.command import EvalSettings, command_line

    s = EvalSettings(config="c.yaml", config_file="d.yaml", overrides=("MODEL.DEVICE", "cpu"), radii=(8.0, 16.5),
                     views=("original", "band_r8-16"), dataset="coco_2017_val", dataset_json="a.json",
                     image_root="imgs", output="o", max_images=3, filter_stage="after_resize", hfc_scaling="max",
                     smooth_rho=0.5, strict_score=0.25, save_every=7, fresh=True, coco_backend="pycocotools",
                     error_breakdown=False, images_per_batch=2, amp=True, progress=False)
    argv = command_line(s)
    parsed = EvalSettings.from_args(parse_args(argv))
    assert parsed == dataclasses.replace(s, config_file="")  # --config-file is not written, --config is
    assert EvalSettings.from_args(parse_args([])) == EvalSettings()  # the same defaults
    assert command_line(EvalSettings()) == ["--config", "retinanet_R50_FPN", "--output", "output/eval_lfc"]

    read = set()

    class Recording(argparse.Namespace):
        def __getattribute__(self, name):
            read.add(name)
            return super().__getattribute__(name)

    EvalSettings.from_args(build_parser().parse_args([], namespace=Recording()))
    launch_options = {"help", "num_gpus", "num_machines", "machine_rank", "dist_url"}
    assert {a.dest for a in build_parser()._actions} - launch_options <= read


def test_a_run_takes_its_log_handlers_off_again():
    """A process that evaluates twice (the demo, the texture experiment) must not print each
    line twice or write it into the first run's log.txt; earlier handlers keep their level."""
    import logging
    import sys

    from hfc_det.evaluation.command import _run_logging

    logger = logging.getLogger("detectron2")
    before = list(logger.handlers)
    earlier = logging.StreamHandler(sys.stdout)
    earlier.setLevel(logging.DEBUG)
    logger.addHandler(earlier)
    try:
        with _run_logging():
            assert earlier not in logger.handlers  # the run's terminal handler is the only one
            earlier.setLevel(logging.WARNING)  # what setup_run does to every terminal handler
            logger.addHandler(logging.StreamHandler(sys.stdout))
            logger.addHandler(logging.FileHandler(os.devnull))
        assert logger.handlers == before + [earlier] and earlier.level == logging.DEBUG
    finally:
        logger.removeHandler(earlier)
