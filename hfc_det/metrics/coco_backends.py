"""The COCOeval pass behind every view's metrics: the C++ faster-coco-eval (the default, a
dependency) or pycocotools (where faster-coco-eval is missing, or when asked for).

Both give the 12 ``COCOeval.stats`` and the per-image AP@[.50:.95] (all areas, 100
detections, the mean over the categories with ground truth in the image, NaN where there
is none) from ONE ``evaluate()``:

- ``"pycocotools"``: ``COCOeval`` (what detectron2's ``COCOEvaluator(use_fast_impl=False)``
  runs; with leaner records, same numbers); the per-image AP replays ``accumulate`` on its ``evalImgs``
  (:func:`~hfc_det.metrics.image_ap.per_image_ap_from_eval`).
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

from hfc_det.metrics.image_ap import gc_paused, keep_area_all, per_image_ap_from_eval, silent_cocoeval

__all__ = ["COCO_BACKENDS", "check_backend", "default_backend", "evaluate_boxes", "per_image_ap"]

from hfc_det.cli.options import COCO_BACKENDS  # noqa: E402  (the choices, where a parser can read them without torch)


def default_backend() -> str:
    """The backend used when none is asked for: ``"faster-coco-eval"`` (a dependency: same
    numbers, several times faster), ``"pycocotools"`` where it is not installed."""
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        return "pycocotools"
    return "faster-coco-eval"


def check_backend(backend: Optional[str] = None) -> str:
    """The backend's name (``None``: :func:`default_backend`); a one-line ``ValueError`` for
    an unknown or uninstalled backend."""
    if backend is None:
        return default_backend()
    if backend not in COCO_BACKENDS:
        raise ValueError(f"unknown COCO backend {backend!r}; expected one of {list(COCO_BACKENDS)}")
    if backend == "faster-coco-eval":
        try:
            import faster_coco_eval  # noqa: F401
        except ImportError:
            raise ValueError("COCO backend faster-coco-eval is not installed: pip install faster-coco-eval") from None
    return backend


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
    with gc_paused(), contextlib.redirect_stdout(io.StringIO()):
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
    cat_index = {c: k for k, c in enumerate(p.catIds)}
    per_image = {}
    for i, image_id in enumerate(p.imgIds):
        # A category without ground truth in the image gives precision -1 in a per-image
        # run, which the mean leaves out: accumulate only the categories with ground truth
        # (a few of 80), which is most of this loop's time saved (the precision array the
        # C++ code allocates and converts per call scales with the categories passed).
        ks = sorted({cat_index[a["category_id"]] for a in coco_gt.imgToAnns.get(image_id, ())
                     if a["category_id"] in cat_index})
        if not ks:
            per_image[int(image_id)] = math.nan
            continue
        one.imgIds, one.catIds = [image_id], [p.catIds[k] for k in ks]
        own = [records[(k * n_area + a0) * n_img + i] for k in ks]
        precision = np.asarray(_C.COCOevalAccumulate(one, own)["precision"])  # (T, R, K, 1, 1)
        valid = precision[precision > -1]
        per_image[int(image_id)] = float(valid.mean()) if valid.size else math.nan
    return stats, per_image


def evaluate_boxes(coco_gt: COCO, coco_dt: COCO, img_ids: Iterable[int],
                   backend: Optional[str] = None) -> Tuple[np.ndarray, Dict[int, float]]:
    """One box evaluation of ``coco_dt`` over ``img_ids`` (``backend`` ``None``: the default).

    Returns ``(stats, per_image)``: COCOeval's 12 summary numbers (in [0, 1], -1 where
    undefined) and ``{image_id: AP}`` (NaN where undefined).
    """
    return _run(backend, coco_gt, coco_dt, img_ids, with_stats=True)


def per_image_ap(coco_gt: COCO, coco_dt: COCO, img_ids: Optional[Iterable[int]] = None,
                 iou_type: str = "bbox", backend: Optional[str] = None) -> Dict[int, float]:
    """``{image_id: AP}``: what per-image COCOeval gives as ``stats[0]``, from one pass.

    Args:
        coco_gt: ground truth (pycocotools ``COCO``).
        coco_dt: results, e.g. ``coco_gt.loadRes(detections)``.
        img_ids: images to evaluate (default: all images of ``coco_gt``).
        iou_type: ``"bbox"`` or ``"segm"`` (pycocotools only).
        backend: ``"faster-coco-eval"`` (C++, boxes only, same numbers) or ``"pycocotools"``;
            ``None``: faster-coco-eval for boxes where it is installed, else pycocotools.

    Returns:
        AP in [0, 1] for every evaluated image; NaN where COCOeval would give -1 (no
        non-ignored ground truth in the image).
    """
    return _run(backend, coco_gt, coco_dt, img_ids, with_stats=False, iou_type=iou_type)[1]


def _run(backend: Optional[str], coco_gt: COCO, coco_dt: COCO, img_ids: Optional[Iterable[int]],
         with_stats: bool, iou_type: str = "bbox"):
    """The one backend dispatch: ``(stats or None, {image_id: AP})``."""
    backend = check_backend(backend) if backend is not None or iou_type == "bbox" else "pycocotools"
    img_ids = sorted(int(i) for i in (coco_gt.getImgIds() if img_ids is None else img_ids))
    if backend == "faster-coco-eval":
        if iou_type != "bbox":
            raise ValueError(f"the {backend} backend is wired for boxes only, not {iou_type!r}")
        return _faster_coco_eval(coco_gt, coco_dt, img_ids, with_stats)
    return _pycocotools(coco_gt, coco_dt, img_ids, with_stats, iou_type)
