"""Classification experiments of Wang et al. (CVPR 2020), Sections 4-6: CIFAR-10 and
MNIST-like data with frequency views, the compared architectures, training with the
paper's heuristics, and FGSM/PGD attacks. Needs neither detectron2 nor a GPU.

Names are imported on first use (PEP 562), so ``hfc_det.classification.catalog`` and
``.tool_options`` (what the tools' parsers need) load without torch.
"""
from hfc_det.utils.lazy import lazy_exports

_EXPORTS = {
    "fgsm": ".attacks",
    "pgd": ".attacks",
    "load_checkpoint": ".checkpoint",
    "load_dataset": ".data",
    "DATASETS": ".catalog",
    "DatasetNotFoundError": ".data",
    "accuracy_per_view": ".evaluation",
    "build_model": ".models",
    "MODEL_NAMES": ".catalog",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
