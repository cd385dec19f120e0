"""AP against frequency: COCO AP (overall and by object size) of a run's low, high, band and
blur views against their radius, band or sigma, with the original as a horizontal line.

Drawn when a run has at least :data:`MIN_POINTS` views of one kind. The numbers come from
``summary.json``'s ``variants`` (COCO AP, 0-100); the picture is written with its data as
CSV next to it (``ap_vs_frequency.png`` / ``.csv``).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from matplotlib.figure import Figure

from hfc_det.views.grammar import parse_view, view_axis

from hfc_det.utils.atomic import save_figure_atomic, write_text_atomic

__all__ = ["ap_vs_frequency_rows", "plot_ap_vs_frequency", "CURVE_KINDS", "CURVE_METRICS", "MIN_POINTS"]

#: The kinds of view drawn, and the style of each line.
CURVE_KINDS = {"low": "o-", "high": "s--", "band": "^-.", "blur": "D:"}
#: Overall AP and AP by object size (COCO small < 32^2 <= medium < 96^2 <= large, pixels).
CURVE_METRICS = ("AP", "APs", "APm", "APl")
#: A kind needs this many views (radii, bands or sigmas) to make a curve.
MIN_POINTS = 3
_AXIS_LABEL = {"radius": "radius (frequency bins; a band at its middle)", "sigma": "Gaussian blur sigma (pixels)"}


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def ap_vs_frequency_rows(variants: Mapping[str, Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """One row per view of a curve kind with at least :data:`MIN_POINTS` views, sorted by
    kind then x; the original (if evaluated) first, with ``kind`` "original" and x NaN.

    Each row: ``view, kind, axis ("radius" | "sigma"), x, inner, outer`` (the band's radii,
    else NaN) and the :data:`CURVE_METRICS` (0-100, NaN where COCO has none). Empty when no
    kind has enough views.
    """
    by_kind: Dict[str, List[str]] = {}
    for view in variants:
        try:
            kind, _ = parse_view(view)
        except ValueError:
            continue  # a view this version does not know: not drawn
        if kind in CURVE_KINDS:
            by_kind.setdefault(kind, []).append(view)
    rows = []
    for kind in CURVE_KINDS:
        views = by_kind.get(kind, [])
        if len(views) < MIN_POINTS:
            continue
        for view in sorted(views, key=lambda v: view_axis(v)[1]):
            axis, x = view_axis(view)
            param = parse_view(view)[1]
            inner, outer = param if kind == "band" else (math.nan, math.nan)
            rows.append({"view": view, "kind": kind, "axis": axis, "x": x, "inner": inner, "outer": outer,
                         **{m: _number(variants[view].get(m)) for m in CURVE_METRICS}})
    if rows and "original" in variants:
        rows.insert(0, {"view": "original", "kind": "original", "axis": "", "x": math.nan, "inner": math.nan,
                        "outer": math.nan, **{m: _number(variants["original"].get(m)) for m in CURVE_METRICS}})
    return rows


def _csv(rows: List[Dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return buf.getvalue()


def plot_ap_vs_frequency(variants: Mapping[str, Mapping[str, Any]], path: Path,
                         title: str = "COCO AP against frequency") -> Optional[Dict[str, Any]]:
    """Draw :func:`ap_vs_frequency_rows` to ``path`` (PNG) and write them to ``path`` with a
    ``.csv`` suffix. One column per metric, one row per x axis (radius, sigma).

    Returns ``None`` (and writes nothing) when no kind has :data:`MIN_POINTS` views, else a
    JSON-able dict: ``path``, ``csv``, ``kinds`` (the views drawn per kind), ``metrics`` (the
    columns drawn: a metric COCO leaves undefined for every view, e.g. APl on a dataset
    without large objects, gets no empty panel; the CSV keeps it as NaN), ``rows``.
    """
    rows = ap_vs_frequency_rows(variants)
    if not rows:
        return None
    path = Path(path)
    original = next((r for r in rows if r["kind"] == "original"), None)
    curves = [r for r in rows if r["kind"] != "original"]
    axes_names = [a for a in ("radius", "sigma") if any(r["axis"] == a for r in curves)]
    metrics = [m for m in CURVE_METRICS if any(not math.isnan(r[m]) for r in rows)] or list(CURVE_METRICS[:1])
    fig = Figure(figsize=(3.3 * len(metrics), 3.0 * len(axes_names) + 0.4))
    grid = fig.subplots(len(axes_names), len(metrics), squeeze=False)
    for row_axes, axis in zip(grid, axes_names):
        for ax, metric in zip(row_axes, metrics):
            for kind, style in CURVE_KINDS.items():
                points = [r for r in curves if r["kind"] == kind and r["axis"] == axis]
                if points:
                    ax.plot([p["x"] for p in points], [p[metric] for p in points], style, label=kind, markersize=4)
            if original is not None and not math.isnan(original[metric]):
                ax.axhline(original[metric], color="black", linewidth=1.0, label="original")
            ax.set_title(metric, fontsize=10)
            ax.set_xlabel(_AXIS_LABEL[axis], fontsize=8)
            ax.set_ylabel("COCO AP (0-100)", fontsize=8)
            ax.grid(alpha=0.3)
        row_axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    csv_path = write_text_atomic(path.with_suffix(".csv"), _csv(rows))
    kinds = {}
    for r in curves:
        kinds.setdefault(r["kind"], []).append(r["view"])
    return {"path": str(path), "csv": str(csv_path), "kinds": kinds, "metrics": metrics, "rows": rows}
