"""Detectron2-facing data: dataset registration and the frequency-view mapper."""
import hfc_det.compat  # noqa: F401  (before any detectron2 import)

from .datasets import dataset_name_for_json, register_coco_json, resolve_dataset
from .mapper import FrequencyDatasetMapper, model_inputs, resize_views, scale_high_frequency

__all__ = [
    "register_coco_json",
    "resolve_dataset",
    "dataset_name_for_json",
    "FrequencyDatasetMapper",
    "model_inputs",
    "resize_views",
    "scale_high_frequency",
]
