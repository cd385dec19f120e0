"""Cue-conflict metrics against COCOeval run directly on hand-relabelled ground truth."""
import contextlib
import io
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from hfc_det.experiments.cue_conflict import cue_conflict_metrics, texture_reliance

K = 5


def _conflict_gt(rng, n_images=12):
    images, anns = [], []
    for image_id in range(1, n_images + 1):
        images.append({"id": image_id, "width": 128, "height": 128, "file_name": f"{image_id}.png"})
        for j in range(2):
            shape = int(rng.integers(1, K + 1))
            texture = int(rng.choice([c for c in range(1, K + 1) if c != shape]))
            x, y = 10 + 60 * j + rng.uniform(0, 10), rng.uniform(10, 60)
            w, h = rng.uniform(15, 40, 2)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": shape, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0, "texture_category_id": texture})
    return {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in range(1, K + 1)]}


def _direct(gt, dets, key, tmp_path):
    """COCOeval from a json file whose category_id is the annotations' ``key`` field."""
    relabelled = dict(gt, annotations=[{k: v for k, v in a.items() if k != "texture_category_id"} | {"category_id": a[key]}
                                       for a in gt["annotations"]])
    path = tmp_path / f"gt_{key}.json"
    path.write_text(json.dumps(relabelled))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return 100 * ev.stats[0], 100 * ev.stats[1]


def _detections(gt, rng, follow_texture):
    dets = []
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        jitter = rng.normal(0, 2, 4)
        label = a["texture_category_id"] if follow_texture(a) else a["category_id"]
        dets.append({"image_id": a["image_id"], "category_id": label, "score": float(rng.uniform(0.3, 1)),
                     "bbox": [x + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3]]})
        # a false positive of a random class
        dets.append({"image_id": a["image_id"], "category_id": int(rng.integers(1, K + 1)),
                     "score": float(rng.uniform(0, 0.6)), "bbox": [float(v) for v in rng.uniform(0, 90, 4) + [0, 0, 10, 10]]})
    return dets


def test_shape_and_texture_followers_give_index_0_and_1():
    rng = np.random.default_rng(0)
    gt = _conflict_gt(rng)
    exact = lambda label: [{"image_id": a["image_id"], "category_id": a[label], "score": 0.9, "bbox": a["bbox"]}  # noqa: E731
                           for a in gt["annotations"]]
    shape = cue_conflict_metrics(gt, exact("category_id"))
    texture = cue_conflict_metrics(gt, exact("texture_category_id"))
    assert shape["shape"]["AP"] == pytest.approx(100) and shape["texture"]["AP50"] == pytest.approx(0)
    assert shape["texture_reliance"] == 0
    assert texture["texture"]["AP"] == pytest.approx(100) and texture["shape"]["AP50"] == pytest.approx(0)
    assert texture["texture_reliance"] == 1


@pytest.mark.parametrize("p_texture", [0.0, 0.3, 0.8])
def test_metrics_match_cocoeval_on_hand_relabelled_ground_truth(tmp_path, p_texture):
    rng = np.random.default_rng(int(p_texture * 10))
    gt = _conflict_gt(rng)
    dets = _detections(gt, rng, lambda a: rng.random() < p_texture)
    gt_file, dets_file = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_file.write_text(json.dumps(gt))
    dets_file.write_text(json.dumps(dets))
    got = cue_conflict_metrics(str(gt_file), str(dets_file))  # from files, as the tool calls it
    shape_ap, shape_ap50 = _direct(gt, dets, "category_id", tmp_path)
    tex_ap, tex_ap50 = _direct(gt, dets, "texture_category_id", tmp_path)
    assert got["shape"]["AP"] == pytest.approx(shape_ap, abs=1e-9)
    assert got["shape"]["AP50"] == pytest.approx(shape_ap50, abs=1e-9)
    assert got["texture"]["AP"] == pytest.approx(tex_ap, abs=1e-9)
    assert got["texture"]["AP50"] == pytest.approx(tex_ap50, abs=1e-9)
    assert got["texture_reliance"] == pytest.approx(tex_ap50 / (shape_ap50 + tex_ap50))
    assert got["images"] == 12
    assert json.loads(gt_file.read_text()) == gt  # the ground truth file is not changed


def test_texture_reliance_edge_cases():
    assert texture_reliance(30.0, 10.0) == pytest.approx(0.25)
    assert math.isnan(texture_reliance(0.0, 0.0))
