"""Write a :class:`ViewsEvaluation` to the output folder, and the paper-style table.

Output contract (read by the report and demo tools), in ``output_dir``:

- ``detections/<view>.json``: COCO results (``image_id``, ``category_id`` in the dataset's
  ids, ``bbox`` xywh in original-image pixels, ``score``).
- ``per_image_ap.csv``: ``image_id, file_name, ap_<view>...`` for every evaluated image
  (AP in [0, 1], ``nan`` where undefined; skipped images are listed in summary.json instead).
- ``gain_loss/<view>.csv`` for each filtered view: ``image_id, file_name, ap_original,
  ap_<view>, difference, outcome``, sorted by ``difference`` (largest gain first, undefined last).
- ``summary.json``: ``variants`` (COCO metrics per view, 0-100), ``per_image`` (gain/loss/
  tie/undefined counts per filtered view), ``skipped``, plus whatever the caller adds
  (dataset, radii, config, weights, versions). Written last: its presence means the
  folder is complete.

Every file is written to a temporary name and renamed, so a run that dies half way never
leaves a file that looks finished.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Dict, Optional

from .evaluator import COCO_METRICS, ViewsEvaluation, array_to_coco_results
from ..atomic import write_text_atomic

__all__ = ["write_outputs", "format_table", "to_json_number"]


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
        a0, a1 = ev.per_image_ap["original"][i], ev.per_image_ap[view][i]
        rows.append((i, ev.file_names[i], a0, a1, a1 - a0, ev.outcomes[view][i]))
    # largest gain first; undefined (NaN difference) last; ties broken by image id
    rows.sort(key=lambda r: (math.isnan(r[4]), -r[4] if not math.isnan(r[4]) else 0.0, r[0]))
    return [(i, f, _fmt(a0), _fmt(a1), _fmt(d), o) for i, f, a0, a1, d, o in rows]


def _results_json(ev: ViewsEvaluation, view: str) -> str:
    """``json.dumps(ev.coco_results(view))``, byte for byte, one image's dicts at a time
    (500k result dicts at once would cost far more memory than the text)."""
    dets = ev.detections[view]
    parts = (json.dumps(array_to_coco_results(i, dets[i]))[1:-1] for i in sorted(dets) if len(dets[i]))
    return "[" + ", ".join(parts) + "]"


def write_outputs(output_dir, ev: ViewsEvaluation, extra_summary: Optional[Dict] = None) -> Dict[str, str]:
    """Write the output contract (see module docstring); returns ``{what: path}``."""
    out = Path(output_dir)
    paths = {}
    for view in ev.views:
        p = out / "detections" / f"{view}.json"
        write_text_atomic(p, _results_json(ev, view))
        paths[f"detections/{view}"] = str(p)
    header = ["image_id", "file_name"] + [f"ap_{v}" for v in ev.views]
    rows = [[i, ev.file_names[i]] + [_fmt(ev.per_image_ap[v][i]) for v in ev.views] for i in ev.image_ids]
    write_text_atomic(out / "per_image_ap.csv", _csv_text(header, rows))
    paths["per_image_ap"] = str(out / "per_image_ap.csv")
    for view in ev.outcomes:
        p = out / "gain_loss" / f"{view}.csv"
        header = ["image_id", "file_name", "ap_original", f"ap_{view}", "difference", "outcome"]
        write_text_atomic(p, _csv_text(header, _gain_loss_rows(ev, view)))
        paths[f"gain_loss/{view}"] = str(p)
    summary = {
        "variants": {v: {m: to_json_number(ev.metrics[v][m]) for m in COCO_METRICS} for v in ev.views},
        "per_image": {v: ev.counts(v) for v in ev.outcomes},
        "num_images": len(ev.image_ids),
        "resumed_images": ev.resumed_images,
        "skipped": ev.skipped,
    }
    summary.update(extra_summary or {})
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False))
    paths["summary"] = str(out / "summary.json")
    return paths


def format_table(ev: ViewsEvaluation) -> str:
    """The paper-style table: view, AP, AP50, AP75, APs, APm, APl, images gained, lost."""
    header = ["view", *COCO_METRICS, "gained", "lost"]
    lines = []
    for v in ev.views:
        counts = ev.counts(v) if v in ev.outcomes else None
        lines.append([v] + [f"{ev.metrics[v][m]:.2f}" for m in COCO_METRICS]
                     + ([str(counts["gain"]), str(counts["loss"])] if counts else ["-", "-"]))
    widths = [max(len(r[k]) for r in [header] + lines) for k in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    rule = "-" * len(fmt(header))
    text = [fmt(header), rule] + [fmt(r) for r in lines]
    text.append(f"{len(ev.image_ids)} images evaluated" + (f", {len(ev.skipped)} skipped (unreadable)" if ev.skipped else ""))
    return "\n".join(text)
