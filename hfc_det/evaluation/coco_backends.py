"""The COCOeval pass behind every view's metrics: pycocotools, or the C++ faster-coco-eval.

Both give the 12 ``COCOeval.stats`` and the per-image AP@[.50:.95] (all areas, 100
detections, the mean over the categories with ground truth in the image, NaN where there
is none) from ONE ``evaluate()``:

- ``"pycocotools"``: ``COCOeval`` (what detectron2's ``COCOEvaluator(use_fast_impl=False)``
  runs; with leaner records, same numbers); the per-image AP replays ``accumulate`` on its ``evalImgs``
  (:func:`~hfc_det.evaluation.per_image_ap.per_image_ap_from_eval`).
- ``"faster-coco-eval"`` (``pip install faster-coco-eval``): its C++ ``evaluate`` keeps the
  per-(category, area, image) records in C++ (``separate_eval=True``); the per-image AP
  runs its C++ ``accumulate`` on one image's records of the area "all", which is what a
  per-image COCOeval computes. It reads pycocotools ``COCO`` objects as they are.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
from typing import Dict, Iterable, Optional, Tuple

import numpy as np
from pycocotools.coco import COCO

from .per_image_ap import keep_area_all, per_image_ap_from_eval, silent_cocoeval

__all__ = ["COCO_BACKENDS", "check_backend", "evaluate_boxes", "per_image_ap"]

COCO_BACKENDS = ("pycocotools", "faster-coco-eval")


def check_backend(backend: str) -> None:
    """Raise a one-line ``ValueError`` for an unknown or uninstalled backend."""
    if backend not in COCO_BACKENDS:
        raise ValueError(f"unknown COCO backend {backend!r}; expected one of {list(COCO_BACKENDS)}")
    if backend == "faster-coco-eval":
        try:
            import faster_coco_eval  # noqa: F401
        except ImportError:
            raise ValueError("COCO backend faster-coco-eval is not installed: pip install faster-coco-eval") from None


def _pycocotools(coco_gt: COCO, coco_dt: COCO, img_ids, with_stats: bool = True, iou_type: str = "bbox"):
    coco_eval = silent_cocoeval(coco_gt, coco_dt, img_ids, iou_type, all_area_only=not with_stats)
    if not with_stats:
        return None, per_image_ap_from_eval(coco_eval)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.accumulate()
        coco_eval.summarize()
    return np.asarray(coco_eval.stats, dtype=np.float64), per_image_ap_from_eval(coco_eval)


def _faster_coco_eval(coco_gt: COCO, coco_dt: COCO, img_ids, with_stats: bool = True):
    from faster_coco_eval import COCOeval_faster
    from faster_coco_eval.core.faster_eval_api import _C

    coco_eval = COCOeval_faster(coco_gt, coco_dt, "bbox", separate_eval=True, print_function=lambda *a: None)
    coco_eval.params.imgIds = list(img_ids)
    if not with_stats:  # the per-image AP needs the area "all" only: a quarter of the work
        keep_area_all(coco_eval.params)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
        if with_stats:
            coco_eval.accumulate()
            coco_eval.summarize()
    stats = np.asarray(coco_eval.stats, dtype=np.float64) if with_stats else None
    p = coco_eval._paramsEval  # the params evaluate() ran with: records are laid out by them
    records = coco_eval._evalImgs_cpp  # [category][area][image], as pycocotools' evalImgs
    n_area, n_img = len(p.areaRng), len(p.imgIds)
    a0 = p.areaRngLbl.index("all")
    one = copy.copy(p)
    one.areaRng, one.areaRngLbl, one.maxDets = [p.areaRng[a0]], ["all"], [100]
    per_image = {}
    for i, image_id in enumerate(p.imgIds):
        one.imgIds = [image_id]
        own = [records[(k * n_area + a0) * n_img + i] for k in range(len(p.catIds))]
        precision = np.asarray(_C.COCOevalAccumulate(one, own)["precision"])[..., 0, 0]  # (T, R, K)
        valid = precision[precision > -1]
        per_image[int(image_id)] = float(valid.mean()) if valid.size else math.nan
    return stats, per_image


def evaluate_boxes(coco_gt: COCO, coco_dt: COCO, img_ids: Iterable[int],
                   backend: str = "pycocotools") -> Tuple[np.ndarray, Dict[int, float]]:
    """One box evaluation of ``coco_dt`` over ``img_ids``.

    Returns ``(stats, per_image)``: COCOeval's 12 summary numbers (in [0, 1], -1 where
    undefined) and ``{image_id: AP}`` (NaN where undefined).
    """
    return _run(backend, coco_gt, coco_dt, img_ids, with_stats=True)


def per_image_ap(coco_gt: COCO, coco_dt: COCO, img_ids: Optional[Iterable[int]] = None,
                 iou_type: str = "bbox", backend: str = "pycocotools") -> Dict[int, float]:
    """``{image_id: AP}``: what per-image COCOeval gives as ``stats[0]``, from one pass.

    Args:
        coco_gt: ground truth (pycocotools ``COCO``).
        coco_dt: results, e.g. ``coco_gt.loadRes(detections)``.
        img_ids: images to evaluate (default: all images of ``coco_gt``).
        iou_type: ``"bbox"`` or ``"segm"`` (pycocotools only).
        backend: ``"pycocotools"``, or ``"faster-coco-eval"`` (C++, boxes only, same numbers).

    Returns:
        AP in [0, 1] for every evaluated image; NaN where COCOeval would give -1 (no
        non-ignored ground truth in the image).
    """
    return _run(backend, coco_gt, coco_dt, img_ids, with_stats=False, iou_type=iou_type)[1]


def _run(backend: str, coco_gt: COCO, coco_dt: COCO, img_ids: Optional[Iterable[int]],
         with_stats: bool, iou_type: str = "bbox"):
    """The one backend dispatch: ``(stats or None, {image_id: AP})``."""
    check_backend(backend)
    img_ids = sorted(int(i) for i in (coco_gt.getImgIds() if img_ids is None else img_ids))
    if backend == "faster-coco-eval":
        if iou_type != "bbox":
            raise ValueError(f"the {backend} backend is wired for boxes only, not {iou_type!r}")
        return _faster_coco_eval(coco_gt, coco_dt, img_ids, with_stats)
    return _pycocotools(coco_gt, coco_dt, img_ids, with_stats, iou_type)
