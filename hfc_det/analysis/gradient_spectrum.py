"""Gradient spectra: where in frequency a model's loss is sensitive to its input.

For an input gradient ``g = dL/dx`` (``C x H x W``), the power spectrum is
``P(u, v) = sum_c |FFT2(g_c)(u, v)|^2``, shifted so that the zero frequency sits at
``(H // 2, W // 2)``; a run's spectrum is the mean of ``P`` over images. Its radial profile
is the mean power per ring of radius ``round(d)`` frequency bins around that centre, and,
for images of several sizes, per ring of width ``1 / bins`` in cycles per pixel
(:func:`radial_profile`).

numpy and torch only: no detectron2, no classification code.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

__all__ = ["power_spectrum", "radial_profile", "centred_distance"]


def centred_distance(height: int, width: int) -> np.ndarray:
    """``(H, W)`` distance of each bin of a centred spectrum from ``(H // 2, W // 2)``, bins."""
    i = np.arange(height)[:, None] - height // 2
    j = np.arange(width)[None, :] - width // 2
    return np.sqrt(i * i + j * j)


def power_spectrum(gradients: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` gradients -> ``(N, H, W)`` float64 channel-summed power spectra,
    zero frequency at ``(H // 2, W // 2)``."""
    if gradients.dim() != 4:
        raise ValueError(f"gradients must be (N, C, H, W), got shape {tuple(gradients.shape)}")
    f = torch.fft.fft2(gradients.detach().to(torch.float64))
    power = (f.real ** 2 + f.imag ** 2).sum(dim=1)
    return torch.fft.fftshift(power, dim=(-2, -1)).cpu().numpy()


def radial_profile(spectrum: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of an ``(H, W)`` centred spectrum over rings of integer radius.

    Returns ``(radius, mean, cycles)``: ``radius`` 0, 1, ... (bins, distance rounded to the
    nearest integer), the mean power in each ring, and the ring's frequency in cycles per
    pixel along the shorter axis (``radius / min(H, W)``). Rings with no bin are left out.
    """
    h, w = spectrum.shape
    ring = np.rint(centred_distance(h, w)).astype(np.int64)
    sums = np.bincount(ring.ravel(), weights=spectrum.ravel())
    counts = np.bincount(ring.ravel())
    keep = counts > 0
    radius = np.nonzero(keep)[0]
    return radius, sums[keep] / counts[keep], radius / min(h, w)
