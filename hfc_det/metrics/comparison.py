"""Several ``eval_lfc.py`` runs on the same images, side by side: the numbers of
``tools/compare_runs.py`` (detectors, training recipes, the texture experiment's tied and
free cells).

Each run is read with :func:`hfc_det.metrics.run_results.load_run`. :func:`compare_runs`
returns ``comparison.json``'s dict:

- ``ap``: per run and view, COCO's metrics (0-100, ``summary.json["variants"]``) and the
  **relative AP** ``AP(view) / AP(original)``, so that detectors with different clean AP can
  be compared (None where the clean AP is 0 or undefined);
- ``pairs``: for every pair of runs ``(A, B)``, every view both have (the original aside)
  and every per-image measure both have (COCOeval's, the strict one), the paired statistics
  of :func:`hfc_det.metrics.paired_stats.paired_statistics` on
  ``d = change_A - change_B``, where ``change = AP(view) - AP(original)`` per image: the mean
  ``d`` with its bootstrap interval, ``gains`` (images where A's change is larger: A loses
  less or gains more than B), ``losses`` (B's change larger), ``ties``, the sign test and
  the Wilcoxon test. An image whose change is undefined in either run is left out;
- ``tide``: TIDE's breakdown per run and view (``summary.json["errors"]``), where computed;
- ``reliance``: the frequency-reliance summary of :func:`frequency_reliance` per run.

Runs on different datasets or images are refused (:class:`ComparisonError`, one line);
views that only some runs have are listed in ``partial_views``, not dropped silently.
No detectron2, no torch at import.
"""
from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hfc_det.metrics.paired_stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    paired_settings,
    paired_statistics,
)
from hfc_det.metrics.results import COCO_METRICS, ResultsError
from hfc_det.metrics.run_results import RunResults, load_run
from hfc_det.metrics.strict_ap import MEASURES

__all__ = ["ComparisonError", "HALF", "compare_runs", "frequency_reliance", "run_labels", "relative_ap",
           "check_same_images", "DEFINITIONS"]

#: The share of the clean AP whose radius :func:`frequency_reliance` reports.
HALF = 0.5

#: What comparison.json's numbers mean (written into it).
DEFINITIONS = {
    "relative_AP": "AP(view) / AP(original) of the same run (COCO AP over the whole set); None where the "
                   "clean AP is 0 or undefined",
    "pairs": "per pair (A, B), view and measure: paired statistics of d = change_A - change_B over the images "
             "where both are defined, change = per-image AP(view) - AP(original). mean_difference < 0: A loses "
             "more than B on the view. gains: images where A's change is larger; losses: where B's is",
    "lfc_half_radius": "the radius at which the LFC keeps half the clean AP: the relative AP of the low_r<R> "
                       "views, in increasing R, linearly interpolated between the last radius below 0.5 and the "
                       "first at or above it; None (with the reason) when the curve starts at or above 0.5 or "
                       "never reaches it. Larger: the detector needs more of the high frequencies",
    "hfc_at_smallest_radius": "AP and relative AP of the high_r<R> view at the smallest R: what the detector "
                              "still finds in the high frequencies alone",
}


class ComparisonError(ResultsError):
    """The runs cannot be compared (one line for the user)."""


def _config_label(run: RunResults) -> str:
    config = run.summary.get("config_file")
    return Path(str(config)).stem if config else run.folder.name


def run_labels(runs: Sequence[RunResults], labels: Optional[Sequence[str]] = None) -> List[str]:
    """One label per run: ``labels`` when given (one per run, all different), else the config
    name ``summary.json`` records (its file stem), with the folder's path below the runs'
    common folder added where two runs share a config (``demo (cell_a/val)``)."""
    if labels is not None:
        labels = [str(x) for x in labels]
        if len(labels) != len(runs):
            raise ComparisonError(f"--labels gives {len(labels)} labels for {len(runs)} runs")
        repeated = [x for x, n in Counter(labels).items() if n > 1]
        if repeated:
            raise ComparisonError(f"--labels: {repeated[0]!r} is given twice; each run needs its own label")
        if any(not x.strip() for x in labels):
            raise ComparisonError("--labels: a label is empty")
        return labels
    names = [_config_label(r) for r in runs]
    shared = Counter(names)
    # where two runs share a config, their folders' paths below the folder all runs share
    # tell them apart (folders are distinct: compare_runs refuses one given twice)
    folders = [r.folder.expanduser().resolve() for r in runs]
    base = Path(os.path.commonpath(folders)) if len(folders) > 1 else folders[0].parent
    return [f"{n} ({f.relative_to(base).as_posix() or f.name})" if shared[n] > 1 else n
            for n, f in zip(names, folders)]


