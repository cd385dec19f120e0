"""The report's "Corruptions" section: mPC/rPC (the COCO-C benchmark's numbers), each corruption's
AP per severity, the perturbation spectra and the AP drop against them.

Reads what the evaluation wrote: ``summary.json["robustness"]``
(:func:`hfc_det.evaluation.outputs.robustness_of`) and the pictures of
:mod:`hfc_det.evaluation.corruption_outputs`, which :func:`corruption_section` copies into the
report's ``plots/`` (the report folder stands on its own).
"""
from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from hfc_det.views.corruptions import SEVERITIES

__all__ = ["corruption_section", "render_corruption_section"]

#: The pictures, in the order shown, with their captions.
_FIGURES = (
    ("grid", "Mean amplitude spectrum of (corrupted - original) per corruption (log scale, zero frequency "
             "centred, axes in cycles per pixel): where each corruption puts its energy"),
    ("radial", "Share of each perturbation's energy per ring of radius (cycles per pixel)"),
    ("link", "AP drop (clean minus corrupted COCO AP) against the perturbation's energy-weighted mean radius "
             "(left) and, with band views, against the drop the band views predict (right); Spearman's rho in "
             "the titles"),
)


def corruption_section(results, report_dir: Path) -> Optional[Dict[str, Any]]:
    """``report.json["corruptions"]``: the robustness summary and the pictures (copied into
    ``report_dir/plots/``, paths relative to ``report_dir``); ``None`` when the run has no
    corruption view. ``results``: an :class:`~hfc_det.metrics.results.EvalResults`."""
    robustness = results.summary.get("robustness")
    if not robustness:
        return None
    spectra = robustness.get("spectra") or {}
    figures = []
    for key, caption in _FIGURES:
        name = (spectra.get("files") or {}).get(key)
        source = Path(results.output_dir) / name if name else None
        if source is None or not source.is_file():
            continue
        rel = f"plots/{name}"
        target = Path(report_dir) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, str(target) + ".tmp")
        Path(str(target) + ".tmp").replace(target)
        figures.append({"key": key, "path": rel, "caption": caption})
    link = spectra.get("spectral_link") or {}
    return {"robustness": {k: v for k, v in robustness.items() if k != "spectra"}, "figures": figures,
            "spectra_images": spectra.get("images"), "pictured_severity": spectra.get("pictured_severity"),
            "spearman": {k: v for k, v in link.items() if k.startswith("spearman")}}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ap(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1f}"


def _pct(value: Optional[float]) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _cell(value: Optional[float], text: str) -> str:
    return f'<td data-value="{"" if value is None else repr(float(value))}">{_e(text)}</td>'


def _per_corruption_table(robustness: Mapping[str, Any]) -> str:
    head = "".join(f"<th>s{s}</th>" for s in SEVERITIES)
    rows = []
    for name, row in robustness["per_corruption"].items():
        cells = "".join(_cell(row["ap"].get(str(s)), _ap(row["ap"].get(str(s)))) for s in SEVERITIES)
        rows.append(f'<tr><td class="text">{_e(name)}</td><td class="text">{_e(row["family"])}</td>{cells}'
                    f'{_cell(row["mean"], _ap(row["mean"]))}{_cell(row["relative"], _pct(row["relative"]))}</tr>')
    return (f'<table id="corruption-aps"><thead><tr><th class="text">corruption</th><th class="text">family</th>{head}'
            f'<th>mean</th><th>relative to clean</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _aggregate_table(robustness: Mapping[str, Any]) -> str:
    rows: List[tuple] = [("benchmark (15 corruptions)", robustness)]
    rows += [(family, agg) for family, agg in robustness["families"].items()]
    if robustness["all_corruptions"]["views_used"] > robustness["views_used"]:
        rows.append(("all (19 corruptions)", robustness["all_corruptions"]))
    body = "".join(
        f'<tr><td class="text">{_e(label)}</td>{_cell(agg["mpc"], _ap(agg["mpc"]))}{_cell(agg["rpc"], _pct(agg["rpc"]))}'
        f'<td>{agg["views_used"]} of {agg["views_expected"]}</td></tr>' for label, agg in rows)
    return (f'<table id="corruption-mpc"><thead><tr><th class="text">corruptions</th><th>mPC</th><th>rPC</th>'
            f'<th>views measured</th></tr></thead><tbody>{body}</tbody></table>')


def render_corruption_section(section: Optional[Mapping[str, Any]]) -> str:
    """The section's HTML (heading included), ``""`` without corruption views."""
    if not section:
        return ""
    r = section["robustness"]
    notes = [f"COCO AP (0-100). Clean AP P = {_ap(r['clean_ap']) or 'undefined'}. mPC: the mean AP over the "
             "benchmark's 15 corruptions at severities 1-5, each (corruption, severity) weighted the same; "
             "rPC = mPC / P (Michaelis et al. 2019)."]
    if not r["complete"]:
        notes.append(f"Incomplete benchmark: {len(r['missing'])} of 75 views were not evaluated, so mPC is the mean "
                     "over the views measured and is not comparable with a complete mPC.")
    if r.get("undefined"):
        notes.append(f"Left out (AP undefined): {', '.join(r['undefined'])}.")
    rho = section.get("spearman") or {}
    if section.get("spectra_images"):
        said = [f"Spearman's rho of the AP drop against the mean radius: "
                f"{_num(rho.get('spearman_drop_vs_mean_radius'))}"]
        if "spearman_predicted_vs_measured_drop" in rho:
            said.append(f"of the band-predicted drop against the measured one: "
                        f"{_num(rho['spearman_predicted_vs_measured_drop'])}")
        notes.append(f"Spectra over {section['spectra_images']} images, pictured at severity "
                     f"{section['pictured_severity']}. " + "; ".join(said) + " (undefined with fewer than 3 views; "
                     "a correlation over a few corruptions is a description of this run, not a law).")
    figures = "".join(f'<figure><img src="{_e(f["path"])}" alt="{_e(f["caption"])}">'
                      f'<figcaption>{_e(f["caption"])}</figcaption></figure>' for f in section["figures"])
    return ('<h2 id="corruptions-section">Corruptions</h2>\n'
            + "".join(f'<p class="meta">{_e(n)}</p>' for n in notes)
            + _aggregate_table(r) + "<p></p>" + _per_corruption_table(r)
            + f'<div class="plots">{figures}</div>\n')


def _num(value: Optional[float]) -> str:
    return "undefined" if value is None else f"{value:+.2f}"
