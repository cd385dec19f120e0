"""Classification experiments of Wang et al. (CVPR 2020), Sections 4-6: CIFAR-10 and
MNIST-like data with frequency views, the compared architectures, training with the
paper's heuristics, and FGSM/PGD attacks. Needs neither detectron2 nor a GPU.
"""
from .attacks import fgsm, pgd
from .checkpoint import load_checkpoint
from .data import DATASETS, DatasetNotFoundError, load_dataset
from .evaluation import evaluate_views
from .models import MODEL_NAMES, build_model

__all__ = [
    "fgsm",
    "pgd",
    "load_checkpoint",
    "load_dataset",
    "DATASETS",
    "DatasetNotFoundError",
    "evaluate_views",
    "build_model",
    "MODEL_NAMES",
]
