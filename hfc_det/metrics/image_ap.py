"""Per-image COCO AP from ONE ``COCOeval.evaluate()`` pass.

Running pycocotools' COCOeval once per image (``params.imgIds = [image_id]``) and reading
``stats[0]`` gives each image's AP@[.50:.95] (area "all", 100 detections): the mean, over
the categories with non-ignored ground truth in that image, of the interpolated precision
at 10 IoU thresholds x 101 recall points. ``evaluate()`` already leaves one record per
(category, area, image) in ``evalImgs``, and a per-image run sees exactly those records,
so :func:`per_image_ap_from_eval` replays ``COCOeval.accumulate`` on them, one record at a
time as a per-image run would, vectorised over all records at once.

This module is pycocotools' side only; the backend choice (pycocotools or
faster-coco-eval) and the public ``per_image_ap(..., backend=)`` live in
:mod:`hfc_det.metrics.coco_backends`, which imports this module (never the reverse).
"""
from __future__ import annotations

import contextlib
import copy
import gc
import io
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

__all__ = ["per_image_ap_from_eval", "silent_cocoeval", "keep_area_all", "load_results", "LeanCOCOeval",
           "gc_paused"]

# Records per vectorised block: bounds memory to about 40 MB per array at 100 detections.
_BLOCK = 4096


