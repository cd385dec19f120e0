"""The strict per-image AP against an independent per-image, per-category COCOeval."""
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfc_det.metrics.coco_backends import per_image_ap
from hfc_det.metrics.image_ap import load_results
from hfc_det.metrics.strict_ap import check_strict_score, strict_per_image_ap
from helpers.coco_reference import _as_array, assert_same, make_gt, reference_strict, scenes






def strict(coco_gt, dts, images, score_thresh):
    arr = _as_array(dts)
    coco_dt = load_results(coco_gt, arr)
    return strict_per_image_ap(per_image_ap(coco_gt, coco_dt, images), coco_gt, arr, score_thresh), coco_dt


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0]))
def test_matches_per_category_cocoeval(scene, score_thresh):
    """Random scenes: crowds, images without ground truth or detections, tied scores."""
    images, gts, dts = scene
    coco_gt = make_gt(images, gts)
    got, coco_dt = strict(coco_gt, dts, images, score_thresh)
    assert_same(got, {i: reference_strict(coco_gt, coco_dt, i, score_thresh) for i in images})


def _gt(ann_id, image_id, cat, bbox, crowd=0):
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": bbox,
            "area": bbox[2] * bbox[3], "iscrowd": crowd}


def _dt(image_id, cat, bbox, score):
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": score}


def test_hand_built_case_like_the_issue():
    """Image 1 holds a c1 (think: triangle) and a c5 (circle). On the 'original' each box is
    found, the circle only at a lower score than a wrong c5 box elsewhere; on the 'LFC' the
    triangle is called c9 (a class not in the image) with 0.89 and the circle found cleanly.
    COCOeval's per-image AP rises (the c9 error is free); the strict AP falls."""
    tri, circ = [10, 10, 30, 30], [60, 60, 30, 30]
    coco_gt = make_gt([1], [_gt(1, 1, 1, tri), _gt(2, 1, 5, circ)])
    original = [_dt(1, 1, tri, 0.9), _dt(1, 5, [0, 60, 20, 20], 0.8), _dt(1, 5, circ, 0.7)]
    lfc = [_dt(1, 9, tri, 0.89), _dt(1, 1, tri, 0.3), _dt(1, 5, circ, 0.6)]
    coco_o, strict_o = per_image_ap(coco_gt, load_results(coco_gt, original))[1], strict(coco_gt, original, [1], 0.5)[0][1]
    coco_l, strict_l = per_image_ap(coco_gt, load_results(coco_gt, lfc))[1], strict(coco_gt, lfc, [1], 0.5)[0][1]
    # by hand: original c1 AP 1, c5 AP 0.5 (precision 1/2 at the only recall point) -> 0.75
    assert coco_o == pytest.approx(0.75, abs=1e-2) and strict_o == coco_o
    # LFC: c1 AP 1 (its low-score box still matches), c5 AP 1 -> 1.0: a "gain" under COCOeval
    assert coco_l == pytest.approx(1.0)
    # strict: c9 (absent, 0.89 >= 0.5) counts 0 -> (1 + 1 + 0) / 3: a loss
    assert strict_l == pytest.approx(2 / 3)
    assert coco_l > coco_o and strict_l < strict_o
    # below the threshold the absent class is not counted
    assert strict(coco_gt, lfc, [1], 0.9)[0][1] == coco_l


def test_images_without_ground_truth():
    """No ground truth: COCOeval's AP is undefined; strict is 0 with a detection >= T,
    undefined with none (or only below T); a crowd-only category's detection is no error."""
    coco_gt = make_gt([1, 2, 3, 4], [_gt(1, 1, 1, [0, 0, 10, 10]), _gt(2, 4, 5, [0, 0, 50, 50], crowd=1)])
    dts = [_dt(2, 5, [0, 0, 10, 10], 0.7), _dt(3, 5, [0, 0, 10, 10], 0.2), _dt(4, 5, [0, 0, 50, 50], 0.95)]
    got, coco_dt = strict(coco_gt, dts, [1, 2, 3, 4], 0.5)
    coco_ap = per_image_ap(coco_gt, coco_dt)
    assert coco_ap[1] == 0.0 and all(math.isnan(coco_ap[i]) for i in (2, 3, 4))
    assert got[1] == 0.0 and got[2] == 0.0 and math.isnan(got[3]) and math.isnan(got[4])
    assert_same(got, {i: reference_strict(coco_gt, coco_dt, i, 0.5) for i in (1, 2, 3, 4)})


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "x", True])
def test_bad_threshold_is_one_line(bad):
    with pytest.raises(ValueError, match=r"--strict-score must be a number in \[0, 1\]"):
        check_strict_score(bad)
