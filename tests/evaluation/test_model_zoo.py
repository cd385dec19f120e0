"""Any detectron2 detector through eval_lfc: model-zoo names (yacs and LazyConfig), LazyConfig
paths, every box-producing meta-architecture end to end on the fixture images, and the zoo's
weight resolution (no download).

Each detector is built from its zoo config with reduced sizes (ResNet-18 or a thin ResNet-50,
64 px test images, few proposals, score threshold 0 so that a random model detects something)
and randomly initialised; its summary's AP is checked against pycocotools run on the written
detections. ViTDet and MViTv2 need the official source's ``projects/`` (and a detectron2 with
their backbones): the tests find it in ``$DETECTRON2_SOURCE`` or next to the installed package.
"""
import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


import hfc_det.compat  # noqa: F401  (before any detectron2 import)
import detectron2

FAST = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96",
        "DATALOADER.NUM_WORKERS", "0"]
R18 = ["MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"]
RCNN = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "MODEL.RPN.POST_NMS_TOPK_TEST", "30",
        "TEST.DETECTIONS_PER_IMAGE", "20"]
LAZY_FAST = ["train.device=cpu", "train.init_checkpoint=", "dataloader.test.mapper.augmentations.0.short_edge_length=64",
             "dataloader.test.mapper.augmentations.0.max_size=96", "DATALOADER.NUM_WORKERS=0"]
LAZY_RCNN = ["model.roi_heads.box_predictor.test_score_thresh=0.0", "model.roi_heads.box_predictor.test_topk_per_image=20",
             "model.proposal_generator.post_nms_topk=[30,30]"]

