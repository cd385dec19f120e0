"""The low/high frequency split of Wang et al. (CVPR 2020), Section 3.1.

Per channel: ``F = fftshift(fft2(x))``; ``M[i, j] = 1`` where the Euclidean distance of
``(i, j)`` from the centroid ``(H // 2, W // 2)`` is strictly less than ``r``;
``low = real(ifft2(ifftshift(F * M)))`` and ``high = real(ifft2(ifftshift(F * (1 - M))))``.

The radial mask is point-symmetric around the zero frequency, so ``F * M`` is Hermitian and
its inverse transform is real: the real-input transforms (``rfft``/``irfft``) give the
same result at half the cost, and the imaginary part the paper discards is zero up to
rounding. ``high`` is computed as ``x - low``, which keeps ``low + high == x`` exact up to
one float rounding and saves one inverse transform.

Two more filters share that one forward transform (issue 12):

- band ``band_r{a}-{b}``: the frequencies at distance ``a <= d < b`` from the centroid, so
  ``low_r{b} == low_r{a} + band_r{a}-{b}`` and ``band_r0-{b} == low_r{b}``;
- blur ``blur_s{sigma}``: a Gaussian blur of ``sigma`` pixels, transfer function
  ``exp(-2 pi^2 sigma^2 (fy^2 + fx^2))`` with ``fy, fx`` in cycles per pixel
  (``numpy.fft.fftfreq``), i.e. a circular ("wrap") Gaussian filter without truncation.

This module imports neither detectron2 nor the classification code.
"""
from __future__ import annotations

import functools
import math
import numbers
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    "split_frequencies",
    "frequency_views",
    "radial_mask",
    "view_name",
    "max_radius",
    "check_band",
    "check_sigma",
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


def view_name(kind: str, radius: float, outer: Optional[float] = None) -> str:
    """Canonical view name: ``low_r8``, ``high_r128``, ``low_r2.5`` (integers printed bare),
    ``band_r8-16`` (``radius`` is the inner radius, ``outer`` the outer one), ``blur_s2``
    (``radius`` is the Gaussian's sigma in pixels)."""
    if kind == "band":
        a, b = check_band(radius, outer)
        return f"band_r{_format_radius(a)}-{_format_radius(b)}"
    if kind == "blur":
        return f"blur_s{_format_radius(check_sigma(radius))}"
    if kind not in ("low", "high"):
        raise ValueError(f"view kind must be 'low', 'high', 'band' or 'blur', got {kind!r}")
    return f"{kind}_r{_format_radius(radius)}"


