"""Corruption robustness as the COCO-C benchmark defines it (Michaelis et al. 2019; mmdetection's
``tools/analysis_tools/robustness_eval.py``), from the AP of each ``corrupt_{name}_s{severity}`` view.

- ``P``: the clean AP (the ``original`` view).
- mPC: the mean AP over the 15 benchmark corruptions and the severities 1-5, every
  (corruption, severity) pair weighted the same (75 APs).
- rPC = mPC / P.
- The same per family (noise, blur, weather, digital: the library's own grouping) and over all
  19 corruptions (mmdetection's ``aggregate="all"``).

Missing views: the summary is computed over the views the run has and says so (``complete``,
``views_used`` of ``views_expected``, ``missing``), rather than refused: a run over a few
corruptions still gets its numbers. mmdetection fills a missing severity with AP 0, which lowers
mPC; here it is left out, so an incomplete mPC is the mean over what was measured and is not
comparable with a complete one (the printed table says "over N of 75 views"). ``strict=True``
refuses an incomplete benchmark instead. A mean over no view, and rPC with a clean AP that is not
positive, are ``None`` (JSON null). APs are in the run's units (COCO's 0-100).
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from hfc_det.views.corruptions import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    CORRUPTION_FAMILIES,
    CORRUPTION_KIND,
    SEVERITIES,
    corruption_view_name,
)
from hfc_det.views.grammar import parse_view

__all__ = ["corruption_aps", "robustness_summary", "robustness_table_lines"]


def corruption_aps(ap_by_view: Mapping[str, float]) -> Dict[str, Dict[int, float]]:
    """``{corruption: {severity: AP}}`` of the corruption views in ``{view name: AP}`` (other
    views are ignored; names are read by the view grammar, so ``corrupt_fog_s03`` counts)."""
    out: Dict[str, Dict[int, float]] = {}
    for view, ap in ap_by_view.items():
        if not str(view).startswith(CORRUPTION_KIND + "_"):
            continue
        kind, parameter = parse_view(view)
        corruption, severity = parameter
        value = float(ap)
        if not math.isfinite(value):
            raise ValueError(f"the AP of view {view!r} is not a finite number: {ap!r}")
        out.setdefault(corruption, {})[severity] = value
    return out


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _relative(value: Optional[float], clean: Optional[float]) -> Optional[float]:
    return None if value is None or clean is None or not clean > 0 else value / clean


def _aggregate(aps: Dict[str, Dict[int, float]], corruptions: Sequence[str], clean: Optional[float]) -> dict:
    pairs = [(c, s) for c in corruptions for s in SEVERITIES]
    values = [aps[c][s] for c, s in pairs if s in aps.get(c, {})]
    mpc = _mean(values)
    return {"mpc": mpc, "rpc": _relative(mpc, clean), "views_used": len(values), "views_expected": len(pairs)}


def robustness_summary(ap_by_view: Mapping[str, float], clean_ap: Optional[float] = None,
                       strict: bool = False) -> dict:
    """mPC, rPC, per family and per corruption, from ``{view name: AP}``.

    ``clean_ap``: the clean AP ``P``; default ``ap_by_view["original"]``. ``strict``: a one-line
    ``ValueError`` unless all 75 benchmark views are there. Returns a JSON-ready dict::

        {"clean_ap", "mpc", "rpc", "views_used", "views_expected": 75, "complete", "missing": [view names],
         "families": {family: {"mpc", "rpc", "views_used", "views_expected"}},
         "all_corruptions": {...the same over the 19...},
         "per_corruption": {name: {"family", "benchmark", "ap": {"1": AP, ...}, "mean", "relative"}},
         "per_severity": {"1": mean AP of the benchmark corruptions at severity 1, ...}}
    """
    aps = corruption_aps(ap_by_view)
    if clean_ap is None:
        clean_ap = ap_by_view.get("original")
    clean = None if clean_ap is None else float(clean_ap)
    if clean is not None and not math.isfinite(clean):
        raise ValueError(f"the clean AP is not a finite number: {clean_ap!r}")
    missing = [corruption_view_name(c, s) for c in BENCHMARK_CORRUPTIONS for s in SEVERITIES
               if s not in aps.get(c, {})]
    if strict and missing:
        raise ValueError(f"the corruption benchmark needs all 75 views (15 corruptions x 5 severities): "
                         f"{len(missing)} missing, e.g. {missing[0]}")
    family_of = {c: family for family, names in CORRUPTION_FAMILIES.items() for c in names}
    per_corruption = {}
    for c in ALL_CORRUPTIONS:
        if c not in aps:
            continue
        mean = _mean([aps[c][s] for s in sorted(aps[c])])
        per_corruption[c] = {"family": family_of.get(c, "extra"), "benchmark": c in family_of,
                             "ap": {str(s): aps[c][s] for s in sorted(aps[c])},
                             "mean": mean, "relative": _relative(mean, clean)}
    per_severity = {}
    for s in SEVERITIES:
        at = [aps[c][s] for c in BENCHMARK_CORRUPTIONS if s in aps.get(c, {})]
        if at:
            per_severity[str(s)] = _mean(at)
    summary = {"clean_ap": clean, **_aggregate(aps, BENCHMARK_CORRUPTIONS, clean),
               "complete": not missing, "missing": missing,
               "families": {f: _aggregate(aps, names, clean) for f, names in CORRUPTION_FAMILIES.items()},
               "all_corruptions": _aggregate(aps, ALL_CORRUPTIONS, clean),
               "per_corruption": per_corruption, "per_severity": per_severity}
    return summary


def _fmt(value: Optional[float], percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if percent else f"{value:.1f}"


def robustness_table_lines(summary: dict) -> List[str]:
    """The summary as a plain-text table: one row per corruption (AP at each severity, mean, mean
    relative to clean), then mPC/rPC overall and per family, with the view counts."""
    header = f"{'corruption':<18} " + " ".join(f"{'s' + str(s):>5}" for s in SEVERITIES) + f" {'mean':>6} {'rel':>6}"
    lines = [header, "-" * len(header)]
    for name, row in summary["per_corruption"].items():
        cells = " ".join(f"{_fmt(row['ap'].get(str(s))):>5}" for s in SEVERITIES)
        tag = "" if row["benchmark"] else " (extra)"
        lines.append(f"{name:<18} {cells} {_fmt(row['mean']):>6} {_fmt(row['relative'], True):>6}{tag}")
    lines.append("-" * len(header))
    rows: List[Tuple[str, dict]] = [("benchmark (15)", summary)] + list(summary["families"].items())
    if summary["all_corruptions"]["views_used"] > summary["views_used"]:
        rows.append(("all (19)", summary["all_corruptions"]))
    lines.append(f"clean AP (P) {_fmt(summary['clean_ap'])}")
    for label, agg in rows:
        count = f"over {agg['views_used']} of {agg['views_expected']} views"
        lines.append(f"{label:<15} mPC {_fmt(agg['mpc']):>5}  rPC {_fmt(agg['rpc'], True):>6}  ({count})")
    if not summary["complete"]:
        lines.append(f"incomplete benchmark: {len(summary['missing'])} of 75 views missing; "
                     "mPC is the mean over the views measured (not comparable with a complete mPC)")
    return lines
