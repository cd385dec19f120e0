"""Where the AP goes: TIDE's error breakdown per view (Bolya et al., ECCV 2020), via ``tidecv``.

For one view's detections, TIDE reports the box AP at IoU 0.5 (``ap50``, 0-100) and, per
error type, the AP points that fixing every error of that type would win back (``dAP``):

- ``Cls``: right place, wrong class; ``Loc``: right class, box IoU in [0.1, 0.5);
  ``Both``: wrong class and poor box; ``Dupe``: a second detection of an object already
  found; ``Bkg``: a detection of background; ``Miss``: an object never detected;
- ``FalsePos`` / ``FalseNeg``: AP won back by removing every false positive / recovering
  every missed object.

``tidecv`` is optional (the ``tide`` extra; see docs/install.md for installing it without the
GUI OpenCV it asks for). Ground truth and detections go to it in memory, boxes only (no
masks needed). Imports no detectron2.
"""
from __future__ import annotations

import contextlib
import io
from typing import Dict, Iterable, Mapping

import numpy as np
from pycocotools.coco import COCO

__all__ = ["MAIN_ERRORS", "SPECIAL_ERRORS", "tide_available", "tide_errors"]

MAIN_ERRORS = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
SPECIAL_ERRORS = ("FalsePos", "FalseNeg")


def tide_available() -> bool:
    """Whether ``tidecv`` (and what it imports: pandas, seaborn, appdirs, cv2) can be imported."""
    try:
        import tidecv  # noqa: F401
    except ImportError:
        return False
    return True


def _ground_truth(coco_gt: COCO, image_ids: Iterable[int]):
    from tidecv.data import Data

    gt = Data("ground truth", max_dets=100)
    for cat in coco_gt.loadCats(coco_gt.getCatIds()):
        gt.add_class(cat["id"], cat["name"])
    for i in image_ids:
        gt.add_image(i, coco_gt.imgs[i].get("file_name", str(i)))
        for ann in coco_gt.imgToAnns.get(i, []):
            box = [float(v) for v in ann["bbox"]]
            if ann.get("iscrowd", 0):
                gt.add_ignore_region(i, ann["category_id"], box)
            else:
                gt.add_ground_truth(i, ann["category_id"], box)
    return gt


def tide_errors(coco_gt: COCO, detections: Mapping[str, Mapping[int, np.ndarray]],
                image_ids: Iterable[int]) -> Dict[str, Dict[str, object]]:
    """``{view: {"ap50", "main": {type: dAP}, "special": {type: dAP}}}`` (all 0-100).

    Args:
        coco_gt: ground truth.
        detections: ``{view: {image_id: (N, 6) array [x, y, w, h, score, category_id]}}``.
        image_ids: the images evaluated (their ground truth only; others are left out).

    Returns ``{}`` when these images hold no (non-crowd) ground truth; a view TIDE cannot
    break down (no detections) gets ``ap50`` None, empty breakdowns and a ``note``.
    """
    from tidecv import TIDE
    from tidecv.data import Data

    image_ids = sorted(int(i) for i in image_ids)
    if not any(not a.get("iscrowd", 0) for i in image_ids for a in coco_gt.imgToAnns.get(i, [])):
        return {}  # no ground truth: AP, and so what each error costs, is undefined
    gt = _ground_truth(coco_gt, image_ids)
    out = {}
    for view, per_image in detections.items():
        preds = Data(view)
        for i in image_ids:
            for x, y, w, h, score, cat in np.asarray(per_image.get(i, np.zeros((0, 6)))).reshape(-1, 6):
                preds.add_detection(i, int(cat), float(score), [float(x), float(y), float(w), float(h)])
        tide = TIDE()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                tide.evaluate(gt, preds, mode=TIDE.BOX, name=view)
                main, special = tide.get_main_errors()[view], tide.get_special_errors()[view]
        except ZeroDivisionError:  # tidecv averages over an empty class list (e.g. no detections)
            out[view] = {"ap50": None, "main": {}, "special": {}, "note": "TIDE cannot break this view down "
                         "(no detections to compare)"}
            continue
        out[view] = {"ap50": float(tide.runs[view].ap),
                     "main": {k: float(main[k]) for k in MAIN_ERRORS},
                     "special": {k: float(special[k]) for k in SPECIAL_ERRORS}}
    return out
