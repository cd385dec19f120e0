"""Summary plots of per-image and overall AP (matplotlib, no pyplot: safe in any process).

Every function writes one picture atomically and returns a JSON-able dict of the numbers it
drew, so ``report.json`` and tests can check them without reading pixels.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

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
# Above this many bars a panel, the numbers beside them would overlap: they are in the tables.
_MAX_LABELLED_BARS = 40
# Panels a row: histograms (one per view) and bar panels (one per metric or error type).
_HISTOGRAM_COLUMNS = 6
_BAR_COLUMNS = 3


def _small_multiples(n: int, columns: int, cell_inches: tuple, sharex=True, sharey=True):
    """A figure of ``n`` panels, ``columns`` a row (at most :data:`WIDE_FIGURE_INCHES` wide);
    returns ``(fig, [axes of the n panels])``, the grid's spare panels hidden."""
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    width = min(WIDE_FIGURE_INCHES, cell_inches[0] * columns)
    fig = Figure(figsize=(width, cell_inches[1] * rows + 0.7))
    grid = fig.subplots(rows, columns, squeeze=False, sharex=sharex, sharey=sharey)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:max(n, 1)]


def plot_ap_difference_histogram(results: EvalResults, path: Path, bins: int = 41) -> Dict[str, Any]:
    """Histograms of per-image ``AP(view) - AP(original)``: small multiples, one panel per
    compared view (six a row, shared axes), so that 23 views stay legible.

    Bins are shared by all views and centred on 0 (an odd ``bins`` puts 0 inside one bin
    of width ``2 / bins``); undefined differences are left out and counted.
    """
    edges = np.linspace(-1.0, 1.0, bins + 1)
    views = results.compared_views
    drawn = {}
    for view in views:
        d = results.diff(view)
        finite = d[~np.isnan(d)]
        counts, _ = np.histogram(finite, bins=edges)
        drawn[view] = {"n": int(finite.size), "undefined": int(d.size - finite.size),
                       "counts": counts.tolist(), "mean": float(finite.mean()) if finite.size else math.nan,
                       "gains": int(np.sum(finite > 0)), "losses": int(np.sum(finite < 0))}
    fig, axes = _small_multiples(len(views), _HISTOGRAM_COLUMNS, (2.0, 1.7))
    # Ties (difference exactly 0) can dwarf every other bin on a large set: switch to a
    # symlog axis there, and say so on the axis.
    peak = max((max(v["counts"], default=0) for v in drawn.values()), default=0)
    for ax, view in zip(axes, views):
        v = drawn[view]
        ax.stairs(v["counts"], edges, fill=True, alpha=0.8)
        ax.axvline(0.0, color="black", linewidth=0.8, linestyle=":")
        ax.set_title(f"{view}: +{v['gains']} / -{v['losses']}", fontsize=8)
        ax.tick_params(labelsize=7)
        if peak > 100:
            ax.set_yscale("symlog", linthresh=10)
    for ax in axes:
        if ax.get_subplotspec().is_last_row() or ax is axes[-1]:
            ax.set_xlabel("AP(view) - AP(original)", fontsize=7)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("images" + (" (symlog)" if peak > 100 else ""), fontsize=7)
    fig.suptitle("Per-image AP difference to the original (title: images gained / lost)", fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=_DPI)
    return {"path": str(path), "bin_edges": edges.tolist(), "views": drawn, "panels": len(views)}


def plot_ap_scatter(results: EvalResults, path: Path, views: Sequence[str] = ()) -> Dict[str, Any]:
    """Scatter of per-image original AP (x) against a view's AP (y), one subplot per view
    (default: every LFC view). Points above the diagonal gained on the view."""
    views = [v for v in (views or results.low_views or results.compared_views) if v in results.ap]
    fig, axes = _small_multiples(len(views), 5, (2.4, 2.7), sharex=False, sharey=False)
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
        ax.set_xlabel("per-image AP, original", fontsize=8)
        ax.set_ylabel(f"per-image AP, {view}", fontsize=8)
        above = int(np.sum(y_all[ok] > x_all[ok]))
        ax.set_title(f"{view}: {above} of {int(ok.sum())} above", fontsize=9)
        drawn[view] = {"n": int(ok.sum()), "above_diagonal": above}
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    return {"path": str(path), "views": drawn}


