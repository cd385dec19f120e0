"""per_image_ap (one COCOeval pass) against pycocotools' COCOeval run once per image."""
import contextlib
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from hfc_det.evaluation.coco_backends import per_image_ap
from hfc_det.evaluation.per_image_ap import load_results

CATEGORY_IDS = [1, 5, 9]  # non-contiguous, as COCO's own


def make_gt(images, annotations):
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i, "width": 100, "height": 100, "file_name": f"{i}.jpg"} for i in images],
        "categories": [{"id": c, "name": f"c{c}"} for c in CATEGORY_IDS],
        "annotations": annotations,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def reference_ap(coco_gt, coco_dt, image_id):
    """What a user would do: COCOeval restricted to one image, stats[0]; -1 -> NaN."""
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.params.imgIds = [image_id]
        e.evaluate()
        e.accumulate()
        e.summarize()
    return float("nan") if e.stats[0] == -1 else float(e.stats[0])


def assert_same(got, want):
    assert set(got) == set(want)
    for i in want:
        if math.isnan(want[i]):
            assert math.isnan(got[i]), (i, got[i], want[i])
        else:
            assert abs(got[i] - want[i]) <= 1e-9, (i, got[i], want[i])


coord = st.integers(0, 80)
size = st.integers(1, 40)
box = st.tuples(coord, coord, size, size)


@st.composite
def scenes(draw):
    n_images = draw(st.integers(1, 5))
    images = list(range(10, 10 + n_images))
    gts, dts = [], []
    for img in images:
        for _ in range(draw(st.integers(0, 4))):  # 0: an image without ground truth
            x, y, w, h = draw(box)
            gts.append({
                "id": len(gts) + 1, "image_id": img, "category_id": draw(st.sampled_from(CATEGORY_IDS)),
                "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(draw(st.integers(0, 5)) == 0),
            })
        for _ in range(draw(st.integers(0, 6))):  # 0: an image without detections
            # detections near a ground-truth box (to get matches at several IoUs) or anywhere
            if gts and draw(st.booleans()):
                g = draw(st.sampled_from(gts))
                dx, dy, dw, dh = draw(st.tuples(*[st.integers(-6, 6)] * 4))
                b = [g["bbox"][0] + dx, g["bbox"][1] + dy, max(1, g["bbox"][2] + dw), max(1, g["bbox"][3] + dh)]
                cat = g["category_id"] if draw(st.integers(0, 3)) else draw(st.sampled_from(CATEGORY_IDS))
            else:
                b, cat = list(draw(box)), draw(st.sampled_from(CATEGORY_IDS))
            # few distinct scores, so ties (and the stable sort) matter
            dts.append({"image_id": img, "category_id": cat, "bbox": b,
                        "score": draw(st.sampled_from([0.9, 0.5, 0.5, 0.3, 0.05]))})
    return images, gts, dts


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


def _as_array(dts):
    """COCO result dicts -> loadRes's numpy layout [image_id, x, y, w, h, score, category_id]."""
    return np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dts], dtype=np.float64).reshape(-1, 7)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_results_array_gives_the_same_evaluation(scene):
    """load_results from the compact (N, 7) array evaluates exactly as from result dicts."""
    from hfc_det.evaluation.coco_backends import evaluate_boxes

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
    from hfc_det.evaluation.coco_backends import evaluate_boxes

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
    from hfc_det.evaluation.coco_backends import evaluate_boxes

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
    from hfc_det.evaluation.coco_backends import check_backend

    with pytest.raises(ValueError, match="unknown COCO backend"):
        check_backend("detectron2-fast")
