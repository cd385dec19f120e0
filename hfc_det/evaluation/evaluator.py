"""The evaluator that keeps detections per view and per image, and what it computes.

``FrequencyViewsEvaluator`` is a detectron2 ``DatasetEvaluator``: ``process`` stores each
image's detections for every view as one compact ``(N, 6)`` float64 array
``[x, y, w, h, score, category_id]`` (COCO xywh boxes in original-image pixels, the
dataset's own category ids) keyed by image id; ``evaluate`` gathers them to the main
process with ``detectron2.utils.comm.gather`` and runs ONE COCOeval per view (pycocotools,
or faster-coco-eval: :mod:`.coco_backends`), which gives both the overall COCO metrics and
the per-image AP. Keeping detections per image id lets a resumed run add the images an
earlier run finished (``preload``) and save finished images as it goes (``store``).
Between the gather and COCOeval the detections stay numpy arrays (one ``(N, 7)`` array per
view for ``loadRes``), and one view's COCOeval is alive at a time.

Overall AP is what detectron2's ``COCOEvaluator`` (pure-Python path) reports on the same
detections, with one deliberate difference: for a view with no detections at all detectron2
reports NaN, while here COCOeval itself answers (0 where there is ground truth).
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.structures import BoxMode
from detectron2.utils import comm
from detectron2.utils.file_io import PathManager

from hfc_det.metrics.coco_backends import COCO_BACKENDS, check_backend, evaluate_boxes
from hfc_det.metrics.paired_stats import paired_statistics
from hfc_det.metrics.image_ap import load_results
from hfc_det.metrics.strict_ap import DEFAULT_STRICT_SCORE, MEASURES, check_strict_score, strict_per_image_ap
from hfc_det.metrics.results import COCO_METRICS, OUTCOMES, outcome

__all__ = [
    "FrequencyViewsEvaluator",
    "ViewsEvaluation",
    "evaluate_detections",
    "instances_to_array",
    "array_to_coco_results",
    "compare_to_original",
    "results_array",
    "COCO_BACKENDS",
    "COCO_METRICS",
    "OUTCOMES",
]

logger = logging.getLogger(__name__)

#: The COCOeval.stats entries detectron2 reports for boxes, in its names (0-100 units).


def instances_to_array(instances, contiguous_to_dataset_id: Optional[Mapping[int, int]] = None) -> np.ndarray:
    """detectron2 ``Instances`` (pred_boxes XYXY, scores, pred_classes) -> ``(N, 6)`` float64.

    Columns ``x, y, w, h, score, category_id`` with the same values detectron2's
    ``instances_to_coco_json`` writes, and the category mapped back to the dataset's id.
    """
    instances = instances.to("cpu")
    # .float(): under bf16 autocast (--amp) boxes and scores may come back in bfloat16
    boxes = BoxMode.convert(instances.pred_boxes.tensor.float().numpy(), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
    classes = instances.pred_classes.numpy()
    if contiguous_to_dataset_id is not None:
        classes = np.array([contiguous_to_dataset_id[int(c)] for c in classes], dtype=np.int64)
    out = np.empty((len(instances), 6), dtype=np.float64)
    out[:, :4] = boxes.reshape(-1, 4)
    out[:, 4] = instances.scores.float().numpy()
    out[:, 5] = classes
    return out


def array_to_coco_results(image_id: int, dets: np.ndarray) -> List[dict]:
    """``(N, 6)`` detections of one image -> COCO result dicts (``image_id, category_id, bbox, score``)."""
    return [
        {"image_id": int(image_id), "category_id": int(d[5]), "bbox": [float(v) for v in d[:4]], "score": float(d[4])}
        for d in dets
    ]


def compare_to_original(per_image: Mapping[str, Mapping[int, float]], view: str) -> Dict[int, str]:
    """``{image_id: "gain" | "loss" | "tie" | "undefined"}`` of ``view`` against ``"original"``."""
    original = per_image["original"]
    return {i: outcome(ap, original[i]) for i, ap in per_image[view].items()}


def results_array(detections: Mapping[int, np.ndarray], image_ids: Sequence[int]) -> np.ndarray:
    """``{image_id: (N, 6)}`` -> one ``(sum N, 7)`` float64 array ``[image_id, x, y, w, h,
    score, category_id]``, the layout ``COCO.loadRes`` takes (images missing: none)."""
    parts = [np.column_stack([np.full(len(d), float(i)), d]) for i in image_ids
             for d in [np.asarray(detections.get(i, np.zeros((0, 6)))).reshape(-1, 6)] if len(d)]
    return np.concatenate(parts) if parts else np.zeros((0, 7))


@dataclass
class ViewsEvaluation:
    """Everything one evaluation found. AP metrics in COCO's 0-100 units, per-image AP in [0, 1].

    ``detections[view][image_id]`` is the ``(N, 6)`` array described in the module docstring.
    ``per_image_ap`` / ``outcomes`` are COCOeval's measure (the paper's);
    ``per_image_ap_strict`` / ``outcomes_strict`` the strict one at ``strict_score``
    (:mod:`.strict_ap`); ``paired[view][measure]`` the paired statistics against the
    original (:func:`~hfc_det.metrics.paired_stats.paired_statistics`).
    """

    views: List[str]
    image_ids: List[int]
    file_names: Dict[int, str]
    metrics: Dict[str, Dict[str, float]]
    per_image_ap: Dict[str, Dict[int, float]]
    outcomes: Dict[str, Dict[int, str]]
    detections: Dict[str, Dict[int, np.ndarray]]
    skipped: List[dict] = field(default_factory=list)
    #: how many of ``image_ids`` an earlier, interrupted run had evaluated (0: none)
    resumed_images: int = 0
    per_image_ap_strict: Dict[str, Dict[int, float]] = field(default_factory=dict)
    outcomes_strict: Dict[str, Dict[int, str]] = field(default_factory=dict)
    strict_score: float = DEFAULT_STRICT_SCORE
    paired: Dict[str, Dict[str, Dict[str, object]]] = field(default_factory=dict)
    #: TIDE's error breakdown per view (:func:`~hfc_det.metrics.tide_errors.tide_errors`);
    #: empty when not asked for or tidecv is not installed
    errors: Dict[str, Dict[str, object]] = field(default_factory=dict)

    def ap(self, measure: str = "coco") -> Dict[str, Dict[int, float]]:
        """``{view: {image_id: AP}}`` under ``measure`` (one of :data:`MEASURES`)."""
        return self.per_image_ap if measure == "coco" else self.per_image_ap_strict

    def counts(self, view: str, measure: str = "coco") -> Dict[str, int]:
        """``{"gain": n, "loss": n, "tie": n, "undefined": n}`` for a filtered view."""
        values = list((self.outcomes if measure == "coco" else self.outcomes_strict)[view].values())
        return {o: values.count(o) for o in OUTCOMES}

    def coco_results(self, view: str) -> List[dict]:
        """The view's detections as COCO result dicts, by image id."""
        return [r for i in sorted(self.detections[view]) for r in array_to_coco_results(i, self.detections[view][i])]


