"""First-layer kernel smoothing, the training-free defence of Wang et al. (CVPR 2020), Eq. 3.

Each spatial kernel ``w`` of the first convolution becomes
``w'[i, j] = w[i, j] + rho * sum of its eight neighbours``, i.e. ``w`` convolved with
``[[rho, rho, rho], [rho, 1, rho], [rho, rho, rho]]`` at the same size. Out-of-kernel
neighbours repeat the edge values (the authors' ``scipy.signal.convolve2d(...,
boundary='symm', mode='same')``; mirroring *including* the edge by one pixel is exactly
edge replication). There is no renormalisation, as in the authors' code, so the layer's
gain grows with ``rho``. Smoothing runs over the two SPATIAL axes: one public PyTorch port
mixes the output/input channel axes instead, which is not the method.

Works on this project's classifiers and on detectron2 models (RetinaNet's first layer is
``backbone.bottom_up.stem.conv1``); detectron2 itself is never imported here.
"""
from __future__ import annotations

import copy
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["smooth_kernels", "smoothing_mask", "first_conv", "smooth_first_layer"]

# Where the image-facing convolution lives in models whose module order does not put it
# first. detectron2's FPN registers its lateral/output convolutions BEFORE it stores the
# bottom-up network, so "first Conv2d in model.modules()" would pick an FPN conv there.
_KNOWN_FIRST_CONVS = (
    "backbone.bottom_up.stem.conv1",  # detectron2 RetinaNet / R-CNN with FPN
    "backbone.stem.conv1",  # detectron2 backbone without FPN
    "stem.conv1",  # a bare detectron2 ResNet
)


def _check_rho(rho) -> float:
    r = float(rho)
    if not math.isfinite(r):
        raise ValueError(f"rho must be finite, got {rho!r}")
    if r < 0:
        raise ValueError(f"rho must be >= 0, got {rho!r}")
    return r


def smoothing_mask(rho: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """The 3x3 mask of Eq. 3: ``rho`` on the eight neighbours, 1 in the centre."""
    mask = torch.full((3, 3), _check_rho(rho), dtype=dtype, device=device)
    mask[1, 1] = 1.0
    return mask


def smooth_kernels(weight: torch.Tensor, rho: float) -> torch.Tensor:
    """Smooth every spatial kernel of a convolution weight (Eq. 3).

    Args:
        weight: ``(out_channels, in_channels, kh, kw)`` float tensor, any device.
        rho: neighbour weight, >= 0; ``0`` returns an unchanged copy.

    Returns:
        A new tensor of the same shape, dtype and device; ``weight`` is not modified.
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a (out, in, kh, kw) tensor, got {shape}")
    if not weight.is_floating_point():
        raise TypeError(f"weight must be floating point, got {weight.dtype}")
    r = _check_rho(rho)
    w = weight.detach()
    if r == 0.0:
        return w.clone()
    out_c, in_c, kh, kw = w.shape
    flat = w.reshape(out_c * in_c, 1, kh, kw)
    padded = F.pad(flat, (1, 1, 1, 1), mode="replicate")
    # The mask is symmetric, so conv2d's cross-correlation equals the convolution of Eq. 3.
    smoothed = F.conv2d(padded, smoothing_mask(r, w.dtype, w.device)[None, None])
    return smoothed.reshape(out_c, in_c, kh, kw)


def _get_submodule(model: nn.Module, path: str) -> Optional[nn.Module]:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def first_conv(model: nn.Module, layer: Optional[str] = None) -> Tuple[str, nn.Conv2d]:
    """The convolution that sees the image: ``(dotted name, module)``.

    ``layer`` names it explicitly; otherwise a known detectron2 stem path, else the first
    ``nn.Conv2d`` in ``model.named_modules()`` order (right for torchvision-style models
    and this project's classifiers, which define the stem first).
    """
    candidates = (layer,) if layer else _KNOWN_FIRST_CONVS
    for path in candidates:
        module = _get_submodule(model, path)
        if isinstance(module, nn.Conv2d):
            return path, module
        if layer:
            raise ValueError(f"model has no Conv2d named {layer!r}")
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError(f"{type(model).__name__} has no Conv2d layer to smooth")


def smooth_first_layer(model: nn.Module, rho: float, layer: Optional[str] = None) -> nn.Module:
    """A deep copy of ``model`` whose first convolution's kernels are smoothed (Eq. 3).

    Only the weight changes (bias, normalisation and every other layer are kept); the
    original model is untouched. ``layer`` overrides which convolution is "first".
    """
    _check_rho(rho)
    smoothed = copy.deepcopy(model)
    _, conv = first_conv(smoothed, layer)
    with torch.no_grad():
        conv.weight.copy_(smooth_kernels(conv.weight, rho))
    return smoothed
