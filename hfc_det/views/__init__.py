"""Views of an image: the frequency split (Section 3.1), bands and blurs, the truncated-SVD
split, the equal-norm noise control, Fourier basis perturbations, COCO-C corruptions
(:mod:`.corruptions`, the ``imagecorruptions`` library imported on first use), and the view-name grammar
(:mod:`.grammar`, one table of rows) that names them all; :mod:`.display` turns float views
into pictures. numpy/torch only: no detectron2.

The grammar's names are importable from here (``from hfc_det.views import parse_view``);
they load on first use, so ``import hfc_det.views.frequency`` stays light.
"""
from hfc_det.utils.lazy import lazy_exports

_EXPORTS = {name: "hfc_det.views.grammar" for name in (
    "parse_view", "canonical_view_name", "fourier_view_name", "compute_views", "split_view_names",
    "view_axis", "SPLITS", "VIEW_KINDS", "ViewKind")}
_EXPORTS.update({name: "hfc_det.views.corruptions" for name in (
    "corruption_view_names", "BENCHMARK_CORRUPTIONS", "EXTRA_CORRUPTIONS", "ALL_CORRUPTIONS",
    "CORRUPTION_FAMILIES", "SEVERITIES")})
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
