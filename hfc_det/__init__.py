"""hfc_det: what a CNN sees in the low and high frequencies of an image.

Layer map (a module imports only from its own layer or lower-numbered ones; no cycles;
``tests/test_layers.py`` enforces "no detectron2" for layers 1-2 and classification, and
"no import cycle" for the whole package, function-level imports included):

1. core, numpy/torch only: ``frequency`` (the split, bands and blurs, the divide-by-max
   rescale, shared array helpers), ``svd``, ``views`` (the view-name grammar),
   ``fourier_basis`` (heat-map bases and perturbation), ``gradient_spectrum``, ``smoothing``
   (Eq. 3), ``display``; helpers
   ``atomic``, ``cli``, ``options`` (the tools' parser needs, no torch), ``lazy``,
   ``sample_images``.
2. results and metrics, no detectron2: ``results`` (metric names, gain/loss rule, an output
   folder's reader), ``evaluation.per_image_ap``, ``evaluation.coco_backends``,
   ``evaluation.store``, ``evaluation.batching`` (same-size model batches), ``data.shapes``,
   ``data.annotations`` (the COCO annotation file check), ``heatmap`` and ``spectrum_plots``
   (heat-map and gradient-spectrum outputs).
3. ``classification`` (no detectron2; ``classification.catalog``, ``.tool_options`` and
   ``.errors``, what its tools' parsers need, no torch) | detection (detectron2, imported after
   :mod:`hfc_det.compat`): ``config`` (``get_cfg``), ``data.mapper``, ``data.datasets``,
   ``evaluation.evaluator``, ``evaluation.outputs``, ``evaluation.run``,
   ``evaluation.gradients``, ``engine``, ``demo`` (the `make demo` pipeline), ``run_logging`` (the tools' quiet ``default_setup``).
4. ``visualization``: reads results files and draws (detectron2 only for the panels).
5. ``tools/``: thin command-line entry points.

``hfc_det`` itself, ``hfc_det.evaluation`` and ``hfc_det.data`` import their names on first
use, so their detectron2-free modules load without detectron2 (and ``hfc_det.cli.helpers`` and
``hfc_det.cli.options``, what a tool needs to parse its arguments, without torch).
"""
from hfc_det.utils.lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["split_frequencies", "frequency_views", "radial_mask", "__version__"]

# Imported on first use: ``import hfc_det.cli.helpers`` (every tool's first import) must not load
# torch, so that ``--help`` and argument errors answer at once.
__getattr__, __dir__ = lazy_exports(__name__, {n: "hfc_det.views.frequency" for n in __all__[:3]})
