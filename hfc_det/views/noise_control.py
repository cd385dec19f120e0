"""The control view ``noise_r{R}``: the original plus white noise as strong as the HFC at R.

Removing the high-frequency component at radius ``R`` changes an image by exactly its HFC
``h = x - low_rR(x)``. The control changes it by the same amount with no frequency
selectivity: ``noise_rR(x) = x + n`` where, per image and channel, ``n`` is zero-mean
Gaussian white noise rescaled so that ``||n||_2 == ||h||_2`` over the ``H x W`` plane. How
many images "gain" under the control is how many gains any change of that size produces.

The noise is drawn from ``numpy.random.default_rng(SeedSequence([tag, seed]))`` with the
image id as ``seed`` (PCG64: the same numbers on every platform, in every process and in
every re-run), in float64, once per image: every radius scales the same draw. Imports
neither detectron2 nor the classification code.
"""
from __future__ import annotations

from typing import Dict, Mapping, Union

import numpy as np
import torch

from hfc_det.views.frequency import ArrayLike, _format_radius, _check_radius

__all__ = ["NOISE_KIND", "noise_view_name", "standard_noise",
           "matched_noise", "noise_views"]

#: The view kind of the control (``noise_r{R}``).
NOISE_KIND = "noise"
# Mixed into every seed, so that this noise is not the stream another user of the image id
# as a seed would draw ("nois" in ASCII).
_SEED_TAG = 0x6E6F6973


def noise_view_name(radius: float) -> str:
    """``noise_r16``, ``noise_r2.5`` (the radius printed as in ``low_r16``)."""
    return f"{NOISE_KIND}_r{_format_radius(_check_radius(radius))}"


def standard_noise(shape, seed: int) -> np.ndarray:
    """Standard normal float64 noise of ``shape``, the same for the same ``seed`` (>= 0) everywhere."""
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"the noise seed (image id) must be >= 0, got {seed}")
    return np.random.default_rng(np.random.SeedSequence([_SEED_TAG, seed])).standard_normal(tuple(shape))


def _plane_norms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=(-2, -1), keepdims=True))


def matched_noise(high: ArrayLike, seed: int, noise: Union[np.ndarray, None] = None) -> ArrayLike:
    """White noise with the L2 norm of ``high`` over each ``H x W`` plane.

    Args:
        high: the HFC, ``...HW`` tensor or array (per image and channel: a plane).
        seed: the image id.
        noise: a :func:`standard_noise` draw of ``high``'s shape to rescale (default: drawn).

    Returns:
        The noise, with ``high``'s type, shape, dtype and device; zero where ``high`` is.
    """
    as_torch = isinstance(high, torch.Tensor)
    h = high.detach().cpu().double().numpy() if as_torch else np.asarray(high, dtype=np.float64)
    z = standard_noise(h.shape, seed) if noise is None else np.asarray(noise, dtype=np.float64)
    if z.shape != h.shape:
        raise ValueError(f"noise shape {z.shape} differs from the HFC's {h.shape}")
    zn = _plane_norms(z)
    n = z * np.divide(_plane_norms(h), zn, out=np.zeros_like(zn), where=zn > 0)
    if as_torch:
        return torch.from_numpy(n).to(device=high.device, dtype=high.dtype)
    return n.astype(high.dtype if np.issubdtype(np.asarray(high).dtype, np.floating) else np.float32)


def noise_views(images: ArrayLike, highs: Mapping[float, ArrayLike], seed: int) -> Dict[str, ArrayLike]:
    """``{noise_rR: images + matched_noise(highs[R], seed)}`` for every radius of ``highs``.

    Args:
        images: one image's views' source, ``...HW`` (e.g. ``CHW``), float.
        highs: ``{R: HFC of images at R}``, each of ``images``' shape.
        seed: the image id (one draw, shared by every radius).
    """
    z = None
    out = {}
    for radius, high in highs.items():
        if z is None:
            z = standard_noise(tuple(high.shape), seed)
        out[noise_view_name(radius)] = images + matched_noise(high, seed, noise=z)
    return out
