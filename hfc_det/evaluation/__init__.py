"""Evaluation: per-image AP from one COCOeval pass (pycocotools or faster-coco-eval), the
frequency-views evaluator, the gain/loss comparison, the output contract, the resumable
detection store and the evaluation run behind ``tools/eval_lfc.py``.

Names are imported on first use (PEP 562), so ``hfc_det.metrics.image_ap``,
``coco_backends`` and ``store`` load without detectron2; ``evaluator``, ``outputs`` and
``run`` import it (after :mod:`hfc_det.compat`) when one of their names is asked for.
"""
from hfc_det.utils.lazy import lazy_exports

_EXPORTS = {
    "per_image_ap": "hfc_det.metrics.coco_backends",
    "evaluate_boxes": "hfc_det.metrics.coco_backends",
    "COCO_BACKENDS": "hfc_det.metrics.coco_backends",
    "per_image_ap_from_eval": "hfc_det.metrics.image_ap",
    "load_results": "hfc_det.metrics.image_ap",
    "FrequencyViewsEvaluator": ".evaluator",
    "ViewsEvaluation": ".evaluator",
    "evaluate_detections": ".evaluator",
    "compare_to_original": ".evaluator",
    "COCO_METRICS": ".evaluator",
    "OUTCOMES": ".evaluator",
    "write_outputs": ".outputs",
    "format_table": ".outputs",
    "DetectionStore": ".store",
    "OutputMismatchError": ".store",
    "prepare_output": ".store",
    "run_fingerprint": ".store",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