def load_results(coco_gt: COCO, results: Union[List[dict], np.ndarray]) -> COCO:
    """``coco_gt.loadRes(results)``, silenced, also for no results (which loadRes rejects).

    ``results``: COCO result dicts (``image_id``, ``category_id``, ``bbox`` xywh, ``score``),
    or box results as one ``(N, 7)`` array ``[image_id, x, y, w, h, score, category_id]``
    (pycocotools' numpy layout). From an array, the rectangle ``segmentation`` loadRes makes
    for every box is dropped: a box evaluation never reads it, and at COCO scale (500k
    detections) it is a third of the memory.
    """
    if isinstance(results, np.ndarray):
        if len(results):
            return _load_box_array(coco_gt, np.asarray(results, dtype=np.float64).reshape(-1, 7))
        results = []
    if len(results):
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes(results)
    coco_dt = COCO()
    coco_dt.dataset = {
        "images": list(coco_gt.dataset.get("images", [])),
        "categories": list(coco_gt.dataset.get("categories", [])),
        "annotations": [],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt.createIndex()
    return coco_dt


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector: building a million small dicts and lists
    (COCO annotations, COCOeval records) otherwise triggers full collections over all of
    them again and again (measured: 2-5x slower at 500k detections). Nothing built here
    holds reference cycles, so nothing is left for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _ResultsCOCO(COCO):
    """A results ``COCO`` whose ``getAnnIds`` tests categories against a set: pycocotools
    tests each of the (at COCO scale 500k) annotations against the list of 80 category ids
    that every COCOeval passes (same annotations, same order)."""

    def getAnnIds(self, imgIds=[], catIds=[], areaRng=[], iscrowd=None):  # noqa: B006,N802,N803 (pycocotools' signature)
        if isinstance(catIds, (list, tuple, np.ndarray)) and len(catIds):
            catIds = set(int(c) for c in catIds)
        return super().getAnnIds(imgIds=imgIds, catIds=catIds, areaRng=areaRng, iscrowd=iscrowd)


def _load_box_array(coco_gt: COCO, results: np.ndarray) -> COCO:
    """``coco_gt.loadRes(results)`` for an ``(N, 7)`` box array, without the rectangle
    ``segmentation`` and built from whole columns: the same annotations as loadRes (``id``
    1..N in row order, ``area`` w * h, ``iscrowd`` 0, the same float64 values), several
    times faster at 500k detections (loadRes builds them one numpy scalar at a time)."""
    image_ids = results[:, 0].astype(np.int64)
    unknown = set(np.unique(image_ids).tolist()) - set(coco_gt.getImgIds())
    if unknown:  # loadRes asserts the same, without saying which
        raise ValueError(f"results for image ids not in the ground truth: {sorted(unknown)[:5]}")
    boxes = results[:, 1:5]
    columns = zip(image_ids.tolist(), boxes.tolist(), results[:, 5].tolist(),
                  results[:, 6].astype(np.int64).tolist(), (boxes[:, 2] * boxes[:, 3]).tolist())
    coco_dt = _ResultsCOCO()
    with gc_paused(), contextlib.redirect_stdout(io.StringIO()):
        coco_dt.dataset = {
            "images": list(coco_gt.dataset.get("images", [])),
            "categories": copy.deepcopy(coco_gt.dataset.get("categories", [])),
            "annotations": [{"image_id": i, "bbox": b, "score": s, "category_id": c, "area": a, "id": k + 1,
                             "iscrowd": 0} for k, (i, b, s, c, a) in enumerate(columns)],
        }
        coco_dt.createIndex()
    return coco_dt


class LeanCOCOeval(COCOeval):
    """pycocotools' ``COCOeval`` whose per-(category, area, image) records keep only what
    ``accumulate`` (and :func:`per_image_ap_from_eval`) read: ``dtScores``, ``dtMatches``
    (as booleans: matched or not), ``dtIgnore``, ``gtIgnore``. Same numbers; at COCO scale
    (over a million records) the ids and ground-truth matches dropped are a good part of
    the memory."""

    def evaluateImg(self, imgId, catId, aRng, maxDet):  # noqa: N802 (pycocotools' name)
        e = super().evaluateImg(imgId, catId, aRng, maxDet)
        if e is not None:
            for key in ("dtIds", "gtIds", "gtMatches"):
                del e[key]
            e["dtMatches"] = e["dtMatches"] != 0  # accumulate only asks "matched?"
        return e


def keep_area_all(params) -> None:
    """Restrict COCOeval ``params`` (pycocotools' or faster-coco-eval's) to the area range
    "all": what a per-image AP reads, a quarter of the work; that range's records are the
    same as in a full evaluation."""
    k = params.areaRngLbl.index("all")
    params.areaRng, params.areaRngLbl = [params.areaRng[k]], ["all"]


def silent_cocoeval(coco_gt: COCO, coco_dt: COCO, img_ids: Optional[Iterable[int]] = None,
                    iou_type: str = "bbox", all_area_only: bool = False) -> COCOeval:
    """A ``COCOeval`` that has run ``evaluate()``, with pycocotools' printing silenced.

    ``all_area_only`` evaluates only the area range "all" (a quarter of the work; the
    records of that range are the same as in a full evaluation).
    """
    coco_eval = LeanCOCOeval(coco_gt, coco_dt, iou_type)
    if img_ids is not None:
        coco_eval.params.imgIds = sorted(set(int(i) for i in img_ids))
    if all_area_only:
        keep_area_all(coco_eval.params)
    with gc_paused(), contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
    return coco_eval


def _records(coco_eval: COCOeval, area: str, max_det: int) -> Tuple[List[int], List[dict], np.ndarray]:
    """The (image index, record, #non-ignored GT) of every record that counts for AP."""
    pe = coco_eval._paramsEval  # the params evaluate() ran with: evalImgs is laid out by them
    if area not in pe.areaRngLbl:
        raise ValueError(f"area {area!r} was not evaluated (areas: {pe.areaRngLbl})")
    if max_det not in pe.maxDets:
        raise ValueError(f"maxDets {max_det} was not evaluated (maxDets: {pe.maxDets})")
    n_cat = len(pe.catIds) if pe.useCats else 1
    n_area, n_img = len(pe.areaRng), len(pe.imgIds)
    a0 = pe.areaRngLbl.index(area)
    if len(coco_eval.evalImgs) != n_cat * n_area * n_img:
        raise ValueError("coco_eval.evalImgs does not match its params: run evaluate() first")
    image_index, records, npig = [], [], []
    for k in range(n_cat):
        base = (k * n_area + a0) * n_img
        for i in range(n_img):
            e = coco_eval.evalImgs[base + i]
            if e is None:  # neither ground truth nor detections: accumulate skips it
                continue
            n = int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
            if n == 0:  # only ignored (crowd / out-of-range) ground truth: category absent
                continue
            image_index.append(i)
            records.append(e)
            npig.append(n)
    return image_index, records, np.asarray(npig, dtype=np.float64)


def _precision_sums(records: List[dict], npig: np.ndarray, max_det: int,
                    rec_thrs: np.ndarray, n_iou: int) -> np.ndarray:
    """Sum over IoU thresholds and recall points of COCOeval's interpolated precision.

    Mirrors ``COCOeval.accumulate`` for one record at a time (as a per-image run sees a
    single record per category), with the records padded to a common detection count.
    Returns shape ``(len(records),)``.
    """
    n = len(records)
    nd = np.array([min(len(e["dtScores"]), max_det) for e in records], dtype=np.int64)
    width = int(nd.max()) if n else 0
    if width == 0:
        return np.zeros(n)
    # Padding sorts last (stable mergesort, +inf key) and is neither TP nor FP, so the
    # cumulative sums stay flat over it; it is masked out by `nd` below.
    key = np.full((n, width), np.inf)
    dtm = np.zeros((n, n_iou, width), dtype=bool)
    dt_ig = np.ones((n, n_iou, width), dtype=bool)
    for r, e in enumerate(records):
        d = nd[r]
        if d:
            key[r, :d] = -np.asarray(e["dtScores"][:d], dtype=np.float64)
            dtm[r, :, :d] = np.asarray(e["dtMatches"])[:, :d] != 0
            dt_ig[r, :, :d] = np.asarray(e["dtIgnore"])[:, :d]
    order = np.argsort(key, axis=1, kind="mergesort")[:, None, :]
    dtm = np.take_along_axis(dtm, order, axis=2)
    dt_ig = np.take_along_axis(dt_ig, order, axis=2)
    tps = dtm & ~dt_ig
    fps = ~dtm & ~dt_ig
    tp_sum = np.cumsum(tps, axis=2).astype(float)
    fp_sum = np.cumsum(fps, axis=2).astype(float)
    rc = tp_sum / npig[:, None, None]
    pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    # accumulate's right-to-left pass makes pr[i] = max(pr[i:nd]); padding repeats pr[nd-1]
    pr = np.maximum.accumulate(pr[:, :, ::-1], axis=2)[:, :, ::-1]
    thr = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(rec_thrs, (n, n_iou, len(rec_thrs)))))
    pos = torch.searchsorted(torch.from_numpy(np.ascontiguousarray(rc)), thr, side="left").numpy()
    # accumulate stops filling q (left at 0) at the first recall threshold past the end
    inside = pos < nd[:, None, None]
    q = np.where(inside, np.take_along_axis(pr, np.minimum(pos, width - 1), axis=2), 0.0)
    return q.sum(axis=(1, 2))


def per_image_ap_from_eval(coco_eval: COCOeval, area: str = "all", max_det: int = 100) -> Dict[int, float]:
    """Per-image AP from a ``COCOeval`` that has run ``evaluate()`` (see :func:`per_image_ap`)."""
    pe = coco_eval._paramsEval
    img_ids = [int(i) for i in pe.imgIds]
    image_index, records, npig = _records(coco_eval, area, max_det)
    n_iou, rec_thrs = len(pe.iouThrs), np.asarray(pe.recThrs, dtype=np.float64)
    sums = np.zeros(len(img_ids))
    counts = np.zeros(len(img_ids))
    idx = np.asarray(image_index, dtype=np.int64)
    for start in range(0, len(records), _BLOCK):
        block = slice(start, start + _BLOCK)
        s = _precision_sums(records[block], npig[block], max_det, rec_thrs, n_iou)
        np.add.at(sums, idx[block], s)
        np.add.at(counts, idx[block], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = sums / (counts * n_iou * len(rec_thrs))
    return {i: float(a) for i, a in zip(img_ids, ap)}
