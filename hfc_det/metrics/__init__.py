"""Results and metrics, without detectron2: per-image AP from one COCOeval pass
(:mod:`.coco_backends`, :mod:`.image_ap`), the strict per-image measure (:mod:`.strict_ap`),
paired statistics (:mod:`.paired_stats`), TIDE's error breakdown (:mod:`.tide_errors`), the
COCO annotation check (:mod:`.annotations`) and the reading of an ``eval_lfc.py`` output
folder (:mod:`.results`; as pandas tables for a notebook: :func:`.run_results.load_run`).

Names load on first use (PEP 562), so importing one module costs only what it imports.
"""
from hfc_det.utils.lazy import lazy_exports

_EXPORTS = {
    "per_image_ap": "hfc_det.metrics.coco_backends",
    "evaluate_boxes": "hfc_det.metrics.coco_backends",
    "per_image_ap_from_eval": "hfc_det.metrics.image_ap",
    "load_results": "hfc_det.metrics.image_ap",
    "load_run": "hfc_det.metrics.run_results",
    "RunResults": "hfc_det.metrics.run_results",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