def evaluate_detections(
    coco_gt: COCO,
    detections: Mapping[str, Mapping[int, np.ndarray]],
    image_ids: Iterable[int],
    skipped: Sequence[dict] = (),
    backend: Optional[str] = None,
    strict_score: float = DEFAULT_STRICT_SCORE,
    error_breakdown: bool = False,
) -> ViewsEvaluation:
    """Overall and per-image COCO AP of every view, and the outcomes against ``"original"``.

    Args:
        coco_gt: ground truth.
        detections: ``{view: {image_id: (N, 6) array}}``; an image missing from a view
            counts as having no detections there.
        image_ids: the images evaluated (those that were read; skipped ones excluded).
        backend: the COCOeval implementation, one of :data:`COCO_BACKENDS` (``None``: the default).
        strict_score: the score threshold ``T`` of the strict per-image AP, in [0, 1].
        error_breakdown: also run TIDE on every view (when ``tidecv`` is installed).
    """
    backend = check_backend(backend)
    strict_score = check_strict_score(strict_score, "strict_score")
    image_ids = sorted(int(i) for i in image_ids)
    views = list(detections)
    metrics, per_image, per_image_strict = {}, {}, {}
    for view in views:
        if not image_ids:  # COCOeval reads an empty imgIds as "all images": nothing to say
            metrics[view] = {m: float("nan") for m in COCO_METRICS}
            per_image[view] = per_image_strict[view] = {}
            continue
        results = results_array(detections[view], image_ids)
        coco_dt = load_results(coco_gt, results)
        stats, per_image[view] = evaluate_boxes(coco_gt, coco_dt, image_ids, backend)
        del coco_dt  # the next view's results replace it: keep one view's in memory at a time
        per_image_strict[view] = strict_per_image_ap(per_image[view], coco_gt, results, strict_score)
        metrics[view] = {m: float(stats[k] * 100) if stats[k] >= 0 else float("nan") for k, m in enumerate(COCO_METRICS)}
    outcomes, outcomes_strict, paired = {}, {}, {}
    if "original" in per_image:
        compared = [v for v in views if v != "original"]
        outcomes = {v: compare_to_original(per_image, v) for v in compared}
        outcomes_strict = {v: compare_to_original(per_image_strict, v) for v in compared}
        for v in compared:
            paired[v] = {}
            for measure, aps in zip(MEASURES, (per_image, per_image_strict)):
                paired[v][measure] = paired_statistics(np.array([aps[v][i] for i in image_ids]),
                                                       np.array([aps["original"][i] for i in image_ids]))
    errors = {}
    if error_breakdown and image_ids:
        from hfc_det.metrics.tide_errors import tide_available, tide_errors

        if tide_available():
            logger.info("TIDE error breakdown of %d views", len(views))
            errors = tide_errors(coco_gt, detections, image_ids)
        else:
            logger.warning("tidecv is not installed: no error breakdown (see docs/install.md: the tide extra)")
    file_names = {i: coco_gt.imgs[i].get("file_name", "") for i in image_ids}
    return ViewsEvaluation(
        views=views,
        image_ids=image_ids,
        file_names=file_names,
        metrics=metrics,
        per_image_ap=per_image,
        outcomes=outcomes,
        detections={v: {i: np.asarray(detections[v].get(i, np.zeros((0, 6)))) for i in image_ids} for v in views},
        skipped=list(skipped),
        per_image_ap_strict=per_image_strict,
        outcomes_strict=outcomes_strict,
        strict_score=strict_score,
        paired=paired,
        errors=errors,
    )


