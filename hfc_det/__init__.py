"""hfc_det: what a CNN sees in the low and high frequencies of an image.

Folders by layer (a module imports only from its own layer or a lower one; no cycles;
``tests/test_layers.py`` holds the map and enforces it, function-level imports included):

1. numpy/torch, no detectron2: ``utils`` (atomic writes, lazy exports, bundled photos),
   ``cli`` (what the tools' parsers need; standard library only), ``views`` (the frequency
   split, SVD, noise control, Fourier basis, the view-name grammar, display scaling), ``analysis`` (Eq. 3
   smoothing, gradient spectra, Fourier heat maps).
2. ``metrics``, no detectron2: per-image AP, the strict measure, paired statistics, TIDE
   errors, and the reading of an output folder (:func:`load_run` for a notebook).
3. ``classification`` (the CIFAR toolkit, no detectron2) | detection, with detectron2 (imported
   after :mod:`hfc_det.compat`): ``config`` (``get_cfg``, ``add_hfc_config``), ``data``,
   ``evaluation``, ``engine``.
4. ``visualization`` (reads results files and draws) and ``experiments`` (the demo, the
   shortcut experiment).
5. ``tools/``: thin command-line entry points.

The names below load on first use (PEP 562): ``import hfc_det`` imports neither torch nor
pandas, so that a tool's ``--help`` answers at once.
"""
from hfc_det.utils.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    **{name: "hfc_det.views.frequency" for name in ("split_frequencies", "frequency_views", "radial_mask")},
    **{name: "hfc_det.metrics.run_results" for name in ("load_run", "RunResults")},
}
__all__ = [*_EXPORTS, "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
