"""Cue-conflict evaluation: does a detector follow an object's shape or its texture?

The detection analogue of Geirhos et al. (ICLR 2019): on images where every object wears
another class's texture (the shapes generator's ``conflict`` split), the same detections are
scored twice with COCOeval, against the shape labels (``category_id``) and against the
texture labels (each annotation's ``texture_category_id``). A detector that follows the
shape scores well on the first and near 0 on the second (no object's texture matches its
shape there); one that follows the texture, the reverse. The texture-reliance index

    AP50(texture labels) / (AP50(shape labels) + AP50(texture labels))

is 0 for shape only, 1 for texture only (NaN when both AP50 are 0).

No detectron2 here: the inputs are COCO dicts and COCO result lists (or files).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from typing import Dict, List, Mapping, Union

from pycocotools.coco import COCO

from hfc_det.metrics.coco_backends import evaluate_boxes
from hfc_det.metrics.image_ap import load_results

__all__ = ["relabel_by_texture", "texture_reliance", "cue_conflict_metrics", "LABELS"]

#: The two label sets a cue-conflict evaluation scores against.
LABELS = ("shape", "texture")


def relabel_by_texture(coco: Mapping) -> dict:
    """A copy of a shapes COCO dict whose annotations' ``category_id`` is the texture they
    wear (``texture_category_id``); the shape label is kept as ``shape_category_id``.
    The input is not changed. Raises ``ValueError`` for an annotation without a texture."""
    out = copy.copy(dict(coco))
    anns = []
    for ann in coco["annotations"]:
        if "texture_category_id" not in ann:
            raise ValueError(
                f"annotation {ann.get('id')} has no texture_category_id: not a shapes cue-conflict set"
            )
        anns.append({**ann, "category_id": ann["texture_category_id"], "shape_category_id": ann["category_id"]})
    out["annotations"] = anns
    return out


def texture_reliance(ap50_shape: float, ap50_texture: float) -> float:
    """AP50_tex / (AP50_shape + AP50_tex) in [0, 1]; NaN when both are 0 (or undefined)."""
    total = ap50_shape + ap50_texture
    if not total > 0:
        return math.nan
    return ap50_texture / total


def _coco(dataset: Mapping) -> COCO:
    coco = COCO()
    coco.dataset = dict(dataset)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def cue_conflict_metrics(gt: Union[str, Mapping], detections: Union[str, List[dict]],
                         backend: str = "pycocotools") -> Dict[str, object]:
    """Score one set of detections against the shape and the texture labels.

    Args:
        gt: the conflict split's COCO dict or json path (shape labels in ``category_id``,
            textures in ``texture_category_id``).
        detections: COCO results (``image_id``, ``category_id``, ``bbox`` xywh px, ``score``),
            or a json path of them.
        backend: COCOeval implementation (:mod:`.coco_backends`).

    Returns:
        ``{"shape": {"AP", "AP50"}, "texture": {"AP", "AP50"}, "texture_reliance": x,
        "images": n}``; AP and AP50 in 0-100 (as detectron2 prints them), the index in [0, 1].
    """
    if isinstance(gt, str):
        with open(gt) as f:
            gt = json.load(f)
    if isinstance(detections, str):
        with open(detections) as f:
            detections = json.load(f)
    out: Dict[str, object] = {}
    for label, dataset in (("shape", gt), ("texture", relabel_by_texture(gt))):
        coco_gt = _coco(dataset)
        stats, _ = evaluate_boxes(coco_gt, load_results(coco_gt, list(detections)), coco_gt.getImgIds(), backend)
        out[label] = {"AP": 100.0 * max(float(stats[0]), 0.0), "AP50": 100.0 * max(float(stats[1]), 0.0)}
    out["texture_reliance"] = texture_reliance(out["shape"]["AP50"], out["texture"]["AP50"])
    out["images"] = len(gt["images"])
    return out
