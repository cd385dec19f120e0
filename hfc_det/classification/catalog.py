"""What the classification tools' parsers need to know, without torch: the datasets, the
architectures and the experiment suites.

This module exists so that ``tools/train_cifar.py``, ``tools/run_experiments.py`` and the
other classification tools build their argument parsers (``choices=``, help texts) from
plain data: ``--help`` and argument errors then answer before torch loads. It imports
nothing but the standard library. :mod:`.data`, :mod:`.models` and :mod:`.experiments`
re-export these names, so ``from hfc_det.classification.data import DATASETS`` keeps working.

Units: image sizes in pixels (square images), radii in frequency bins (distance from the
centred spectrum's zero frequency, as in :mod:`hfc_det.views.frequency`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

__all__ = ["DatasetInfo", "DATASETS", "dataset_info", "MODEL_NAMES", "SUITES_DIR", "list_suites"]


@dataclass(frozen=True)
class DatasetInfo:
    """What the code needs to know about a dataset before loading it."""

    name: str
    channels: int
    size: int  # square images: height = width = size pixels
    num_classes: int
    default_track_radii: Tuple[float, ...]
    folder: str  # what torchvision looks for under the root ("" = bundled, no folder)
    download_size: str


DATASETS: Dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo("cifar10", 3, 32, 10, (4, 8, 12, 16), "cifar-10-batches-py", "170 MB"),
    "mnist": DatasetInfo("mnist", 1, 28, 10, (4, 8, 12, 16), "MNIST/raw", "12 MB"),
    "fashionmnist": DatasetInfo("fashionmnist", 1, 28, 10, (4, 8, 12, 16), "FashionMNIST/raw", "30 MB"),
    # 8x8 images: radius 4 already keeps almost the whole spectrum (max distance 5.66).
    "digits": DatasetInfo("digits", 1, 8, 10, (1, 2, 3, 4), "", "bundled with scikit-learn"),
}


def dataset_info(name: str) -> DatasetInfo:
    """:class:`DatasetInfo` by name, with a clear error for an unknown one."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


#: The architectures of :func:`hfc_det.classification.models.build_model`, in its order
#: (``tests/test_cls_catalog.py`` checks that the two lists agree).
MODEL_NAMES: Tuple[str, ...] = ("resnet18", "lenet", "alexnet", "vgg11", "vgg16")

#: One folder of run configs per suite (``configs/cifar/<suite>/*.yaml``).
SUITES_DIR = Path(__file__).resolve().parents[1] / "configs" / "cifar"  # package data (setup.py)


def list_suites(config_dir: Path = SUITES_DIR) -> List[str]:
    """The suites: folders of ``config_dir`` holding at least one ``*.yaml``, sorted."""
    return sorted(p.name for p in config_dir.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