def _ids(ids: Sequence[int], k: int = 5) -> str:
    shown = ", ".join(str(i) for i in ids[:k])
    return shown + (", ..." if len(ids) > k else "")


def check_same_images(runs: Sequence[RunResults], labels: Sequence[str]) -> None:
    """Refuse runs on different datasets (``summary.json``'s dataset name) or different
    images (the image ids of ``per_image_ap.csv``), naming the difference in one line."""
    first, name0 = runs[0], (runs[0].summary.get("dataset") or {}).get("name")
    ids0 = set(first.per_image.index.tolist())
    for run, label in zip(runs[1:], labels[1:]):
        name = (run.summary.get("dataset") or {}).get("name")
        if name != name0:
            raise ComparisonError(f"the runs are on different datasets: {labels[0]} on {name0!r}, "
                                  f"{label} on {name!r}")
        ids = set(run.per_image.index.tolist())
        if ids != ids0:
            only0, only1 = sorted(ids0 - ids), sorted(ids - ids0)
            raise ComparisonError(
                f"the runs are on different images of {name0!r}: {labels[0]} has {len(ids0)}, {label} {len(ids)}; "
                f"{len(only0)} only in {labels[0]}" + (f" (ids {_ids(only0)})" if only0 else "")
                + f", {len(only1)} only in {label}" + (f" (ids {_ids(only1)})" if only1 else ""))


