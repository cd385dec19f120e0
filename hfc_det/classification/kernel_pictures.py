"""Figure 7: first-layer kernels as pictures, before and after smoothing.

One panel per (model, rho). A kernel with 3 input channels is drawn as one RGB tile;
otherwise each input channel is its own grey tile. Each panel is scaled on its own,
``0.5 + w / (2 max|w|)`` over the whole panel, so zero is mid-grey and colours keep
their balance (smoothing without renormalisation raises the weights' scale, which a shared
scale would show instead of the shape).

Smoothness is also measured, so the picture's claim can be checked in numbers: the mean
absolute difference between spatially adjacent weights (8-neighbourhood) divided by the
mean absolute weight. Smooth kernels score low; it is scale-free, so rho's gain does not
count.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from hfc_det.utils.atomic import save_figure_atomic
from hfc_det.views.display import scale_hfc_for_display

__all__ = ["kernel_tiles", "kernel_roughness", "save_kernel_figure"]


def kernel_tiles(weight: torch.Tensor, max_tiles: int = 64) -> np.ndarray:
    """uint8 tiles ``(T, kh, kw, 3 or 1)`` of a ``(out, in, kh, kw)`` weight, panel-scaled.

    ``in == 3``: one RGB tile per output channel; else one grey tile per (out, in) pair.
    At most ``max_tiles`` tiles, in channel order.
    """
    w = weight.detach().cpu().double().numpy()
    if w.ndim != 4:
        raise ValueError(f"weight must be (out, in, kh, kw), got shape {w.shape}")
    if w.shape[1] == 3:
        tiles = w.transpose(0, 2, 3, 1)
    else:
        tiles = w.reshape(-1, 1, *w.shape[2:]).transpose(0, 2, 3, 1)
    tiles = tiles[:max_tiles]
    return scale_hfc_for_display(tiles, "symmetric")


def kernel_roughness(weight: torch.Tensor) -> float:
    """Mean |w[i, j] - w[neighbour]| over the 8-neighbourhood inside each kernel, divided by
    mean |w|; 0 for constant kernels (and for all-zero weights). Scale-free."""
    w = weight.detach().cpu().double()
    diffs = []
    kh, kw = w.shape[-2:]
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each unordered neighbour pair once
        a = w[..., : kh - dy, max(0, -dx) : kw - max(0, dx)]
        b = w[..., dy:, max(0, dx) : kw - max(0, -dx)]
        if a.numel():
            diffs.append((a - b).abs().flatten())
    scale = w.abs().mean().item()
    if not diffs or scale == 0:
        return 0.0
    return torch.cat(diffs).mean().item() / scale


def _grid(tiles: np.ndarray, pad: int = 1) -> np.ndarray:
    """Tiles ``(T, h, w, c)`` -> one mosaic, near-square, white gutters."""
    t, h, w, c = tiles.shape
    cols = math.ceil(math.sqrt(t))
    rows = math.ceil(t / cols)
    mosaic = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(t):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        mosaic[y : y + h, x : x + w] = tiles[i]
    return mosaic


def save_kernel_figure(
    panels: Sequence[Dict[str, Any]], path, columns: Sequence[str], rows: Sequence[str], max_tiles: int = 64
) -> List[Dict[str, Any]]:
    """Draw a grid of kernel mosaics and return what was drawn (JSON-able).

    Args:
        panels: dicts with ``column`` (e.g. the model label), ``row`` (e.g. ``rho=0.5``),
            ``weight`` (``(out, in, kh, kw)`` tensor) and any extra JSON-able keys.
        path: output picture (format from the suffix), written atomically.
        columns, rows: the order of the grid's columns and rows.

    Returns:
        Per panel its extra keys plus ``column``, ``row``, ``shape``, ``weight_range``,
        ``abs_max`` (the panel's display scale), ``tiles`` and ``roughness``.
    """
    fig = Figure(figsize=(3.0 * len(columns), 3.0 * len(rows) + 0.3))
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    drawn = []
    for panel in panels:
        weight = panel["weight"]
        tiles = kernel_tiles(weight, max_tiles)
        mosaic = _grid(tiles)
        ax = axes[rows.index(panel["row"]), columns.index(panel["column"])]
        ax.imshow(mosaic.squeeze(-1) if mosaic.shape[-1] == 1 else mosaic,
                  cmap="gray" if mosaic.shape[-1] == 1 else None, vmin=0, vmax=255,
                  interpolation="nearest")
        rough = kernel_roughness(weight)
        ax.set_title(f"{panel['column']}, {panel['row']}\nroughness {rough:.3f}", fontsize=8)
        w = weight.detach().float()
        drawn.append({
            **{k: v for k, v in panel.items() if k != "weight"},
            "shape": list(weight.shape),
            "weight_range": [float(w.min()), float(w.max())],
            "abs_max": float(w.abs().max()),
            "tiles": int(len(tiles)),
            "roughness": rough,
        })
    fig.suptitle("first-layer kernels; each panel: 0.5 + w / (2 max|w|)", fontsize=9)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=120)
    return drawn
