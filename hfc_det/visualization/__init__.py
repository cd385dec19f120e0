"""Pictures and the static HTML report for hfc_det outputs.

Modules: :mod:`.display` (float views -> uint8 pictures with stated scalings),
:mod:`.spectrum` (log spectra, the LFC/HFC-by-radius grid), :mod:`hfc_det.utils.atomic` (write-then-rename
outputs). The gallery modules that draw detections import detectron2 themselves; importing
this package does not.
"""
from hfc_det.views.display import DISPLAY_SCALINGS, clip_for_display, scale_hfc_for_display, split_views_hwc
from hfc_det.visualization.spectrum import log_spectrum, save_frequency_grid

__all__ = [
    "DISPLAY_SCALINGS",
    "clip_for_display",
    "scale_hfc_for_display",
    "split_views_hwc",
    "log_spectrum",
    "save_frequency_grid",
]
