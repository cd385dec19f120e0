"""Log-magnitude spectra and the LFC/HFC-at-several-radii grid (the paper's Figure 1 idea).

Images are ``HxW`` or ``HxWxC`` arrays (uint8 0..255 or float in the same units), as
pictures are stored; channels last.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from hfc_det.views.frequency import max_radius, view_name

from hfc_det.utils.atomic import save_figure_atomic
from hfc_det.views.display import (
    as_float_hwc,
    clip_for_display,
    hfc_scaling_label,
    scale_hfc_for_display,
    split_views_hwc,
)

__all__ = ["log_spectrum", "spectrum_center", "draw_spectrum", "save_frequency_grid"]

SPECTRUM_FORMULA = "log(1 + |fftshift(fft2(x))|), per channel, averaged over channels"


def log_spectrum(image: np.ndarray) -> np.ndarray:
    """Centred log-magnitude spectrum of a picture.

    Args:
        image: ``HxW`` or ``HxWxC`` (channels last, C in 1, 3, 4), any real dtype.

    Returns:
        float64 ``(H, W)``: ``log(1 + |fftshift(fft2(x_c))|)`` per channel ``c``, then the
        mean over channels. The zero frequency sits at row ``H // 2``, column ``W // 2``, the
        centroid :func:`hfc_det.views.frequency.radial_mask` measures distances from.
    """
    hwc = as_float_hwc(image).astype(np.float64)
    spectrum = np.fft.fftshift(np.fft.fft2(hwc, axes=(0, 1)), axes=(0, 1))
    return np.log1p(np.abs(spectrum)).mean(axis=2)


def spectrum_center(height: int, width: int) -> tuple:
    """``(x, y)`` plot coordinates of the zero frequency in a :func:`log_spectrum` image."""
    return (width // 2, height // 2)


def draw_spectrum(ax, spectrum: np.ndarray, radius: Optional[float] = None, color: str = "red") -> None:
    """Show a :func:`log_spectrum` on a matplotlib axis, with the radius circle if given.

    Pixel centres are at integer coordinates (``imshow``'s default), so the circle of
    radius ``r`` around ``(W // 2, H // 2)`` separates the bins the mask keeps (distance
    strictly below ``r``) from the others.
    """
    h, w = spectrum.shape
    ax.imshow(spectrum, cmap="magma", interpolation="nearest")
    if radius is not None:
        ax.add_patch(Circle(spectrum_center(h, w), radius, fill=False, edgecolor=color, linewidth=1.2))
    ax.set_xticks([])
    ax.set_yticks([])


def _show(ax, picture: np.ndarray, title: str) -> None:
    ax.imshow(picture.squeeze(-1) if picture.shape[-1] == 1 else picture,
              cmap="gray" if picture.shape[-1] == 1 else None, vmin=0, vmax=255,
              interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def save_frequency_grid(
    image: np.ndarray,
    radii: Sequence[float],
    path: Union[str, Path],
    title: Optional[str] = None,
    hfc_scaling: str = "symmetric",
    dpi: int = 100,
) -> Dict[str, Any]:
    """One figure: a row per radius, columns original | LFC | HFC | log-spectrum + circle.

    Args:
        image: ``HxW`` or ``HxWxC`` picture in 0..255 units (uint8 or float).
        radii: mask radii in frequency bins (> 0), one row each, in the given order.
        path: output file; the format follows the suffix (``.png``, ``.pdf``, ...). Written
            atomically.
        title: optional figure title.
        hfc_scaling: HFC display scaling, ``"symmetric"`` or ``"minmax"``
            (see :mod:`hfc_det.views.display`); the HFC column title states it.

    Returns:
        A JSON-able dict of what was drawn: the path, shape, radii, columns, the scalings and
        per radius the float range of the LFC and HFC before display scaling and the share of
        LFC values clipped for display.
    """
    radii = [float(r) for r in radii]
    if not radii:
        raise ValueError("radii must name at least one radius")
    hwc = as_float_hwc(image)
    h, w, c = hwc.shape
    views = split_views_hwc(hwc, radii)
    spectrum = log_spectrum(hwc)
    hfc_label = hfc_scaling_label(hfc_scaling)

    n = len(radii)
    panel = 2.4
    # 0.45 inch a row for the two-line panel titles.
    fig = Figure(figsize=(4 * panel, n * (panel * max(h / w, 0.35) + 0.45) + (0.4 if title else 0.1)))
    axes = fig.subplots(n, 4, squeeze=False)
    rows = []
    for row, r in enumerate(radii):
        low, high = views[view_name("low", r)], views[view_name("high", r)]
        _show(axes[row, 0], clip_for_display(views["original"]), "original")
        _show(axes[row, 1], clip_for_display(low), f"LFC r={r:g} (clipped 0..255)")
        _show(axes[row, 2], scale_hfc_for_display(high, hfc_scaling), f"HFC r={r:g}\n{hfc_label}")
        draw_spectrum(axes[row, 3], spectrum, r)
        axes[row, 3].set_title(f"log spectrum, circle r={r:g}", fontsize=8)
        rows.append({
            "radius": r,
            "keeps_whole_spectrum": r > max_radius(h, w),
            "lfc_range": [float(low.min()), float(low.max())],
            "lfc_clipped_fraction": float(np.mean((low < 0) | (low > 255))),
            "hfc_range": [float(high.min()), float(high.max())],
            "hfc_abs_max": float(np.abs(high).max()),
        })
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = save_figure_atomic(fig, path, dpi=dpi)
    return {
        "path": str(out),
        "title": title,
        "image_shape": [h, w, c],
        "radii": radii,
        "columns": ["original", "lfc", "hfc", "log_spectrum"],
        "lfc_display": "clipped to [0, 255]",
        "hfc_display": hfc_scaling,
        "hfc_display_formula": hfc_label,
        "spectrum": SPECTRUM_FORMULA,
        "circle_center_xy": list(spectrum_center(h, w)),
        "rows": rows,
    }
