"""The strict per-image AP: COCOeval's per-image AP that also counts confident detections of
categories absent from the image.

COCOeval's per-image AP (:func:`~hfc_det.metrics.image_ap.per_image_ap`, the paper's
measure) is the mean, over the categories with non-ignored ground truth in the image, of
that category's AP. A detection of a category that has no ground truth in the image costs
nothing there (``accumulate`` skips a category without ground truth), so a view that turns
a correct label into a confident wrong one can *raise* the image's AP.

The strict per-image AP of image ``i`` at score threshold ``T`` is the mean over

- the categories COCOeval averages over (non-ignored ground truth in ``i``), each with
  COCOeval's AP, and
- the categories with **no** ground-truth annotation in ``i`` (crowd regions count as
  annotations: detecting a crowd is no hallucination) that have at least one detection in
  ``i`` with score ``>= T``, each counting 0.

It equals the COCOeval per-image AP where an image has no such detection. An image without
non-ignored ground truth has an undefined COCOeval AP; its strict AP is 0 when it holds
such a detection and undefined otherwise.

Nothing is re-evaluated: the strict AP is the COCOeval per-image AP rescaled by
``n / (n + e)`` (``n`` categories averaged by COCOeval, ``e`` absent but detected
categories), with ``n`` and ``e`` counted from the annotations and the detections. Imports
no detectron2.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, Mapping, Tuple

import numpy as np
from pycocotools.coco import COCO

__all__ = ["DEFAULT_STRICT_SCORE", "MEASURES", "ap_column", "check_strict_score", "category_counts",
           "strict_per_image_ap"]

#: The default score threshold ``T`` of the strict per-image AP (``HFC.STRICT_SCORE``).
DEFAULT_STRICT_SCORE = 0.5
#: The two per-image measures: COCOeval's (the paper's, the default) and the strict one.
MEASURES = ("coco", "strict")


def ap_column(view: str, measure: str = "coco") -> str:
    """The per_image_ap.csv column of a view under a measure: ``ap_low_r8``, ``ap_strict_low_r8``."""
    if measure not in MEASURES:
        raise ValueError(f"unknown per-image measure {measure!r}; expected one of {list(MEASURES)}")
    return f"ap_{view}" if measure == "coco" else f"ap_strict_{view}"

# COCOeval's area range "all": a ground-truth box outside it is ignored (never in practice).
_AREA_ALL = (0.0, 1e5 ** 2)


def check_strict_score(score: float, what: str = "--strict-score") -> float:
    """``score`` as a float in [0, 1]; a one-line ``ValueError`` naming ``what`` otherwise."""
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number in [0, 1], got {score!r}") from None
    if isinstance(score, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be a number in [0, 1], got {score!r}")
    return value


def _pair_keys(image_ids: np.ndarray, category_ids: np.ndarray) -> np.ndarray:
    """One int64 per (image, category) pair (category ids below 2**31)."""
    return (image_ids.astype(np.int64) << 31) | category_ids.astype(np.int64)


def category_counts(coco_gt: COCO, detections: np.ndarray, image_ids: Iterable[int],
                    score_thresh: float) -> Tuple[Dict[int, int], Dict[int, int]]:
    """``(n, e)`` per image: ``n[i]`` categories COCOeval averages over in image ``i``
    (non-crowd ground truth with an area in COCOeval's "all" range), ``e[i]`` categories
    without any ground-truth annotation in ``i`` that have a detection with score >= ``score_thresh``.

    Args:
        coco_gt: ground truth.
        detections: ``(N, 7)`` array ``[image_id, x, y, w, h, score, category_id]``
            (pycocotools' ``loadRes`` layout), any images.
        image_ids: the images to count for.
    """
    ids = np.asarray(sorted({int(i) for i in image_ids}), dtype=np.int64)
    anns = coco_gt.dataset.get("annotations", [])
    g_img = np.fromiter((a["image_id"] for a in anns), dtype=np.int64, count=len(anns))
    g_cat = np.fromiter((a["category_id"] for a in anns), dtype=np.int64, count=len(anns))
    g_crowd = np.fromiter((bool(a.get("iscrowd", 0)) for a in anns), dtype=bool, count=len(anns))
    g_area = np.fromiter((a.get("area", 0.0) for a in anns), dtype=np.float64, count=len(anns))
    counted = ~g_crowd & (g_area >= _AREA_ALL[0]) & (g_area <= _AREA_ALL[1])
    annotated = np.unique(_pair_keys(g_img, g_cat))
    averaged = np.unique(_pair_keys(g_img[counted], g_cat[counted]))

    dets = np.asarray(detections, dtype=np.float64).reshape(-1, 7)
    confident = dets[dets[:, 5] >= score_thresh]
    d_keys = np.unique(_pair_keys(confident[:, 0].astype(np.int64), confident[:, 6].astype(np.int64)))
    absent = d_keys[~np.isin(d_keys, annotated)]

    def per_image(keys: np.ndarray) -> Dict[int, int]:
        found, count = np.unique(keys >> 31, return_counts=True)
        table = dict(zip(found.tolist(), count.tolist()))
        return {i: int(table.get(i, 0)) for i in ids.tolist()}

    return per_image(averaged), per_image(absent)


def strict_per_image_ap(per_image: Mapping[int, float], coco_gt: COCO, detections: np.ndarray,
                        score_thresh: float = DEFAULT_STRICT_SCORE) -> Dict[int, float]:
    """``{image_id: strict AP}`` for the images of ``per_image`` (see the module docstring).

    Args:
        per_image: COCOeval's per-image AP (``{image_id: AP}``, NaN where undefined), from
            the same detections.
        coco_gt: ground truth.
        detections: the ``(N, 7)`` array the AP was computed from
            (``[image_id, x, y, w, h, score, category_id]``).
        score_thresh: ``T`` in [0, 1].

    Returns:
        AP in [0, 1] per image; NaN where undefined.
    """
    score_thresh = check_strict_score(score_thresh, "score_thresh")
    n, e = category_counts(coco_gt, detections, per_image, score_thresh)
    out = {}
    for i, ap in per_image.items():
        extra = e[int(i)]
        if extra == 0:
            out[i] = ap  # exactly COCOeval's number, not a rescaled copy of it
        elif math.isnan(ap):
            out[i] = 0.0
        else:
            out[i] = ap * n[int(i)] / (n[int(i)] + extra)
    return out
