"""Turn float pipeline images into pictures for eyes; never used for any number.

Layout everywhere in this package: ``HxWxC`` (RGB) or ``HxW``, as pictures are stored.
The frequency split itself works on the last two axes, so colour images are moved to
``CxHxW`` for :func:`hfc_det.views.frequency.frequency_views` and back.

Display scalings:

* LFC (and the original): clipped to ``[0, 255]``. The low-pass filter rings a little
  outside the pixel range; clipping hides that ringing and nothing else.
* HFC: zero-mean with both signs, so it needs a stated scaling (:data:`DISPLAY_SCALINGS`):
  ``"symmetric"`` maps ``0 -> mid-grey``: ``0.5 + h / (2 max|h|)``, so a flat area is grey
  and the sign of an edge stays visible; ``"minmax"`` stretches ``[min h, max h]`` to
  ``[0, 1]`` (more contrast, but grey no longer means zero). Both are per picture, over all
  channels together, so colours keep their balance.
"""
from __future__ import annotations

from typing import Dict, Iterable

import numpy as np

# hfc_det.views.frequency and hfc_det.views.grammar (torch) are imported inside the functions that compute
# views: the tools read DISPLAY_SCALINGS for their --help, which must not wait for torch.

__all__ = [
    "DISPLAY_SCALINGS",
    "hfc_scaling_label",
    "as_float_hwc",
    "split_views_hwc",
    "views_hwc",
    "view_for_display",
    "clip_for_display",
    "scale_hfc_for_display",
]

DISPLAY_SCALINGS: Dict[str, str] = {
    "symmetric": "0.5 + h / (2 max|h|)",
    "minmax": "(h - min h) / (max h - min h)",
}


def hfc_scaling_label(scaling: str) -> str:
    """Short text for a picture title: which HFC display scaling was used."""
    _check_scaling(scaling)
    return f"display: {DISPLAY_SCALINGS[scaling]}"


def _check_scaling(scaling: str) -> None:
    if scaling not in DISPLAY_SCALINGS:
        raise ValueError(
            f"unknown HFC display scaling {scaling!r}: choose one of {sorted(DISPLAY_SCALINGS)}"
        )


def as_float_hwc(image: np.ndarray) -> np.ndarray:
    """``HxW`` or ``HxWxC`` (C in 1, 3, 4) numeric array -> float32 ``HxWxC``, same units."""
    arr = np.asarray(image)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise TypeError(f"image must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"image must be HxW or HxWxC with C in (1, 3, 4), got shape {tuple(np.shape(image))}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image has an empty axis: shape {tuple(arr.shape)}")
    return arr.astype(np.float32, copy=False)


def views_hwc(image: np.ndarray, names: Iterable[str]) -> Dict[str, np.ndarray]:
    """:func:`~hfc_det.views.grammar.compute_views` for an ``HxW[xC]`` picture.

    Returns float32 ``HxWxC`` arrays keyed by the view names, in the input's units
    (e.g. 0..255), unclipped.
    """
    from hfc_det.views.grammar import compute_views

    hwc = as_float_hwc(image)
    views = compute_views(np.ascontiguousarray(hwc.transpose(2, 0, 1)), names)
    return {name: np.ascontiguousarray(v.transpose(1, 2, 0)) for name, v in views.items()}


def split_views_hwc(image: np.ndarray, radii: Iterable[float]) -> Dict[str, np.ndarray]:
    """``original``, ``low_r{R}``, ``high_r{R}`` of an ``HxW[xC]`` picture (:func:`views_hwc`)."""
    from hfc_det.views.frequency import view_name

    radii = list(radii)
    return views_hwc(image, ["original"] + [view_name(k, r) for r in radii for k in ("low", "high")])


def clip_for_display(image: np.ndarray, vmax: float = 255.0) -> np.ndarray:
    """Clip to ``[0, vmax]`` and return uint8 ``0..255`` (for the original and the LFC)."""
    arr = np.clip(np.asarray(image, dtype=np.float32), 0.0, vmax) * (255.0 / vmax)
    return np.rint(arr).astype(np.uint8)


def scale_hfc_for_display(hfc: np.ndarray, scaling: str = "symmetric") -> np.ndarray:
    """Map a zero-mean HFC picture to uint8 ``0..255`` with a stated scaling.

    See the module docstring for the two scalings. An all-zero HFC becomes flat mid-grey
    (``symmetric``) or black (``minmax``) instead of dividing by zero.
    """
    _check_scaling(scaling)
    h = np.asarray(hfc, dtype=np.float64)
    if scaling == "symmetric":
        peak = float(np.max(np.abs(h))) if h.size else 0.0
        unit = 0.5 + h / (2.0 * peak) if peak > 0 else np.full_like(h, 0.5)
    else:
        lo, hi = (float(h.min()), float(h.max())) if h.size else (0.0, 0.0)
        unit = (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)
    return np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)


def view_for_display(name: str, image: np.ndarray, hfc_scaling: str = "symmetric") -> np.ndarray:
    """uint8 picture of a view by its name: HFC views are scaled, the others clipped."""
    from hfc_det.views.grammar import parse_view

    kind, _ = parse_view(name)
    if kind == "high":
        return scale_hfc_for_display(image, hfc_scaling)
    return clip_for_display(image)