def _number(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _finite_or_none(x: float) -> Optional[float]:
    return None if x is None or math.isnan(x) else float(x)


def relative_ap(ap_view: Any, ap_original: Any) -> Optional[float]:
    """``ap_view / ap_original``; None where either is undefined or the original is 0."""
    a, a0 = _number(ap_view), _number(ap_original)
    if math.isnan(a) or math.isnan(a0) or a0 == 0:
        return None
    return a / a0


def _radius_curve(variants: Dict[str, Dict[str, Any]], kind: str) -> List[tuple]:
    """``[(radius, view)]`` of the run's ``<kind>_r<R>`` views, by radius."""
    from hfc_det.views.grammar import parse_view  # (torch) only to read the view names

    curve = []
    for view in variants:
        try:
            k, radius = parse_view(view)
        except ValueError:
            continue
        if k == kind:
            curve.append((float(radius), view))
    return sorted(curve)


def frequency_reliance(variants: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The frequency-reliance summary of one run from its COCO AP per view
    (``summary.json["variants"]``, 0-100); see :data:`DEFINITIONS`.

    Returns ``{"clean_AP", "lfc_curve": [[radius, relative AP], ...], "lfc_half_radius",
    "lfc_half_reason", "hfc_radius", "hfc_AP", "hfc_relative_AP", "hfc_reason"}``; a number
    that cannot be given is None, with its reason.
    """
    clean = _number((variants.get("original") or {}).get("AP"))
    out: Dict[str, Any] = {"clean_AP": _finite_or_none(clean), "lfc_curve": [], "lfc_half_radius": None,
                           "lfc_half_reason": None, "hfc_radius": None, "hfc_AP": None, "hfc_relative_AP": None,
                           "hfc_reason": None}
    low = [(r, relative_ap(variants[v].get("AP"), clean)) for r, v in _radius_curve(variants, "low")]
    out["lfc_curve"] = [[r, rel] for r, rel in low]
    if out["clean_AP"] is None or out["clean_AP"] == 0:
        out["lfc_half_reason"] = out["hfc_reason"] = "no clean AP (the original's AP is undefined or 0)"
        return out
    low = [(r, rel) for r, rel in low if rel is not None]
    if len(low) < 2:
        out["lfc_half_reason"] = f"{len(low)} LFC radius with an AP: a crossing needs two"
    elif low[0][1] >= HALF:
        out["lfc_half_reason"] = (f"the LFC keeps {low[0][1]:.2f} of the clean AP already at the smallest "
                                  f"radius, {low[0][0]:g}")
    else:
        for (r0, y0), (r1, y1) in zip(low, low[1:]):
            if y0 < HALF <= y1:
                out["lfc_half_radius"] = r0 + (HALF - y0) * (r1 - r0) / (y1 - y0)
                break
        else:
            out["lfc_half_reason"] = (f"the LFC keeps less than half the clean AP up to the largest radius, "
                                      f"{low[-1][0]:g} ({low[-1][1]:.2f})")
    high = [(r, v) for r, v in _radius_curve(variants, "high") if not math.isnan(_number(variants[v].get("AP")))]
    if high:
        radius, view = high[0]
        out.update(hfc_radius=radius, hfc_AP=_number(variants[view]["AP"]),
                   hfc_relative_AP=relative_ap(variants[view]["AP"], clean))
    else:
        out["hfc_reason"] = "no high_r<R> view with an AP"
    return out


def _pair_rows(a: RunResults, b: RunResults, views: Sequence[str], measures: Sequence[str],
               n_resamples: int, confidence: float, seed: int) -> List[Dict[str, Any]]:
    rows = []
    for view in views:
        for measure in measures:
            try:
                change_a = a.ap(view, measure) - a.ap("original", measure)
                change_b = (b.ap(view, measure) - b.ap("original", measure)).reindex(change_a.index)
            except KeyError as e:  # a view in the summary without its per-image column
                raise ComparisonError(e.args[0]) from None
            stats = paired_statistics(change_a.to_numpy(dtype=float), change_b.to_numpy(dtype=float),
                                      n_resamples, confidence, seed)
            rows.append({"view": view, "measure": measure, **stats})
    return rows


def compare_runs(folders: Sequence[Any], labels: Optional[Sequence[str]] = None, *,
                 n_resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE,
                 seed: int = BOOTSTRAP_SEED) -> Dict[str, Any]:
    """Read the run folders and compute ``comparison.json``'s dict (module docstring).

    Args:
        folders: ``eval_lfc.py`` output folders (one or more, each once).
        labels: one name per run (default: :func:`run_labels`).
        n_resamples, confidence, seed: the bootstrap's, as in
            :func:`~hfc_det.metrics.paired_stats.paired_statistics`.

    Raises:
        ComparisonError: labels, datasets or images that do not fit (one line).
        FileNotFoundError, ResultsError: a folder that is missing or not a finished run.
    """
    if not folders:
        raise ComparisonError("no run folder given")
    resolved = [Path(f).expanduser().resolve() for f in folders]
    repeated = [f for f, n in Counter(resolved).items() if n > 1]
    if repeated:
        raise ComparisonError(f"run folder {repeated[0]} is given twice")
    runs = [load_run(f) for f in folders]
    labels = run_labels(runs, labels)
    check_same_images(runs, labels)

    views = list(dict.fromkeys(v for r in runs for v in r.views))
    have = {v: [lab for lab, r in zip(labels, runs) if v in r.views] for v in views}
    common = [v for v in views if len(have[v]) == len(runs)]
    partial = {v: have[v] for v in views if v not in common}
    measures = [m for m in MEASURES if all(m in r.measures for r in runs)]
    compared = [v for v in common if v != "original"] if "original" in common else []

    ap = {}
    for label, run in zip(labels, runs):
        variants = run.summary.get("variants") or {}
        clean = (variants.get("original") or {}).get("AP")
        ap[label] = {v: {**{m: _finite_or_none(_number(variants[v].get(m))) for m in COCO_METRICS},
                         "relative_AP": relative_ap(variants[v].get("AP"), clean)}
                     for v in run.views if v in variants}
    pairs = [{"a": labels[i], "b": labels[j],
              "rows": _pair_rows(runs[i], runs[j], compared, measures, n_resamples, confidence, seed)}
             for i, j in itertools.combinations(range(len(runs)), 2)]
    return {
        "runs": [{"label": label, "folder": str(run.folder), "config_file": run.summary.get("config_file"),
                  "weights": run.summary.get("weights"), "smooth_rho": run.summary.get("smooth_rho"),
                  "num_images": int(len(run.per_image)), "views": run.views, "measures": run.measures}
                 for label, run in zip(labels, runs)],
        "labels": labels,
        "dataset": runs[0].summary.get("dataset") or {},
        "num_images": int(len(runs[0].per_image)),
        "views": views,
        "common_views": common,
        "partial_views": partial,
        "measures": measures,
        "ap": ap,
        "pairs": pairs,
        "paired_settings": paired_settings(n_resamples, confidence, seed),
        "tide": {label: run.tide_errors for label, run in zip(labels, runs) if run.tide_errors},
        "tide_missing": [label for label, run in zip(labels, runs) if not run.tide_errors],
        "reliance": {label: frequency_reliance(run.summary.get("variants") or {}) for label, run in zip(labels, runs)},
        "definitions": DEFINITIONS,
    }
