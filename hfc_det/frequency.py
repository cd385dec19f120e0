"""The low/high frequency split of Wang et al. (CVPR 2020), Section 3.1.

Per channel: ``F = fftshift(fft2(x))``; ``M[i, j] = 1`` where the Euclidean distance of
``(i, j)`` from the centroid ``(H // 2, W // 2)`` is strictly less than ``r``;
``low = real(ifft2(ifftshift(F * M)))`` and ``high = real(ifft2(ifftshift(F * (1 - M))))``.

The radial mask is point-symmetric around the zero frequency, so ``F * M`` is Hermitian and
its inverse transform is real: the real-input transforms (``rfft``/``irfft``) give the
same result at half the cost, and the imaginary part the paper discards is zero up to
rounding. ``high`` is computed as ``x - low``, which keeps ``low + high == x`` exact up to
one float rounding and saves one inverse transform.

This module imports neither detectron2 nor the classification code.
"""
from __future__ import annotations

import functools
import math
import numbers
from typing import Dict, Iterable, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    "split_frequencies",
    "frequency_views",
    "radial_mask",
    "view_name",
    "parse_view_name",
    "max_radius",
    "rescale_by_max",
    "as_tensor",
    "check_image_shape",
    "compute_dtypes",
    "restore_type",
]

ArrayLike = Union[torch.Tensor, np.ndarray]


def _format_radius(radius: float) -> str:
    r = float(radius)
    return str(int(r)) if r.is_integer() else repr(r)


def view_name(kind: str, radius: float) -> str:
    """Canonical view name: ``low_r8``, ``high_r128``, ``low_r2.5`` (integers printed bare)."""
    if kind not in ("low", "high"):
        raise ValueError(f"view kind must be 'low' or 'high', got {kind!r}")
    return f"{kind}_r{_format_radius(radius)}"


def parse_view_name(name: str) -> Tuple[str, float]:
    """Inverse of :func:`view_name`; ``"original"`` gives ``("original", nan)``.

    Raises ``ValueError`` for anything else.
    """
    if name == "original":
        return "original", float("nan")
    kind, sep, rest = name.partition("_r")
    if kind in ("low", "high") and sep:
        try:
            radius = float(rest)
        except ValueError:
            pass
        else:
            _check_radius(radius)
            return kind, radius
    raise ValueError(
        f"unknown view {name!r}: expected 'original', 'low_r<R>' or 'high_r<R>' (e.g. low_r8)"
    )


