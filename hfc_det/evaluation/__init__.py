"""Evaluation: per-image AP from one COCOeval pass (pycocotools or faster-coco-eval), the
frequency-views evaluator, the gain/loss comparison, the output contract, the resumable
detection store and the evaluation run behind ``tools/eval_lfc.py``."""
import hfc_det.compat  # noqa: F401  (before any detectron2 import)

from .coco_backends import COCO_BACKENDS, evaluate_boxes
from .evaluator import (
    COCO_METRICS,
    OUTCOMES,
    FrequencyViewsEvaluator,
    ViewsEvaluation,
    compare_to_original,
    evaluate_detections,
)
from .outputs import format_table, write_outputs
from .per_image_ap import load_results, per_image_ap, per_image_ap_from_eval
from .store import DetectionStore, OutputMismatchError, prepare_output, run_fingerprint

__all__ = [
    "per_image_ap",
    "per_image_ap_from_eval",
    "load_results",
    "FrequencyViewsEvaluator",
    "ViewsEvaluation",
    "evaluate_detections",
    "compare_to_original",
    "write_outputs",
    "format_table",
    "COCO_METRICS",
    "OUTCOMES",
    "COCO_BACKENDS",
    "evaluate_boxes",
    "DetectionStore",
    "OutputMismatchError",
    "prepare_output",
    "run_fingerprint",
]
