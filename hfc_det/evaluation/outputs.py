"""Write a :class:`ViewsEvaluation` to the output folder, and the paper-style table.

Output contract (read by the report and demo tools), in ``output_dir``:

- ``detections/<view>.json``: COCO results (``image_id``, ``category_id`` in the dataset's
  ids, ``bbox`` xywh in original-image pixels, ``score``).
- ``per_image_ap.csv``: ``image_id, file_name, ap_<view>..., ap_strict_<view>...`` for every
  evaluated image: COCOeval's per-image AP, then the strict one (:mod:`.strict_ap`); AP in
  [0, 1], ``nan`` where undefined (skipped images are listed in summary.json instead).
- ``gain_loss/<view>.csv`` for each filtered view: ``image_id, file_name, ap_original,
  ap_<view>, difference, outcome, ap_strict_original, ap_strict_<view>, difference_strict,
  outcome_strict``, sorted by ``difference`` (largest gain first, undefined last).
- ``summary.json``: ``variants`` (COCO metrics per view, 0-100), ``per_image[view][measure]``
  (gain/loss/tie/undefined counts per filtered view, measure ``coco`` or ``strict``),
  ``paired[view][measure]`` (:func:`~hfc_det.metrics.paired_stats.paired_statistics`),
  ``paired_settings``, ``strict_score``, ``controls``, ``errors[view]`` (TIDE: ``ap50``,
  ``main`` and ``special`` dAP, when computed), ``skipped``, ``robustness`` when the run has
  corruption views (:func:`robustness_of`: mPC/rPC as the COCO-C benchmark defines them from the
  views' COCO AP, with the frequency signatures' link to the AP drops when the caller computed
  them, :mod:`.corruption_outputs`), plus whatever the caller adds (dataset, radii, config,
  weights, versions). Written last: its presence means the folder is complete.

Every file is written to a temporary name and renamed, so a run that dies half way never
leaves a file that looks finished.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Dict, List, Optional

from hfc_det.evaluation.evaluator import COCO_METRICS, ViewsEvaluation, array_to_coco_results
from hfc_det.metrics.paired_stats import paired_settings
from hfc_det.metrics.robustness import robustness_summary, robustness_table_lines
from hfc_det.metrics.strict_ap import MEASURES, ap_column
from hfc_det.utils.atomic import write_text_atomic

__all__ = ["write_outputs", "format_table", "to_json_number", "corruption_views_of", "robustness_of"]


def to_json_number(x: float) -> Optional[float]:
    """JSON has no NaN: undefined values are written as ``null``."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _csv_text(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else repr(float(x))


def _gain_loss_rows(ev: ViewsEvaluation, view: str):
    rows = []
    for i in ev.image_ids:
        row = [i, ev.file_names[i]]
        for aps, outcomes in ((ev.per_image_ap, ev.outcomes), (ev.per_image_ap_strict, ev.outcomes_strict)):
            a0, a1 = aps["original"][i], aps[view][i]
            row += [a0, a1, a1 - a0, outcomes[view][i]]
        rows.append(row)
    # largest gain first (COCOeval's measure); undefined (NaN difference) last; ties by image id
    rows.sort(key=lambda r: (math.isnan(r[4]), -r[4] if not math.isnan(r[4]) else 0.0, r[0]))
    return [[_fmt(x) if isinstance(x, float) else x for x in r] for r in rows]


def _json_numbers(d: Dict) -> Dict:
    return {k: to_json_number(v) for k, v in d.items()}


def _results_json(ev: ViewsEvaluation, view: str) -> str:
    """``json.dumps(ev.coco_results(view))``, byte for byte, one image's dicts at a time
    (500k result dicts at once would cost far more memory than the text)."""
    dets = ev.detections[view]
    parts = (json.dumps(array_to_coco_results(i, dets[i]))[1:-1] for i in sorted(dets) if len(dets[i]))
    return "[" + ", ".join(parts) + "]"


def corruption_views_of(views) -> List[str]:
    """The ``corrupt_<name>_s<severity>`` views among ``views``, in their order."""
    from hfc_det.views.corruptions import CORRUPTION_KIND
    from hfc_det.views.grammar import parse_view

    return [v for v in views if parse_view(v)[0] == CORRUPTION_KIND]


def robustness_of(ev: ViewsEvaluation, corruption_spectra: Optional[Dict] = None) -> Optional[Dict]:
    """``summary.json["robustness"]``: :func:`~hfc_det.metrics.robustness.robustness_summary` of
    the corruption views' COCO AP (0-100) against the ``original`` view's (``clean_ap``, ``None``
    without it), ``metric: "AP"``, and ``corruption_spectra`` (what
    :func:`~hfc_det.evaluation.corruption_outputs.write_corruption_outputs` returns: the spectra's
    files and the spectral link) under ``spectra``; ``None`` without corruption views. A view
    whose AP is undefined (no annotation) is left out and listed under ``undefined``."""
    views = corruption_views_of(ev.views)
    if not views:
        return None
    ap = {v: ev.metrics[v]["AP"] for v in views}
    defined = {v: a for v, a in ap.items() if a is not None and math.isfinite(a)}
    clean = ev.metrics.get("original", {}).get("AP")
    clean = clean if clean is not None and math.isfinite(clean) else None
    out = {"metric": "AP", **robustness_summary(defined, clean_ap=clean),
           "undefined": [v for v in views if v not in defined]}
    if corruption_spectra:
        out["spectra"] = corruption_spectra
    return out