def _bar_panels(groups: Sequence[str], series: Dict[str, List[float]], xlabel: str, title: str,
                path: Path, reference: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """Small multiples of horizontal bars: one panel per entry of ``series`` (a metric, an
    error type), one bar per group (a view) in every panel, groups top to bottom in the
    given order, three panels a row, 1200 px wide with 10-pt text; ``reference[name]`` is
    drawn as a vertical line (the original's value). Returns the figure's pixel width and
    font size and whether the bars carry their numbers."""
    names = list(series)
    fig, axes = _small_multiples(len(names), _BAR_COLUMNS, (WIDE_FIGURE_INCHES / _BAR_COLUMNS,
                                                           0.8 + 0.2 * max(4, len(groups))), sharex=False)
    y = np.arange(len(groups))
    labelled = len(groups) <= _MAX_LABELLED_BARS
    for ax, name in zip(axes, names):
        values = series[name]
        bars = ax.barh(y, np.nan_to_num(values), height=0.75)
        if labelled:
            ax.bar_label(bars, labels=[f"{v:.1f}" if not math.isnan(v) else "" for v in values], fontsize=7,
                         padding=2)
        ref = (reference or {}).get(name)
        if ref is not None and not math.isnan(ref):
            ax.axvline(ref, color="black", linewidth=0.9, linestyle=":")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.margins(x=0.15)
    axes[0].set_yticks(y, groups, fontsize=10)
    axes[0].invert_yaxis()  # shared y: the first group on top in every panel
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=_DPI)
    return {"width_px": int(round(fig.get_figwidth() * _DPI)), "font_size": 10, "bar_labels": labelled,
            "panels": len(names)}


def plot_overall_ap(results: EvalResults, path: Path, metrics: Sequence[str] = OVERALL_METRICS) -> Dict[str, Any]:
    """The overall COCO metrics (0-100) from ``summary.json``: one panel per metric, one bar
    per view, the original's value as a dotted line (legible at 1400 px with the demo's 24
    views)."""
    variants = results.variants
    views = [v for v in results.views if v in variants] + [v for v in variants if v not in results.views]
    metrics = [m for m in metrics if any(m in variants[v] for v in views)]
    drawn = {view: [_number(variants[view].get(m)) for m in metrics] for view in views}
    series = {m: [drawn[v][k] for v in views] for k, m in enumerate(metrics)}
    reference = {m: drawn["original"][k] for k, m in enumerate(metrics)} if "original" in drawn else None
    size = _bar_panels(views, series, "COCO AP (0-100)", "Overall AP per view (dotted: the original)", path,
                       reference)
    return {"path": str(path), "metrics": list(metrics), "values": drawn, **size}


def plot_error_breakdown(errors: Dict[str, Dict[str, Any]], path: Path) -> Dict[str, Any]:
    """TIDE's dAP per error type (``summary.json["errors"]``): one panel per main error type
    (Cls, Loc, Both, Dupe, Bkg, Miss), one bar per view, 0-100 AP50 points."""
    views = list(errors)
    types = list(dict.fromkeys(t for v in views for t in (errors[v].get("main") or {})))
    drawn = {v: {t: _number((errors[v].get("main") or {}).get(t)) for t in types} for v in views}
    series = {t: [drawn[v][t] for v in views] for t in types}
    reference = {t: drawn["original"][t] for t in types} if "original" in drawn else None
    size = _bar_panels(views, series, "AP50 points lost (TIDE dAP)",
                       "Where the AP goes: TIDE error breakdown (dotted: the original)", path, reference)
    return {"path": str(path), "types": types, "values": drawn,
            "ap50": {v: _number(errors[v].get("ap50")) for v in views}, **size}


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
