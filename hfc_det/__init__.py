"""hfc_det: what a CNN sees in the low and high frequencies of an image.

Subpackages that need detectron2 (``hfc_det.data``, ``hfc_det.evaluation``,
``hfc_det.config``) import :mod:`hfc_det.compat` first; :mod:`hfc_det.frequency` and
:mod:`hfc_det.classification` need neither.
"""
from .frequency import frequency_views, radial_mask, split_frequencies

__version__ = "0.1.0"
__all__ = ["split_frequencies", "frequency_views", "radial_mask", "__version__"]
