"""The controlled shortcut experiment's numbers: one summary per (amplitude, correlation) cell.

A cell is one demo detector trained on shapes whose texture has amplitude ``a`` and is tied
to the class with probability ``c`` (``hfc_det.data.shapes``). From its evaluation on its own
val split (COCO metrics per view, 0-100) and on the cue-conflict split
(:func:`hfc_det.experiments.cue_conflict.cue_conflict_metrics` per view), this module keeps
what the experiment is about: AP on the original images, the LFC and HFC AP at every radius,
the LFC drop at the texture-removing radius, and the texture-reliance index on the original
conflict images and on their LFC at that radius. No detectron2 here.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Sequence

__all__ = ["cell_summary", "results_table", "cell_key"]


def cell_key(amplitude: float, correlation: float) -> str:
    """Folder name of a cell: ``amp0.15_corr0.5``."""
    return f"amp{amplitude:g}_corr{correlation:g}"


def _ap(views: Mapping[str, Mapping[str, float]], view: str) -> float:
    value = views.get(view, {}).get("AP")
    return math.nan if value is None else float(value)


def cell_summary(amplitude: float, correlation: float, views: Mapping[str, Mapping[str, float]],
                 radii: Sequence[float], texture_radius: float,
                 conflict: Mapping[str, Mapping[str, object]]) -> Dict[str, object]:
    """One cell's numbers.

    Args:
        views: val-split COCO metrics per view name (``original``, ``low_r{R}``, ``high_r{R}``;
            AP in 0-100), as ``summary.json``'s ``variants``.
        radii: the radii evaluated; ``texture_radius`` is the one that removes the texture.
        conflict: cue-conflict metrics per view of the conflict split (``original`` and
            ``low_r{texture_radius}`` at least).
    """
    original = _ap(views, "original")
    low = {f"{r:g}": _ap(views, f"low_r{r:g}") for r in radii}
    high = {f"{r:g}": _ap(views, f"high_r{r:g}") for r in radii}
    lfc_view = f"low_r{texture_radius:g}"
    return {
        "texture_amplitude": amplitude,
        "texture_correlation": correlation,
        "AP_original": original,
        "AP50_original": float(views.get("original", {}).get("AP50", math.nan)),
        "AP_low": low,
        "AP_high": high,
        "texture_radius": texture_radius,
        "lfc_drop": _ap(views, lfc_view) - original,
        "conflict": {view: dict(m) for view, m in conflict.items()},
        "texture_reliance": conflict.get("original", {}).get("texture_reliance", math.nan),
        "texture_reliance_lfc": conflict.get(lfc_view, {}).get("texture_reliance", math.nan),
    }


def _f(value, fmt="{:.1f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def results_table(cells: List[Mapping[str, object]]) -> str:
    """Markdown: one row per cell, sorted by amplitude then correlation."""
    if not cells:
        return "(no cell has run)\n"
    radii = list(cells[0]["AP_low"])
    t = cells[0]["texture_radius"]
    lfc = f"low_r{t:g}"
    head = (["amplitude", "correlation", "AP original"] + [f"AP low_r{r}" for r in radii]
            + [f"AP high_r{r}" for r in radii]
            + [f"Δ AP {lfc}", "conflict AP50 shape", "conflict AP50 texture", "reliance",
               f"{lfc}: AP50 shape", f"{lfc}: AP50 texture", f"{lfc}: reliance"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in sorted(cells, key=lambda c: (c["texture_amplitude"], c["texture_correlation"])):
        conf = c["conflict"].get("original", {})
        conf_lfc = c["conflict"].get(lfc, {})
        row = [f"{c['texture_amplitude']:g}", f"{c['texture_correlation']:g}", _f(c["AP_original"])]
        row += [_f(c["AP_low"][r]) for r in radii] + [_f(c["AP_high"][r]) for r in radii]
        row += [_f(c["lfc_drop"], "{:+.1f}"),
                _f(conf.get("shape", {}).get("AP50")), _f(conf.get("texture", {}).get("AP50")),
                _f(c["texture_reliance"], "{:.2f}"),
                _f(conf_lfc.get("shape", {}).get("AP50")), _f(conf_lfc.get("texture", {}).get("AP50")),
                _f(c["texture_reliance_lfc"], "{:.2f}")]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