class FrequencyViewsEvaluator(DatasetEvaluator):
    """Keeps each view's detections per image; evaluates every view with one COCOeval.

    ``process(inputs, outputs)``: ``inputs`` are :class:`FrequencyDatasetMapper` outputs;
    ``outputs[k]`` is ``{view: model output dict with "instances"}`` for input ``k``, or
    ``None`` for an input marked ``"skipped"``. ``evaluate()`` returns detectron2-style
    ``{view: {"AP": ..., ...}}`` on the main process (``{}`` elsewhere) and keeps the full
    :class:`ViewsEvaluation` in ``self.result``.
    """

    def __init__(self, dataset_name: str, views: Sequence[str], distributed: bool = True,
                 store=None, coco_backend: Optional[str] = None, strict_score: float = DEFAULT_STRICT_SCORE,
                 error_breakdown: bool = False):
        self._views = list(views)
        self._distributed = distributed
        # a DetectionStore (hfc_det.evaluation.store) that saves finished images for a resume
        self._store = store
        self._coco_backend = check_backend(coco_backend)  # now, not after hours of inference
        self._strict_score = check_strict_score(strict_score, "strict_score")
        self._error_breakdown = bool(error_breakdown)
        self._preloaded: Dict[str, Dict[int, np.ndarray]] = {v: {} for v in self._views}
        self._metadata = MetadataCatalog.get(dataset_name)
        json_file = PathManager.get_local_path(self._metadata.json_file)
        with contextlib.redirect_stdout(io.StringIO()):
            self._coco_api = COCO(json_file)
        if "thing_dataset_id_to_contiguous_id" not in self._metadata.as_dict():
            DatasetCatalog.get(dataset_name)  # loading the json records the id mapping
        mapping = self._metadata.get("thing_dataset_id_to_contiguous_id", None)
        self._to_dataset_id = {v: k for k, v in mapping.items()} if mapping else None
        self.result: Optional[ViewsEvaluation] = None
        self.reset()

    def reset(self):
        self._detections: Dict[str, Dict[int, np.ndarray]] = {v: {} for v in self._views}
        self._image_ids: List[int] = []
        self._skipped: List[dict] = []
        self.result = None

    def preload(self, detections: Mapping[str, Mapping[int, np.ndarray]]) -> None:
        """Detections of images finished by an earlier run (``{view: {image_id: (N, 6)}}``),
        gathered and evaluated with this run's; ``reset()`` keeps them. In a distributed run
        each image must be preloaded by one process only."""
        for v in self._views:
            self._preloaded[v] = dict(detections[v])

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            image_id = int(inp["image_id"])
            if "skipped" in inp:
                self._skipped.append({"image_id": image_id, "file_name": inp.get("file_name", ""), "reason": inp["skipped"]})
                continue
            self._image_ids.append(image_id)
            for view in self._views:
                self._detections[view][image_id] = instances_to_array(out[view]["instances"], self._to_dataset_id)
            if self._store is not None:
                self._store.add(image_id, {v: self._detections[v][image_id] for v in self._views})

    def save_finished(self) -> None:
        """Write the finished images not saved yet to the store (if there is one)."""
        if self._store is not None:
            self._store.flush()

    def evaluate(self):
        self.save_finished()
        detections = {v: {**self._preloaded[v], **self._detections[v]} for v in self._views}
        image_ids = list(self._preloaded[self._views[0]]) + self._image_ids if self._views else self._image_ids
        state = {"detections": detections, "image_ids": image_ids, "skipped": self._skipped}
        if self._distributed:
            comm.synchronize()
            parts = comm.gather(state, dst=0)
            if not comm.is_main_process():
                return {}
        else:
            parts = [state]
        detections = {v: {} for v in self._views}
        image_ids, skipped = [], []
        for part in parts:
            for v in self._views:
                detections[v].update(part["detections"][v])
            image_ids += part["image_ids"]
            skipped += part["skipped"]
        # count an image once, whichever processes saw it
        skipped = list({s["image_id"]: s for s in skipped}.values())
        if not image_ids:
            logger.warning("no image could be evaluated (%d skipped)", len(skipped))
        self.result = evaluate_detections(self._coco_api, detections, set(image_ids),
                                          sorted(skipped, key=lambda s: s["image_id"]), backend=self._coco_backend,
                                          strict_score=self._strict_score, error_breakdown=self._error_breakdown)
        return OrderedDict((v, copy.deepcopy(self.result.metrics[v])) for v in self._views)
