"""Summary plots of per-image and overall AP (matplotlib, no pyplot: safe in any process).

Every function writes one picture atomically and returns a JSON-able dict of the numbers it
drew, so ``report.json`` and tests can check them without reading pixels.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
from matplotlib.figure import Figure

from hfc_det.utils.atomic import save_figure_atomic
from hfc_det.metrics.results import COCO_METRICS, EvalResults

__all__ = ["plot_ap_difference_histogram", "plot_ap_scatter", "plot_overall_ap", "plot_error_breakdown",
           "OVERALL_METRICS", "WIDE_FIGURE_INCHES"]

OVERALL_METRICS = COCO_METRICS
# Figures the report shows at full width: 12 in at 100 dpi is 1200 px, shown unscaled (and
# so with legible 10-pt text) in a 1400 px wide browser window.
WIDE_FIGURE_INCHES = 12.0
_DPI = 100
# Above this many bars, the numbers on top of them would overlap: they are in the tables.
_MAX_LABELLED_BARS = 24


def plot_ap_difference_histogram(results: EvalResults, path: Path, bins: int = 41) -> Dict[str, Any]:
    """Histogram of per-image ``AP(view) - AP(original)`` for every compared view.

    Bins are shared by all views and centred on 0 (an odd ``bins`` puts 0 inside one bin
    of width ``2 / bins``); undefined differences are left out and counted.
    """
    edges = np.linspace(-1.0, 1.0, bins + 1)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    drawn = {}
    for view in results.compared_views:
        d = results.diff(view)
        finite = d[~np.isnan(d)]
        counts, _ = np.histogram(finite, bins=edges)
        ax.stairs(counts, edges, label=f"{view} (n={finite.size})", linewidth=1.4)
        drawn[view] = {"n": int(finite.size), "undefined": int(d.size - finite.size),
                       "counts": counts.tolist(), "mean": float(finite.mean()) if finite.size else math.nan}
    ax.axvline(0.0, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel("per-image AP(view) - AP(original)")
    # Ties (difference exactly 0) can dwarf every other bin on a large set: switch to a
    # symlog axis there, and say so on the axis.
    peak = max((max(v["counts"], default=0) for v in drawn.values()), default=0)
    if peak > 100:
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylabel("images (symlog scale)")
    else:
        ax.set_ylabel("images")
    _finish(fig, ax, "Per-image AP difference to the original", path, legend=bool(drawn))
    return {"path": str(path), "bin_edges": edges.tolist(), "views": drawn}


def plot_ap_scatter(results: EvalResults, path: Path, views: Sequence[str] = ()) -> Dict[str, Any]:
    """Scatter of per-image original AP (x) against a view's AP (y), one subplot per view
    (default: every LFC view). Points above the diagonal gained on the view."""
    views = [v for v in (views or results.low_views or results.compared_views) if v in results.ap]
    fig = Figure(figsize=(3.6 * max(1, len(views)), 3.8))
    axes = fig.subplots(1, max(1, len(views)), squeeze=False)[0]
    drawn = {}
    x_all = results.ap.get("original", np.array([]))
    for ax, view in zip(axes, views):
        y_all = results.ap[view]
        ok = ~(np.isnan(x_all) | np.isnan(y_all))
        # Big dots for a few images, small translucent ones for thousands.
        ax.scatter(x_all[ok], y_all[ok], s=24 if ok.sum() < 200 else 6, alpha=0.8 if ok.sum() < 200 else 0.35,
                   linewidths=0)
        ax.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle=":")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel("per-image AP, original")
        ax.set_ylabel(f"per-image AP, {view}")
        above = int(np.sum(y_all[ok] > x_all[ok]))
        ax.set_title(f"{view}: {above} of {int(ok.sum())} above diagonal", fontsize=9)
        drawn[view] = {"n": int(ok.sum()), "above_diagonal": above}
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    return {"path": str(path), "views": drawn}


def _grouped_bars(groups: Sequence[str], series: Dict[str, List[float]], ylabel: str, title: str,
                  path: Path) -> Dict[str, Any]:
    """One bar group per entry of ``groups`` (on x), one bar per series in each, in a figure
    1200 px wide with 10-pt text; returns the figure's pixel size and font size."""
    fig = Figure(figsize=(WIDE_FIGURE_INCHES, 4.8))
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    labelled = len(groups) * len(series) <= _MAX_LABELLED_BARS
    for i, (name, values) in enumerate(series.items()):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, np.nan_to_num(values), width, label=name)
        if labelled:
            ax.bar_label(bars, labels=[f"{v:.1f}" if not math.isnan(v) else "" for v in values], fontsize=8)
    ax.set_xticks(x, groups, rotation=30 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center",
                  fontsize=10)
    ax.tick_params(axis="y", labelsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_title(title, fontsize=12)
    if series:
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=_DPI)
    return {"width_px": int(WIDE_FIGURE_INCHES * _DPI), "font_size": 10, "bar_labels": labelled}


def plot_overall_ap(results: EvalResults, path: Path, metrics: Sequence[str] = OVERALL_METRICS) -> Dict[str, Any]:
    """Grouped bars of the overall COCO metrics (0-100) from ``summary.json``: one group per
    view, one bar per metric (legible at 1400 px however many views there are)."""
    variants = results.variants
    views = [v for v in results.views if v in variants] + [v for v in variants if v not in results.views]
    metrics = [m for m in metrics if any(m in variants[v] for v in views)]
    drawn = {view: [_number(variants[view].get(m)) for m in metrics] for view in views}
    series = {m: [drawn[v][k] for v in views] for k, m in enumerate(metrics)}
    size = _grouped_bars(views, series, "COCO AP (0-100)", "Overall AP per view", path)
    return {"path": str(path), "metrics": list(metrics), "values": drawn, **size}


def plot_error_breakdown(errors: Dict[str, Dict[str, Any]], path: Path) -> Dict[str, Any]:
    """TIDE's dAP per error type (``summary.json["errors"]``): one bar group per view, one bar
    per main error type (Cls, Loc, Both, Dupe, Bkg, Miss), 0-100 AP50 points."""
    views = list(errors)
    types = list(dict.fromkeys(t for v in views for t in (errors[v].get("main") or {})))
    drawn = {v: {t: _number((errors[v].get("main") or {}).get(t)) for t in types} for v in views}
    series = {t: [drawn[v][t] for v in views] for t in types}
    size = _grouped_bars(views, series, "AP50 points lost (TIDE dAP)", "Where the AP goes: TIDE error breakdown",
                         path)
    return {"path": str(path), "types": types, "values": drawn,
            "ap50": {v: _number(errors[v].get("ap50")) for v in views}, **size}


def _finish(fig, ax, title: str, path: Path, legend: bool) -> None:
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
