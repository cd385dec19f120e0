"""Fourier heat-map results: the resumable record of finished cells, and the outputs
``heatmap.npy``, ``heatmap.json`` and ``heatmap.png`` (see :mod:`hfc_det.views.fourier_basis`).

No detectron2 and no classification code: both the classifier and the detector heat maps
write through here.

Files in an output folder::

    heatmap_partial.json   settings + finished cells, rewritten (atomically) after each cell
    heatmap.npy            (n, n) float64 map, row u, column v, zero frequency in the middle
    heatmap.json           settings, metric, axis frequencies, per-cell values, images, extras
    heatmap.png            the map with a colour bar naming the metric
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from hfc_det.utils.atomic import save_figure_atomic, write_atomic, write_json_atomic
from hfc_det.views.fourier_basis import full_grid, grid_frequencies, half_grid

__all__ = ["load_partial", "save_partial", "write_heatmap", "eta_text", "PARTIAL_FILE"]

PARTIAL_FILE = "heatmap_partial.json"
Cells = Dict[Tuple[int, int], Dict[str, float]]


def load_partial(out_dir, settings: Mapping[str, Any]) -> Cells:
    """Finished cells of an earlier run with the same ``settings`` in ``out_dir`` (empty if
    none). A record of other settings raises ``ValueError`` naming the file (use a new
    --output or --fresh)."""
    path = Path(out_dir) / PARTIAL_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ValueError(f"{path} is not valid JSON: delete it or use --fresh") from None
    if record.get("settings") != json.loads(json.dumps(dict(settings))):
        raise ValueError(f"{path} belongs to a run with other settings: use another --output or --fresh")
    return {(c["u"], c["v"]): dict(c["values"]) for c in record.get("cells", [])}


def save_partial(out_dir, settings: Mapping[str, Any], cells: Cells) -> Path:
    """Rewrite the record of finished cells (temporary file, then rename)."""
    return write_json_atomic(Path(out_dir) / PARTIAL_FILE, {
        "settings": dict(settings),
        "cells": [{"u": u, "v": v, "values": values} for (u, v), values in cells.items()],
    })


def eta_text(seconds: float) -> str:
    """``"2 min 05 s"``-style duration."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _draw(matrix: np.ndarray, axis, label: str, title: str, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.subplots()
    half = (axis[1] - axis[0]) / 2 if len(axis) > 1 else 0.5
    extent = (axis[0] - half, axis[-1] + half, axis[-1] + half, axis[0] - half)
    image = ax.imshow(matrix, cmap="viridis", extent=extent, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("v: frequency along the width (bins)")
    ax.set_ylabel("u: frequency along the height (bins)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)


def write_heatmap(out_dir, cells: Cells, settings: Mapping[str, Any], metric: str,
                  images: int, extra: Optional[Mapping[str, Any]] = None, title: str = "",
                  label: str = "") -> Dict[str, Any]:
    """``heatmap.npy`` / ``.json`` / ``.png`` from the finished half grid ``cells``.

    ``cells[(u, v)][metric]`` is drawn; every value of each cell goes to the JSON.
    ``settings`` needs ``grid``, ``step`` and ``eps``; ``label`` names the colour bar
    (default: ``metric``). Returns the JSON dict.
    """
    out_dir = Path(out_dir)
    grid, step = int(settings["grid"]), int(settings["step"])
    wanted = half_grid(grid, step)
    missing = [c for c in wanted if c not in cells]
    if missing:
        raise ValueError(f"{len(missing)} of {len(wanted)} cells are not evaluated yet (first: {missing[0]})")
    matrix = full_grid({c: cells[c][metric] for c in wanted}, grid, step)
    axis = grid_frequencies(grid, step)
    write_atomic(out_dir / "heatmap.npy", lambda f: np.save(f, matrix))
    finite = matrix[np.isfinite(matrix)]
    record = {
        **dict(settings),
        "metric": metric,
        "frequencies": axis,
        "layout": "heatmap.npy[i, j] is the cell u = frequencies[i], v = frequencies[j]; (-u, -v) mirrors (u, v)",
        "images": int(images),
        "cells": [{"u": u, "v": v, **cells[(u, v)]} for (u, v) in wanted],
        "range": [float(finite.min()), float(finite.max())] if finite.size else [math.nan, math.nan],
        **dict(extra or {}),
    }
    write_json_atomic(out_dir / "heatmap.json", record)
    _draw(matrix, axis, label or metric, title or f"Fourier heat map, eps {settings['eps']:g}, {images} images",
          out_dir / "heatmap.png")
    return record