def max_radius(height: int, width: int) -> float:
    """Largest distance from the centroid ``(H // 2, W // 2)`` to any frequency bin.

    A radius strictly above it keeps the whole spectrum in the low part.
    """
    dy = max(height // 2, height - 1 - height // 2)
    dx = max(width // 2, width - 1 - width // 2)
    return math.sqrt(dy * dy + dx * dx)


def _check_real(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return v


def _check_radius(radius) -> float:
    r = _check_real(radius, "radius")
    if r <= 0:
        raise ValueError(f"radius must be > 0 (the low part would be empty), got {radius!r}")
    return r


def check_band(inner, outer) -> Tuple[float, float]:
    """``(a, b)`` as floats for a band ``a <= d < b``; ``ValueError`` unless ``0 <= a < b``."""
    a, b = _check_real(inner, "band inner radius"), _check_real(outer, "band outer radius")
    if a < 0 or a >= b:
        raise ValueError(f"a band needs 0 <= a < b (distance a <= d < b), got a={inner!r}, b={outer!r}")
    return a, b


def check_sigma(sigma) -> float:
    """``sigma`` (pixels) as a float; ``ValueError`` unless it is > 0."""
    s = _check_real(sigma, "blur sigma")
    if s <= 0:
        raise ValueError(f"blur sigma must be > 0 pixels, got {sigma!r}")
    return s


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
def _half_transfer(height: int, width: int, kind: str, params: Tuple[float, ...], device: str) -> torch.Tensor:
    """A filter's transfer function in the unshifted layout, restricted to ``rfft2``'s
    ``W // 2 + 1`` columns and then to the columns it does not zero (:func:`_kept_columns`).

    ``kind`` "low" (params ``(r,)``, bool), "band" (``(a, b)``, bool) or "blur"
    (``(sigma,)``, float64 Gaussian).
    """
    fy = _signed_frequencies(height)[:, None]
    fx = np.abs(_signed_frequencies(width)[: width // 2 + 1])[None, :]
    if kind == "blur":
        (sigma,) = params
        # fftfreq in cycles per pixel is the bin index divided by the axis length
        f2 = (fy / height) ** 2 + (fx / width) ** 2
        transfer = np.exp(-2.0 * math.pi ** 2 * sigma ** 2 * f2)
    else:
        d = np.sqrt(fy * fy + fx * fx)
        transfer = d < params[-1]
        if kind == "band":
            transfer &= d >= params[0]
    return torch.from_numpy(transfer[:, : _kept_columns(width, kind, params)]).to(device)


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


def _kept_columns(width: int, kind: str, params: Tuple[float, ...]) -> int:
    """Columns of the half spectrum a filter does not zero: ``|fx| < r`` (the outer radius)
    for the radial masks, all of them for the Gaussian."""
    if kind == "blur":
        return width // 2 + 1
    return min(width // 2 + 1, math.ceil(params[-1]))


#: A filter of the shared transform: ("low", (r,)), ("band", (a, b)) or ("blur", (sigma,)).
Filter = Tuple[str, Tuple[float, ...]]


def _filtered_tensor(x: torch.Tensor, filters: Sequence[Filter]) -> Dict[Filter, torch.Tensor]:
    """Each filter applied to ``x`` (compute dtype), with one forward transform for all."""
    compute, _ = compute_dtypes(x.dtype)
    xc = x.to(compute)
    h, w = x.shape[-2:]
    out: Dict[Filter, torch.Tensor] = {}
    # A low part past the largest distance keeps the whole spectrum: exact, and no transform.
    todo = []
    for f in filters:
        if f[0] == "low" and f[1][0] > max_radius(h, w):
            out[f] = xc.clone()
        else:
            todo.append(f)
    if todo:
        # A pruned 2-D transform: a radial mask is zero outside |fx| < r, so after the real
        # transform along the width only the first ceil(r) columns need the transform along
        # the height, and the inverse along the width zero-pads them back (irfft's n=W). At
        # COCO size and r = 128 this does about half the work of rfft2/irfft2.
        cols = max(_kept_columns(w, kind, params) for kind, params in todo)
        spectrum = torch.fft.fft(torch.fft.rfft(xc, dim=-1)[..., :cols], dim=-2)
        for kind, params in todo:
            transfer = _half_transfer(h, w, kind, params, str(x.device))
            part = spectrum[..., : transfer.shape[-1]] * transfer.to(compute)
            out[(kind, params)] = torch.fft.irfft(torch.fft.ifft(part, dim=-2), n=w, dim=-1)
    return out


def _views_tensor(x: torch.Tensor, radii: Sequence[float]) -> Dict[float, Tuple[torch.Tensor, torch.Tensor]]:
    _, result = compute_dtypes(x.dtype)
    xc = x.to(compute_dtypes(x.dtype)[0])
    lows = _filtered_tensor(x, [("low", (r,)) for r in radii])
    return {r: (lows[("low", (r,))].to(result), (xc - lows[("low", (r,))]).to(result)) for r in radii}


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


def frequency_views(images: ArrayLike, radii: Union[float, Iterable[float]] = (), *,
                    bands: Iterable[Tuple[float, float]] = (),
                    sigmas: Iterable[float] = ()) -> Dict[str, ArrayLike]:
    """All views of ``images``, with one forward transform shared by every filter.

    Returns a dict with ``"original"`` (the input, converted to the result dtype),
    ``low_r{R}`` / ``high_r{R}`` for each radius, ``band_r{a}-{b}`` for each ``(a, b)`` of
    ``bands`` (``0 <= a < b``, bins) and ``blur_s{sigma}`` for each of ``sigmas`` (> 0,
    pixels); see :func:`view_name`. Each view has the type, shape and device of ``images``.
    """
    if isinstance(radii, numbers.Real):
        radii = [radii]
    rs = list(dict.fromkeys(_check_radius(r) for r in radii))
    bs = list(dict.fromkeys(check_band(a, b) for a, b in bands))
    ss = list(dict.fromkeys(check_sigma(s) for s in sigmas))
    if not (rs or bs or ss):
        raise ValueError("name at least one radius, band or sigma")
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    compute, result = compute_dtypes(x.dtype)
    filters: List[Filter] = [("low", (r,)) for r in rs] + [("band", b) for b in bs] + [("blur", (s,)) for s in ss]
    parts = _filtered_tensor(x, filters)
    views = {"original": restore_type(x.to(result), as_numpy)}
    xc = x.to(compute)
    for r in rs:
        low = parts[("low", (r,))]
        views[view_name("low", r)] = restore_type(low.to(result), as_numpy)
        views[view_name("high", r)] = restore_type((xc - low).to(result), as_numpy)
    for a, b in bs:
        views[view_name("band", a, b)] = restore_type(parts[("band", (a, b))].to(result), as_numpy)
    for s in ss:
        views[view_name("blur", s)] = restore_type(parts[("blur", (s,))].to(result), as_numpy)
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