#: (id, --config, overrides, config system): every box-producing meta-architecture
DETECTORS = [
    ("retinanet", "zoo:COCO-Detection/retinanet_R_50_FPN_1x", [*FAST, *R18, "MODEL.RETINANET.SCORE_THRESH_TEST", "0.0",
                                                               "MODEL.RETINANET.TOPK_CANDIDATES_TEST", "50"], "yacs"),
    ("faster_rcnn_fpn", "zoo:COCO-Detection/faster_rcnn_R_50_FPN_1x", [*FAST, *R18, *RCNN], "yacs"),
    ("faster_rcnn_c4", "zoo:COCO-Detection/faster_rcnn_R_50_C4_1x.yaml", [*FAST, *R18, *RCNN], "yacs"),
    # a dilated res5 needs bottleneck blocks: a thin ResNet-50
    ("faster_rcnn_dc5", "zoo:COCO-Detection/faster_rcnn_R_50_DC5_1x",
     [*FAST, *RCNN, "MODEL.RESNETS.WIDTH_PER_GROUP", "8", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"], "yacs"),
    ("mask_rcnn", "zoo:COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x", [*FAST, *R18, *RCNN], "yacs"),
    ("cascade_rcnn", "zoo:Misc/cascade_mask_rcnn_R_50_FPN_1x", [*FAST, *R18, *RCNN], "yacs"),
    ("fcos_lazy", "zoo:COCO-Detection/fcos_R_50_FPN_1x",
     [*LAZY_FAST, "model.test_score_thresh=0.0", "model.test_topk_candidates=50"], "lazy"),
    ("retinanet_lazy", "zoo:COCO-Detection/retinanet_R_50_FPN_1x.py",
     [*LAZY_FAST, "model.test_score_thresh=0.0", "model.test_topk_candidates=50"], "lazy"),
    ("mask_rcnn_lsj_lazy", "zoo:new_baselines/mask_rcnn_R_50_FPN_100ep_LSJ", [*LAZY_FAST, *LAZY_RCNN], "lazy"),
]


def _projects_dir():
    """The official detectron2 source's ``projects/``: ``$DETECTRON2_SOURCE/projects`` or next to
    the installed package (a source checkout); None where neither exists."""
    for root in (os.environ.get("DETECTRON2_SOURCE"), Path(detectron2.__file__).parents[1]):
        if root and (Path(root) / "projects" / "ViTDet").is_dir():
            return Path(root) / "projects"
    return None


def _projects_config(relative: str, module: str):
    projects = _projects_dir()
    if projects is None:
        pytest.skip(f"needs the official detectron2 source's projects/ (ViTDet, MViTv2 configs): this route "
                    f"(detectron2 at {Path(detectron2.__file__).parent}) has none; set DETECTRON2_SOURCE to a checkout")
    try:
        __import__(module)
    except ImportError:
        pytest.skip(f"the installed detectron2 ({detectron2.__file__}) has no {module}: the official source has")
    pytest.importorskip("timm", reason=f"{module} builds its blocks from timm, which is not installed")
    return str(projects / relative)


#: LazyConfig paths under the official source's projects/ (skipped where the route lacks them)
PROJECT_DETECTORS = [
    ("vitdet_mask_rcnn", "ViTDet/configs/COCO/mask_rcnn_vitdet_b_100ep.py", "detectron2.modeling.backbone.vit",
     ["train.device=cpu", "train.init_checkpoint=", "model.backbone.net.embed_dim=32", "model.backbone.net.depth=2",
      "model.backbone.net.num_heads=2", "model.backbone.net.window_block_indexes=[0]", "model.backbone.net.img_size=128",
      "model.backbone.square_pad=128", "dataloader.test.mapper.augmentations.0.short_edge_length=128",
      "dataloader.test.mapper.augmentations.0.max_size=128", "DATALOADER.NUM_WORKERS=0", *LAZY_RCNN]),
    ("mvitv2_mask_rcnn", "MViTv2/configs/mask_rcnn_mvitv2_t_3x.py", "detectron2.modeling.backbone.mvit",
     [*LAZY_FAST, "model.backbone.bottom_up.embed_dim=16", "model.backbone.bottom_up.depth=4",
      "model.backbone.bottom_up.last_block_indexes=[0,1,2,3]", *LAZY_RCNN]),
]


def evaluate(tool, data, out, config, overrides, options=()):
    """tools/eval_lfc.py's main in this process on 2 fixture images; returns summary.json."""
    json_file, image_root = data
    argv = ["--config", config, "--dataset-json", json_file, "--image-root", image_root, "--output", str(out),
            "--radius", "8", "--views", "original", "low", "--max-images", "2", "--no-progress",
            "--no-error-breakdown", *options, *overrides]
    tool.main(tool.parse_args(argv))
    return json.loads((Path(out) / "summary.json").read_text())


def assert_ap_is_pycocotools(summary, out, json_file):
    """Every view's AP in summary.json is pycocotools' on the written detections."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(json_file)
    ids = [int(r.split(",")[0]) for r in (Path(out) / "per_image_ap.csv").read_text().splitlines()[1:]]
    for view, metrics in summary["variants"].items():
        dets = json.loads((Path(out) / "detections" / f"{view}.json").read_text())
        assert dets, f"{view}: no detection (a score threshold 0 model must detect something)"
        with contextlib.redirect_stdout(io.StringIO()):
            e = COCOeval(gt, gt.loadRes(dets), "bbox")
            e.params.imgIds = ids
            e.evaluate(), e.accumulate(), e.summarize()
        assert abs(metrics["AP"] - 100 * e.stats[0]) < 1e-9 and abs(metrics["AP50"] - 100 * e.stats[1]) < 1e-9


def check_run(summary, out, data, config, system):
    fingerprint = json.loads((Path(out) / "run_fingerprint.json").read_text())
    assert summary["config_system"] == system and fingerprint["config_source"]["system"] == system
    if config.startswith("zoo:"):
        assert fingerprint["config_source"]["file"].startswith(config) and summary["config_name"].startswith(config)
    assert os.path.isfile(summary["config_file"]) and summary["weights"] == ""
    assert list(summary["variants"]) == ["original", "low_r8"]
    assert_ap_is_pycocotools(summary, out, data[0])


@pytest.mark.parametrize("name,config,overrides,system", DETECTORS, ids=[d[0] for d in DETECTORS])
def test_meta_architecture_end_to_end(tool, data, tmp_path, name, config, overrides, system):
    summary = evaluate(tool, data, tmp_path / name, config, overrides)
    check_run(summary, tmp_path / name, data, config, system)


@pytest.mark.parametrize("name,relative,module,overrides", PROJECT_DETECTORS, ids=[d[0] for d in PROJECT_DETECTORS])
def test_projects_lazyconfig_path(tool, data, tmp_path, name, relative, module, overrides):
    config = _projects_config(relative, module)
    summary = evaluate(tool, data, tmp_path / name, config, overrides)
    check_run(summary, tmp_path / name, data, config, "lazy")
    assert summary["config_file"] == config


def test_every_hfc_option_with_a_lazyconfig(tool, data, tmp_path):
    """The tool's HFC options and an upper-case HFC key reach a LazyConfig run."""
    out = tmp_path / "options"
    json_file, image_root = data
    argv = ["--config", "zoo:COCO-Detection/retinanet_R_50_FPN_1x.py", "--dataset-json", json_file,
            "--image-root", image_root, "--output", str(out), "--radius", "8", "16", "--views", "original", "high",
            "noise", "--max-images", "2", "--no-progress", "--no-error-breakdown", "--filter-stage", "after_resize",
            "--hfc-scaling", "max", "--smooth-rho", "0.1", "--images-per-batch", "2",
            *LAZY_FAST, "model.test_score_thresh=0.0", "model.test_topk_candidates=50", "HFC.STRICT_SCORE=0.3"]
    tool.main(tool.parse_args(argv))
    s = json.loads((out / "summary.json").read_text())
    assert s["views"] == ["original", "high_r8", "high_r16", "noise_r8", "noise_r16"] and s["radii"] == [8, 16]
    assert (s["filter_stage"], s["hfc_scaling"], s["smooth_rho"], s["strict_score"], s["images_per_batch"]) == \
        ("after_resize", "max", 0.1, 0.3, 2)
    assert s["input_size"] == {"min_size_test": 64, "max_size_test": 96, "format": "BGR"}
    assert s["lazy_overrides"][:2] == ["train.device=cpu", "train.init_checkpoint="]
    # the same command resumes (same fingerprint), another LazyConfig override does not
    tool.main(tool.parse_args(argv))
    with pytest.raises(ValueError, match="different config"):
        tool.main(tool.parse_args(argv + ["model.test_nms_thresh=0.4"]))