def write_outputs(output_dir, ev: ViewsEvaluation, extra_summary: Optional[Dict] = None,
                  corruption_spectra: Optional[Dict] = None) -> Dict[str, str]:
    """Write the output contract (see module docstring); returns ``{what: path}``.
    ``corruption_spectra``: goes into ``summary["robustness"]["spectra"]`` (:func:`robustness_of`)."""
    out = Path(output_dir)
    paths = {}
    for view in ev.views:
        p = out / "detections" / f"{view}.json"
        write_text_atomic(p, _results_json(ev, view))
        paths[f"detections/{view}"] = str(p)
    header = ["image_id", "file_name"] + [ap_column(v, m) for m in MEASURES for v in ev.views]
    rows = [[i, ev.file_names[i]] + [_fmt(ev.ap(m)[v][i]) for m in MEASURES for v in ev.views] for i in ev.image_ids]
    write_text_atomic(out / "per_image_ap.csv", _csv_text(header, rows))
    paths["per_image_ap"] = str(out / "per_image_ap.csv")
    for view in ev.outcomes:
        p = out / "gain_loss" / f"{view}.csv"
        header = ["image_id", "file_name", "ap_original", f"ap_{view}", "difference", "outcome",
                  "ap_strict_original", f"ap_strict_{view}", "difference_strict", "outcome_strict"]
        write_text_atomic(p, _csv_text(header, _gain_loss_rows(ev, view)))
        paths[f"gain_loss/{view}"] = str(p)
    robustness = robustness_of(ev, corruption_spectra)
    summary = {
        "variants": {v: {m: to_json_number(ev.metrics[v][m]) for m in COCO_METRICS} for v in ev.views},
        "per_image": {v: {m: ev.counts(v, m) for m in MEASURES} for v in ev.outcomes},
        "paired": {v: {m: _json_numbers(ev.paired[v][m]) for m in MEASURES} for v in ev.paired},
        "paired_settings": paired_settings(),
        "strict_score": ev.strict_score,
        # each filtered view's control (white noise as strong as its HFC), where evaluated
        "controls": {v: c for v in ev.outcomes for c in [control_view(v, ev.outcomes)] if c},
        # TIDE per view: AP50 and the dAP of each error type (0-100); absent when not computed
        **({"errors": ev.errors} if ev.errors else {}),
        # mPC/rPC of the corruption views, with their frequency signatures' link to the AP drops
        **({"robustness": robustness} if robustness else {}),
        "num_images": len(ev.image_ids),
        "resumed_images": ev.resumed_images,
        "skipped": ev.skipped,
    }
    summary.update(extra_summary or {})
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False))
    paths["summary"] = str(out / "summary.json")
    return paths


def _p(p: Optional[float]) -> str:
    return "-" if p is None else f"{p:.2g}"


def control_view(view: str, views) -> Optional[str]:
    """The control ``noise_r<R>`` among ``views`` for a ``low_r<R>`` / ``high_r<R>`` view, else None."""
    from hfc_det.views.noise_control import noise_view_name
    from hfc_det.views.grammar import parse_view

    kind, radius = parse_view(view)
    if kind not in ("low", "high"):
        return None
    name = noise_view_name(radius)
    return name if name in views else None


def format_table(ev: ViewsEvaluation) -> str:
    """The paper-style table with the paired statistics, one row per view.

    Columns: view, AP, AP50, AP75 (COCO, 0-100); images gained and lost under COCOeval's
    per-image AP and under the strict one; the control's gains at the same radius; the mean
    per-image AP difference (COCOeval's measure) with its bootstrap interval; the sign-test
    p-values under both measures.
    """
    pct = int(round(paired_settings()["confidence"] * 100))
    header = ["view", "AP", "AP50", "AP75", "gained", "lost", "gained*", "lost*", "control gained",
              f"mean dAP [{pct}% CI]", "sign p", "sign p*"]
    lines = []
    for v in ev.views:
        row = [v] + [f"{ev.metrics[v][m]:.2f}" for m in ("AP", "AP50", "AP75")]
        if v in ev.outcomes:
            coco, strict = ev.counts(v), ev.counts(v, "strict")
            control = control_view(v, ev.outcomes)
            paired = ev.paired[v]
            c = paired["coco"]
            ci = ("-" if math.isnan(c["mean_difference"]) else
                  f"{c['mean_difference']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]")
            row += [str(coco["gain"]), str(coco["loss"]), str(strict["gain"]), str(strict["loss"]),
                    str(ev.counts(control)["gain"]) if control else "-", ci,
                    _p(c["sign_test_p"]), _p(paired["strict"]["sign_test_p"])]
        else:
            row += ["-"] * (len(header) - len(row))
        lines.append(row)
    widths = [max(len(r[k]) for r in [header] + lines) for k in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    rule = "-" * len(fmt(header))
    text = [fmt(header), rule] + [fmt(r) for r in lines]
    text.append(f"* strict per-image AP: a category absent from the image but detected with score >= "
                f"{ev.strict_score:g} counts 0.")
    text.append("control: gains of noise_r<R> (white noise as strong as the HFC at R); sign p: two-sided "
                "sign test of gains vs losses; mean dAP: COCOeval's per-image AP, view minus original.")
    text.append(f"{len(ev.image_ids)} images evaluated" + (f", {len(ev.skipped)} skipped (unreadable or too thin)" if ev.skipped else ""))
    robustness = robustness_of(ev)
    if robustness:
        text += ["", "corruption robustness (COCO AP; mPC: mean over the benchmark's corruptions and severities, "
                 "rPC = mPC / clean AP):"] + robustness_table_lines(robustness)
    return "\n".join(text)
