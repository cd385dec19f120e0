"""per_image_ap (one COCOeval pass) against pycocotools' COCOeval run once per image."""
import contextlib
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from pycocotools.cocoeval import COCOeval

from hfc_det.metrics.coco_backends import per_image_ap
from hfc_det.metrics.image_ap import load_results

from helpers.coco_reference import CATEGORY_IDS, _as_array, assert_same, make_gt, reference_ap, scenes













@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_matches_per_image_cocoeval(scene):
    images, gts, dts = scene
    coco_gt = make_gt(images, gts)
    coco_dt = load_results(coco_gt, dts)
    want = {i: reference_ap(coco_gt, coco_dt, i) for i in images}
    assert_same(per_image_ap(coco_gt, coco_dt, backend="pycocotools"), want)  # the replay of accumulate
    assert_same(per_image_ap(coco_gt, coco_dt), want)  # the default backend


def test_many_detections_beyond_max_dets():
    """More than 100 detections in an image: the 100 best count, as in COCOeval."""
    rng = np.random.default_rng(0)
    gts = [{"id": k + 1, "image_id": 1, "category_id": 1, "bbox": [float(x), float(y), 20.0, 20.0],
            "area": 400.0, "iscrowd": 0} for k, (x, y) in enumerate(rng.integers(0, 70, (30, 2)))]
    dts = [{"image_id": 1, "category_id": 1, "score": float(s),
            "bbox": [float(x), float(y), float(w), float(h)]}
           for s, x, y, w, h in zip(rng.random(150), *rng.integers(0, 70, (2, 150)), *rng.integers(10, 30, (2, 150)))]
    coco_gt = make_gt([1, 2], gts)
    coco_dt = load_results(coco_gt, dts)
    got = per_image_ap(coco_gt, coco_dt, backend="pycocotools")
    assert_same(got, {i: reference_ap(coco_gt, coco_dt, i) for i in (1, 2)})
    assert_same(per_image_ap(coco_gt, coco_dt), got)
    assert 0 < got[1] < 1 and math.isnan(got[2])


def test_no_detections_at_all():
    gts = [{"id": 1, "image_id": 1, "category_id": 5, "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}]
    coco_gt = make_gt([1, 2], gts)
    coco_dt = load_results(coco_gt, [])
    assert_same(per_image_ap(coco_gt, coco_dt), {i: reference_ap(coco_gt, coco_dt, i) for i in (1, 2)})


def test_subset_of_images():
    gts = [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}
           for i in (1, 2, 3)]
    dts = [{"image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9}]
    coco_gt = make_gt([1, 2, 3], gts)
    got = per_image_ap(coco_gt, load_results(coco_gt, dts), img_ids=[2, 3])
    assert got == pytest.approx({2: 1.0, 3: 0.0})


def _pycocotools_stats(coco_gt, coco_dt, img_ids):
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.params.imgIds = img_ids
        e.evaluate(), e.accumulate(), e.summarize()
    return e.stats




@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_results_array_gives_the_same_evaluation(scene):
    """load_results from the compact (N, 7) array evaluates exactly as from result dicts."""
    from hfc_det.metrics.coco_backends import evaluate_boxes

    images, gts, dts = scene
    coco_gt = make_gt(images, gts)
    stats, per_image = evaluate_boxes(coco_gt, load_results(coco_gt, _as_array(dts)), images, backend="pycocotools")
    coco_dt = load_results(coco_gt, dts)
    np.testing.assert_array_equal(stats, _pycocotools_stats(coco_gt, coco_dt, images))
    assert_same(per_image, {i: reference_ap(coco_gt, coco_dt, i) for i in images})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_faster_coco_eval_backend_equals_pycocotools(scene):
    """The C++ backend: same 12 stats as pycocotools' COCOeval, same per-image AP as
    per-image COCOeval (crowds, images without ground truth or detections, score ties)."""
    pytest.importorskip("faster_coco_eval")
    from hfc_det.metrics.coco_backends import evaluate_boxes

    images, gts, dts = scene
    coco_gt = make_gt(images, gts)
    coco_dt = load_results(coco_gt, _as_array(dts))
    stats, per_image = evaluate_boxes(coco_gt, coco_dt, images, backend="faster-coco-eval")
    want_dt = load_results(coco_gt, dts)
    np.testing.assert_allclose(stats, _pycocotools_stats(coco_gt, want_dt, images), rtol=0, atol=1e-12)
    want = {i: reference_ap(coco_gt, want_dt, i) for i in images}
    assert_same(per_image, want)
    assert_same(per_image_ap(coco_gt, coco_dt, backend="faster-coco-eval"), want)  # area "all" only


def test_faster_coco_eval_beyond_max_dets():
    pytest.importorskip("faster_coco_eval")
    from hfc_det.metrics.coco_backends import evaluate_boxes

    rng = np.random.default_rng(1)
    gts = [{"id": k + 1, "image_id": 1 + k % 2, "category_id": int(rng.choice(CATEGORY_IDS)),
            "bbox": [float(x), float(y), 20.0, 20.0], "area": 400.0, "iscrowd": 0}
           for k, (x, y) in enumerate(rng.integers(0, 70, (40, 2)))]
    dts = [{"image_id": 1 + k % 2, "category_id": int(rng.choice(CATEGORY_IDS)), "score": float(s),
            "bbox": [float(x), float(y), float(w), float(h)]}
           for k, (s, x, y, w, h) in enumerate(zip(rng.random(300), *rng.integers(0, 70, (2, 300)),
                                                   *rng.integers(10, 30, (2, 300))))]
    coco_gt = make_gt([1, 2, 3], gts)
    coco_dt = load_results(coco_gt, dts)
    stats, per_image = evaluate_boxes(coco_gt, coco_dt, [1, 2, 3], backend="faster-coco-eval")
    np.testing.assert_allclose(stats, _pycocotools_stats(coco_gt, coco_dt, [1, 2, 3]), rtol=0, atol=1e-12)
    assert_same(per_image, {i: reference_ap(coco_gt, coco_dt, i) for i in (1, 2, 3)})
    assert 0 < per_image[1] < 1 and math.isnan(per_image[3])


def test_unknown_or_missing_backend_is_one_line():
    from hfc_det.metrics.coco_backends import check_backend

    with pytest.raises(ValueError, match="unknown COCO backend"):
        check_backend("detectron2-fast")