def max_radius(height: int, width: int) -> float:
    """Largest distance from the centroid ``(H // 2, W // 2)`` to any frequency bin.

    A radius strictly above it keeps the whole spectrum in the low part.
    """
    dy = max(height // 2, height - 1 - height // 2)
    dx = max(width // 2, width - 1 - width // 2)
    return math.sqrt(dy * dy + dx * dx)


def _check_radius(radius) -> float:
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        raise TypeError(f"radius must be a real number, got {type(radius).__name__}")
    r = float(radius)
    if not math.isfinite(r):
        raise ValueError(f"radius must be finite, got {radius!r}")
    if r <= 0:
        raise ValueError(f"radius must be > 0 (the low part would be empty), got {radius!r}")
    return r


def _signed_frequencies(n: int) -> np.ndarray:
    # Index u of an unshifted spectrum sits at distance u (u < ceil(n/2)) or u - n from
    # the zero frequency once fftshift has moved it to n // 2: exactly fftfreq(n) * n.
    return np.rint(np.fft.fftfreq(n) * n)


@functools.lru_cache(maxsize=32)
def _centered_mask_np(height: int, width: int, radius: float) -> np.ndarray:
    i = np.arange(height, dtype=np.float64)[:, None] - height // 2
    j = np.arange(width, dtype=np.float64)[None, :] - width // 2
    return np.sqrt(i * i + j * j) < radius


def radial_mask(height: int, width: int, radius: float, device=None) -> torch.Tensor:
    """Boolean low-pass mask in the centered (``fftshift``) layout.

    Returns a ``(height, width)`` bool tensor, True where the distance from
    ``(height // 2, width // 2)`` is strictly less than ``radius`` (in frequency bins).
    """
    r = _check_radius(radius)
    if height <= 0 or width <= 0:
        raise ValueError(f"mask size must be positive, got {height}x{width}")
    return torch.from_numpy(_centered_mask_np(int(height), int(width), r).copy()).to(device)


@functools.lru_cache(maxsize=64)
def _half_spectrum_mask(height: int, width: int, radius: float, device: str) -> torch.Tensor:
    """The same mask in the unshifted layout, restricted to ``rfft2``'s ``W // 2 + 1`` columns."""
    fy = _signed_frequencies(height)[:, None]
    fx = np.abs(_signed_frequencies(width)[: width // 2 + 1])[None, :]
    mask = np.sqrt(fy * fy + fx * fx) < radius
    return torch.from_numpy(mask).to(device)


def as_tensor(images: ArrayLike, what: str = "images") -> Tuple[torch.Tensor, bool]:
    """``(tensor, was_numpy)``: numpy arrays become tensors (shared memory); complex or
    non-numeric input is a one-line ``TypeError`` naming ``what``."""
    if isinstance(images, np.ndarray):
        if np.iscomplexobj(images):
            raise TypeError(f"{what} must be real, got complex dtype {images.dtype}")
        if images.dtype == object or not (
            np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_
        ):
            raise TypeError(f"{what} must be a numeric array, got dtype {images.dtype}")
        return torch.from_numpy(np.ascontiguousarray(images)), True
    if isinstance(images, torch.Tensor):
        if images.is_complex():
            raise TypeError(f"{what} must be real, got complex dtype {images.dtype}")
        return images, False
    raise TypeError(f"{what} must be a torch.Tensor or numpy.ndarray, got {type(images).__name__}")


def check_image_shape(x: torch.Tensor) -> None:
    """``(..., H, W)`` with no empty axis, else a one-line ``ValueError``."""
    if x.dim() < 2:
        raise ValueError(
            f"images need at least two axes (height, width), got shape {tuple(x.shape)}"
        )
    if x.numel() == 0:
        raise ValueError(f"images have an empty axis: shape {tuple(x.shape)}")


def compute_dtypes(dtype: torch.dtype) -> Tuple[torch.dtype, torch.dtype]:
    """(compute dtype, result dtype): half precision computes in float32, ints give float32."""
    if dtype == torch.float64:
        return torch.float64, torch.float64
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32, dtype
    return torch.float32, torch.float32


def restore_type(t: torch.Tensor, as_numpy: bool) -> ArrayLike:
    """``t`` back as numpy when the input was numpy (see :func:`as_tensor`)."""
    if not as_numpy:
        return t
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.float()
    return t.numpy()


def _kept_columns(width: int, radius: float) -> int:
    """Columns of the half spectrum with ``|fx| < radius``: the only ones a low part uses."""
    return min(width // 2 + 1, math.ceil(radius))


def _views_tensor(x: torch.Tensor, radii: Sequence[float]) -> Dict[float, Tuple[torch.Tensor, torch.Tensor]]:
    compute, result = compute_dtypes(x.dtype)
    xc = x.to(compute)
    h, w = x.shape[-2:]
    # A pruned 2-D transform: the mask is zero outside |fx| < r, so after the real transform
    # along the width only the first ceil(r) columns need the transform along the height,
    # and the inverse along the width zero-pads them back (irfft's n=W). At COCO size and
    # r = 128 this does about half the work of rfft2/irfft2.
    inside = [r for r in radii if r <= max_radius(h, w)]
    spectrum = None
    if inside:
        cols = max(_kept_columns(w, r) for r in inside)
        spectrum = torch.fft.fft(torch.fft.rfft(xc, dim=-1)[..., :cols], dim=-2)
    out = {}
    for r in radii:
        if r > max_radius(h, w):  # the whole spectrum is low: exact, and no transform
            low = xc.clone()
        else:
            cols = _kept_columns(w, r)
            mask = _half_spectrum_mask(h, w, r, str(x.device))[:, :cols]
            low = torch.fft.irfft(torch.fft.ifft(spectrum[..., :cols] * mask, dim=-2), n=w, dim=-1)
        high = xc - low
        out[r] = (low.to(result), high.to(result))
    return out


def split_frequencies(images: ArrayLike, radius: float) -> Tuple[ArrayLike, ArrayLike]:
    """Split images into their low- and high-frequency components at ``radius``.

    Args:
        images: ``torch.Tensor`` or ``numpy.ndarray`` whose last two axes are height and
            width (``HW``, ``CHW``, ``NCHW``, ...), any real dtype, any device.
        radius: mask radius in frequency bins, > 0; distance ``< radius`` is "low".

    Returns:
        ``(low, high)``, same type, shape and device as ``images``; floating dtypes are
        kept (half precision is computed in float32), integer input gives float32.
        ``low + high == images`` up to float rounding. Nothing is clipped or rounded.
    """
    r = _check_radius(radius)
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    low, high = _views_tensor(x, [r])[r]
    return restore_type(low, as_numpy), restore_type(high, as_numpy)


def frequency_views(images: ArrayLike, radii: Union[float, Iterable[float]]) -> Dict[str, ArrayLike]:
    """All views of ``images``, with one forward transform shared by every radius.

    Returns a dict with ``"original"`` (the input, converted to the result dtype) and
    ``low_r{R}`` / ``high_r{R}`` for each radius (see :func:`view_name`), each the same
    type, shape and device as ``images``.
    """
    if isinstance(radii, numbers.Real):
        radii = [radii]
    rs = [_check_radius(r) for r in radii]
    if not rs:
        raise ValueError("radii must name at least one radius")
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    _, result = compute_dtypes(x.dtype)
    views = {"original": restore_type(x.to(result), as_numpy)}
    for r, (low, high) in _views_tensor(x, list(dict.fromkeys(rs))).items():
        views[view_name("low", r)] = restore_type(low, as_numpy)
        views[view_name("high", r)] = restore_type(high, as_numpy)
    return views


def rescale_by_max(images: torch.Tensor, peak_value: float = 1.0, eps: float = 1e-8) -> torch.Tensor:
    """The authors' per-image rescale ``img / img.max() * peak_value`` (their code: 255).

    ``images``: ``(N, ...)`` float; each image ``images[n]`` (over all its channels and
    pixels) is divided by its own maximum, so its largest value becomes ``peak_value``;
    negative values (LFC ringing, the zero-mean HFC) stay negative and nothing is clipped.
    An image whose maximum is <= ``eps`` (a constant image's HFC is all zeros, and an
    HFC's max is > 0 otherwise since it has zero mean) is returned unchanged rather than
    divided by zero or flipped by a negative maximum. Returns a new tensor, same shape and
    dtype.
    """
    peak = images.flatten(1).amax(dim=1).view(-1, *([1] * (images.dim() - 1)))
    ok = peak > eps
    return torch.where(ok, images / torch.where(ok, peak, torch.ones_like(peak)) * peak_value, images)
