"""Image-classification data as tensors, and the paper's transforms of it.

Datasets load once into memory as float tensors ``(N, C, H, W)`` in [0, 1] with int64
labels: no per-sample PIL decoding during training. CIFAR-10, MNIST and FashionMNIST go
through torchvision's own loaders (so the on-disk format and its checks are torchvision's);
``digits`` is scikit-learn's bundled 8x8 handwritten digits, a real dataset that needs
no download.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from hfc_det.views.frequency import max_radius, rescale_by_max, split_frequencies, view_name
from hfc_det.views.grammar import compute_views
from hfc_det.classification.catalog import DATASETS, DatasetInfo, dataset_info  # re-exported: the parsers' torch-free facts

__all__ = [
    "DatasetInfo",
    "DATASETS",
    "DatasetNotFoundError",
    "dataset_info",
    "load_dataset",
    "shuffle_labels",
    "rescale_by_max",
    "training_view",
    "tracked_views",
    "check_radius_for_size",
]


Split = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not on disk; the message says where we looked and how to get it."""


def _torchvision_split(name: str, root: Path, train: bool, download: bool):
    import torchvision

    cls = {"cifar10": torchvision.datasets.CIFAR10, "mnist": torchvision.datasets.MNIST,
           "fashionmnist": torchvision.datasets.FashionMNIST}[name]
    info = DATASETS[name]
    try:
        return cls(str(root), train=train, download=download)
    except RuntimeError as exc:
        # torchvision raises RuntimeError("Dataset not found or corrupted ...") for a
        # missing folder and for files whose md5 does not match.
        raise DatasetNotFoundError(
            f"{name} not found (or corrupted) in {root / info.folder}; rerun with --download "
            f"to fetch it ({info.download_size}) or point --data-root at the folder that "
            f"contains {info.folder.split('/')[0]}/ ({exc})"
        ) from None
    except OSError as exc:  # urllib's URLError and socket errors: no network, or none that answers
        raise DatasetNotFoundError(
            f"cannot download {name} ({info.download_size}) into {root}: {getattr(exc, 'reason', exc)}; "
            f"without internet, copy {info.folder.split('/')[0]}/ there from a machine that has it"
        ) from None


def _to_float_images(data) -> torch.Tensor:
    """uint8 ``(N, H, W)`` or ``(N, H, W, C)`` -> float32 ``(N, C, H, W)`` in [0, 1]."""
    t = torch.as_tensor(np.asarray(data))
    if t.dim() == 3:
        t = t.unsqueeze(-1)
    return t.permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def _load_digits(seed: int = 0) -> Split:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise DatasetNotFoundError("the digits dataset ships with scikit-learn: pip install scikit-learn") from None

    digits = load_digits()
    # sklearn's digits are 4-bit intensities, 0..16.
    x = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(digits.target.astype(np.int64))
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=0.25, random_state=seed, stratify=digits.target
    )
    idx_train, idx_test = torch.from_numpy(idx_train), torch.from_numpy(idx_test)
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def load_dataset(name: str, root="data", download: bool = False) -> Split:
    """Load a whole dataset into memory.

    Args:
        name: ``cifar10``, ``mnist``, ``fashionmnist`` or ``digits``.
        root: folder holding torchvision's layout (``cifar-10-batches-py/``, ``MNIST/raw``,
            ``FashionMNIST/raw``); unused for ``digits``.
        download: let torchvision download into ``root`` when missing.

    Returns:
        ``(train_x, train_y, test_x, test_y)``: float32 ``(N, C, H, W)`` in [0, 1] and
        int64 ``(N,)`` labels. ``digits`` is split 75/25, stratified, with seed 0.

    Raises:
        DatasetNotFoundError: the files are not under ``root`` (message says where and how
            to download).
    """
    info = dataset_info(name)
    if name == "digits":
        return _load_digits()
    root = Path(root)
    out = []
    for train in (True, False):
        ds = _torchvision_split(name, root, train, download)
        out += [_to_float_images(ds.data), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)]
    train_x, train_y, test_x, test_y = out
    assert train_x.shape[1:] == (info.channels, info.size, info.size), train_x.shape
    return train_x, train_y, test_x, test_y


def shuffle_labels(labels: torch.Tensor, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """The paper's shuffled-label set-up: one seeded permutation of the label vector.

    Returns ``(labels[perm], perm)``; the same seed gives the same permutation, so the
    shuffle is fixed once and reused (and saved with the run).
    """
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(labels), generator=gen)
    return labels[perm], perm


def check_radius_for_size(radius: float, size: int, what: str = "radius") -> float:
    """Reject radii that say nothing for ``size x size`` images (<= 0 or past the corner)."""
    r = float(radius)
    top = max_radius(size, size)
    if not math.isfinite(r) or r <= 0 or r > top:
        raise ValueError(
            f"{what} {radius!r} makes no sense for {size}x{size} images: it must be in "
            f"(0, {top:.2f}] (at or beyond {top:.2f} the low part is the whole image)"
        )
    return r


def training_view(images: torch.Tensor, train_on: str, radius: Optional[float] = None,
                  chunk: int = 10000) -> torch.Tensor:
    """What the model is trained on: the images, or their LFC/HFC rescaled by their max.

    ``train_on`` is ``original``, ``low`` or ``high``; ``radius`` is required for the latter.
    Computed in chunks of ``chunk`` images to bound the FFT's temporary memory.
    """
    if train_on == "original":
        return images
    if train_on not in ("low", "high"):
        raise ValueError(f"train_on must be original, low or high, got {train_on!r}")
    if radius is None:
        raise ValueError(f"training on {train_on} needs a radius")
    parts = []
    for start in range(0, len(images), chunk):
        low, high = split_frequencies(images[start:start + chunk], radius)
        parts.append(rescale_by_max(low if train_on == "low" else high))
    return torch.cat(parts)


def tracked_views(images: torch.Tensor, radii: Sequence[float], device=None,
                  chunk: int = 5000, views: Sequence[str] = ()) -> Dict[str, torch.Tensor]:
    """The views of a whole split, computed in chunks and stored on ``device``.

    Returns ``{"original", "low_r{R}", "high_r{R}"}`` and the named ``views`` (``band_r4-8``,
    ``blur_s1``, ...: :func:`hfc_det.views.grammar.compute_views`) -> ``(N, C, H, W)`` float32,
    unscaled (the raw frequency components, as the paper evaluates them).
    """
    names = ["original"] + [view_name(kind, r) for r in radii for kind in ("low", "high")] + list(views)
    out: Dict[str, list] = {}
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk].to(device)
        for name, view in compute_views(part, names).items():
            out.setdefault(name, []).append(view)
    return {name: torch.cat(parts) for name, parts in out.items()}

