"""Data: the synthetic shapes generator (:mod:`.shapes`, no detectron2) and the
detectron2-facing dataset registration and frequency-view mapper.

Names are imported on first use (PEP 562), so ``hfc_det.data.shapes`` loads without
detectron2; ``datasets`` and ``mapper`` import it (after :mod:`hfc_det.compat`).
"""
from hfc_det.utils.lazy import lazy_exports

_EXPORTS = {
    "register_coco_json": ".datasets",
    "resolve_dataset": ".datasets",
    "dataset_name_for_json": ".datasets",
    "FrequencyDatasetMapper": ".mapper",
    "model_inputs": ".mapper",
    "resize_views": ".mapper",
    "scale_high_frequency": ".mapper",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
