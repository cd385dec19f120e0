"""The default COCOeval backend (faster-coco-eval, pycocotools where it is missing) and the
fast results loader, against pycocotools itself: loadRes, COCOeval's stats, and COCOeval run
once per image, on a COCO-like set (80 categories, 100 detections per image, crowds)."""
import contextlib
import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.cocoeval import COCOeval

from hfc_det.metrics.coco_backends import check_backend, default_backend, evaluate_boxes, per_image_ap
from hfc_det.evaluation.evaluator import results_array
from hfc_det.metrics.image_ap import load_results

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_per_image_ap import per_image_cocoeval, synthetic_detections  # noqa: E402


@pytest.fixture(scope="module")
def coco_like():
    coco_gt, dets = synthetic_detections(25, seed=3)
    dets[7] = np.zeros((0, 6))  # an image without detections
    arr = results_array(dets, sorted(dets))
    with contextlib.redirect_stdout(io.StringIO()):
        reference_dt = coco_gt.loadRes(arr)  # pycocotools' own loader: the reference
    return coco_gt, arr, reference_dt


def _stats(coco_gt, coco_dt):
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.evaluate(), e.accumulate(), e.summarize()
    return np.asarray(e.stats)


def _assert_same_per_image(got, want, tol):
    assert set(got) == set(want)
    for i, w in want.items():
        assert (math.isnan(w) and math.isnan(got[i])) or abs(got[i] - w) <= tol, (i, got[i], w)


def test_load_results_from_an_array_is_loadres(coco_like):
    """Same annotations as pycocotools' loadRes (ids, boxes, scores, areas, crowd flags,
    category and image indexes), without the rectangle segmentation."""
    coco_gt, arr, want = coco_like
    got = load_results(coco_gt, arr)
    assert sorted(got.anns) == sorted(want.anns)
    for k, a in want.anns.items():
        b = got.anns[k]
        assert set(b) == set(a) - {"segmentation"}
        for key in b:
            np.testing.assert_array_equal(np.asarray(b[key], dtype=np.float64), np.asarray(a[key], dtype=np.float64))
    assert {i: [a["id"] for a in v] for i, v in got.imgToAnns.items()} == \
        {i: [a["id"] for a in v] for i, v in want.imgToAnns.items()}
    assert got.getAnnIds(catIds=[3, 5], imgIds=[2, 4]) == want.getAnnIds(catIds=[3, 5], imgIds=[2, 4])
    assert got.dataset["categories"] == want.dataset["categories"]


def test_load_results_refuses_unknown_images(coco_like):
    coco_gt, arr, _ = coco_like
    bad = arr[:3].copy()
    bad[:, 0] = 999
    with pytest.raises(ValueError, match="999"):
        load_results(coco_gt, bad)


def test_default_is_faster_coco_eval_and_equals_pycocotools(coco_like):
    """The default backend: faster-coco-eval; its stats are COCOeval's, its per-image AP
    is per-image COCOeval's."""
    pytest.importorskip("faster_coco_eval")
    coco_gt, arr, reference_dt = coco_like
    assert default_backend() == check_backend() == "faster-coco-eval"
    ids = coco_gt.getImgIds()
    stats, per_image = evaluate_boxes(coco_gt, load_results(coco_gt, arr), ids)
    np.testing.assert_allclose(stats, _stats(coco_gt, reference_dt), rtol=0, atol=1e-12)
    want = per_image_cocoeval(coco_gt, reference_dt)
    assert sum(not math.isnan(v) for v in want.values()) >= 20
    _assert_same_per_image(per_image, want, 1e-12)
    _assert_same_per_image(per_image_ap(coco_gt, load_results(coco_gt, arr)), want, 1e-12)
    _assert_same_per_image(per_image_ap(coco_gt, reference_dt, backend="pycocotools"), want, 1e-9)


def test_pycocotools_when_faster_coco_eval_is_missing(monkeypatch, coco_like):
    monkeypatch.setitem(sys.modules, "faster_coco_eval", None)  # import faster_coco_eval -> ImportError
    assert default_backend() == check_backend(None) == "pycocotools"
    with pytest.raises(ValueError, match="not installed: pip install faster-coco-eval"):
        check_backend("faster-coco-eval")
    coco_gt, arr, reference_dt = coco_like
    stats, per_image = evaluate_boxes(coco_gt, load_results(coco_gt, arr), coco_gt.getImgIds())
    np.testing.assert_array_equal(stats, _stats(coco_gt, reference_dt))
    _assert_same_per_image(per_image, per_image_cocoeval(coco_gt, reference_dt), 1e-9)
