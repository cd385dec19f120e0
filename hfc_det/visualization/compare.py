"""The comparison of several ``eval_lfc.py`` runs (``tools/compare_runs.py``): one figure of
every run's AP-vs-frequency curves, absolute and relative, and one self-contained HTML page
with the tables of :func:`hfc_det.metrics.comparison.compare_runs`.

:func:`write_comparison` writes, under one folder::

    comparison.json         the numbers (compare_runs' dict, plus the figure's rows)
    ap_vs_frequency.png     the curves: one column per kind of view (LFC, HFC, band, blur),
                            COCO AP on top, relative AP (AP / clean AP) below; .csv: its data
    index.html              the page (written last: a folder with one is complete)
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from matplotlib.figure import Figure

from hfc_det.metrics.comparison import HALF, compare_runs
from hfc_det.metrics.paired_stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from hfc_det.metrics.results import COCO_METRICS
from hfc_det.utils.atomic import save_figure_atomic, write_json_atomic, write_text_atomic
from hfc_det.visualization.ap_curves import CURVE_KINDS, _csv, ap_vs_frequency_rows
from hfc_det.visualization.plots import WIDE_FIGURE_INCHES
from hfc_det.visualization.report_html import _CSS, _MEASURE_NAMES, _e, _mean_ci, _num, _p, heat_style

__all__ = ["write_comparison", "plot_compared_curves", "render_comparison_page"]

_KIND_TITLES = {"low": "LFC (low_r<R>)", "high": "HFC (high_r<R>)", "band": "band (band_r<A>-<B>)",
                "blur": "blur (blur_s<SIGMA>)"}
_X_LABEL = {"low": "radius R (frequency bins)", "high": "radius R (frequency bins)",
            "band": "band middle (frequency bins)", "blur": "Gaussian blur sigma (px)"}
# View and run names stay on one line (band_r16-24 would break at its hyphen).
_COMPARE_CSS = "#ap td.text, #tide td.text, table.pair td.text { white-space: nowrap; }\n"


def plot_compared_curves(comparison: Mapping[str, Any], path: Path) -> Optional[Dict[str, Any]]:
    """Every run's curves in one figure (one colour per run): a column per kind of view that
    some run has at least three of, COCO AP (0-100, each run's clean AP dotted) on the top
    row, relative AP (1 and :data:`HALF` dotted, each run's LFC half radius marked) below.
    Writes ``path`` and its data as ``path.with_suffix(".csv")``; returns the figure's dict
    (``path``, ``csv``, ``kinds``, ``rows``), or None (nothing written) with no curve to draw."""
    rows: List[Dict[str, Any]] = []
    for label in comparison["labels"]:
        variants = {v: m for v, m in comparison["ap"][label].items()}
        for row in ap_vs_frequency_rows(variants):
            rows.append({"run": label, **row, "relative_AP": _nan(variants[row["view"]]["relative_AP"])})
    kinds = [k for k in CURVE_KINDS if any(r["kind"] == k for r in rows)]
    if not kinds:
        return None
    path = Path(path)
    fig = Figure(figsize=(min(WIDE_FIGURE_INCHES, 3.2 * len(kinds) + 1.8), 6.4))
    grid = fig.subplots(2, len(kinds), squeeze=False, sharey="row")
    colours = [f"C{k % 10}" for k in range(len(comparison["labels"]))]
    for col, kind in enumerate(kinds):
        top, bottom = grid[0][col], grid[1][col]
        for label, colour in zip(comparison["labels"], colours):
            points = [r for r in rows if r["run"] == label and r["kind"] == kind]
            if not points:
                continue
            x = [p["x"] for p in points]
            top.plot(x, [_nan(p["AP"]) for p in points], "o-", color=colour, markersize=4, label=label)
            bottom.plot(x, [p["relative_AP"] for p in points], "o-", color=colour, markersize=4, label=label)
            clean = comparison["ap"][label].get("original", {}).get("AP")
            if clean is not None:
                top.axhline(clean, color=colour, linewidth=0.9, linestyle=":")
            half = comparison["reliance"][label]["lfc_half_radius"]
            if kind == "low" and half is not None:
                bottom.plot([half], [HALF], marker="x", color=colour, markersize=9, markeredgewidth=2)
        for ref in (1.0, HALF):
            bottom.axhline(ref, color="grey", linewidth=0.8, linestyle=":")
        top.set_title(_KIND_TITLES[kind], fontsize=10)
        bottom.set_xlabel(_X_LABEL[kind], fontsize=8)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
    grid[0][0].set_ylabel("COCO AP (0-100)", fontsize=8)
    grid[1][0].set_ylabel("AP / clean AP", fontsize=8)
    handles = {}
    for ax in grid[0]:  # one entry per run, from whichever panel drew it
        for line in ax.get_lines():
            handles.setdefault(line.get_label(), line)
    named = [handles[x] for x in comparison["labels"] if x in handles]
    grid[0][-1].legend(named, [h.get_label() for h in named], fontsize=8, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("AP against frequency (dotted on top: each run's clean AP; x below: the LFC's half radius)",
                 fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=100)
    csv_path = write_text_atomic(path.with_suffix(".csv"), _csv(rows))
    return {"path": path.name, "csv": csv_path.name, "kinds": kinds, "rows": rows}


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _table(table_id: str, head: Sequence[str], rows: Sequence[str]) -> str:
    return (f'<table id="{table_id}"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _runs_table(c: Mapping[str, Any]) -> str:
    head = ['<th class="text">label</th>', '<th class="text">folder</th>', '<th class="text">config</th>',
            '<th class="text">weights</th>', "<th>smooth rho</th>", "<th>images</th>", "<th>views</th>"]
    rows = [f'<tr><td class="text">{_e(r["label"])}</td><td class="text">{_e(r["folder"])}</td>'
            f'<td class="text">{_e(r["config_file"] or "")}</td><td class="text">{_e(r["weights"] or "")}</td>'
            f'<td>{_num(r["smooth_rho"], "{:g}")}</td><td>{r["num_images"]}</td><td>{len(r["views"])}</td></tr>'
            for r in c["runs"]]
    return _table("runs", head, rows)


def _ap_table(c: Mapping[str, Any]) -> str:
    labels = c["labels"]
    head = ['<th class="text">view</th>'] + [f'<th>AP {_e(x)}</th><th>rel. {_e(x)}</th>' for x in labels]
    rows = []
    for view in c["views"]:
        cells = []
        for label in labels:
            entry = c["ap"][label].get(view)
            if entry is None:
                cells.append('<td>&ndash;</td><td>&ndash;</td>')
            else:
                rel = entry["relative_AP"]
                cells.append(f'<td{heat_style(rel)}>{_num(entry["AP"])}</td>'
                             f'<td{heat_style(rel)}>{_num(rel, "{:.2f}")}</td>')
        rows.append(f'<tr data-view="{_e(view)}"><td class="text">{_e(view)}</td>{"".join(cells)}</tr>')
    return (_table("ap", head, rows)
            + '<p class="meta">AP: COCO AP over the whole set (0-100). rel.: AP / the same run\'s AP on the '
              'original images, coloured (red: lower, green: higher). &ndash;: the run has no such view.</p>')


def _reliance_table(c: Mapping[str, Any]) -> str:
    head = ['<th class="text">run</th>', "<th>clean AP</th>", "<th>LFC half radius</th>",
            '<th class="text">why none</th>', "<th>HFC radius</th>", "<th>HFC AP</th>", "<th>HFC rel. AP</th>"]
    rows = []
    for label in c["labels"]:
        r = c["reliance"][label]
        rows.append(f'<tr><td class="text">{_e(label)}</td><td>{_num(r["clean_AP"])}</td>'
                    f'<td>{_num(r["lfc_half_radius"], "{:.1f}")}</td>'
                    f'<td class="text">{_e(r["lfc_half_reason"] or "")}</td><td>{_num(r["hfc_radius"], "{:g}")}</td>'
                    f'<td>{_num(r["hfc_AP"])}</td><td>{_num(r["hfc_relative_AP"], "{:.2f}")}</td></tr>')
    return (_table("reliance", head, rows)
            + f'<p class="meta">{_e(c["definitions"]["lfc_half_radius"])}. HFC: '
              f'{_e(c["definitions"]["hfc_at_smallest_radius"])}.</p>')


def _pairs_section(c: Mapping[str, Any]) -> str:
    if not c["pairs"]:
        return "<p>One run: no pair to compare.</p>"
    s = c["paired_settings"]
    pct = int(round(100 * float(s["confidence"])))
    parts = []
    for pair in c["pairs"]:
        a, b = pair["a"], pair["b"]
        head = ['<th class="text">view</th>', '<th class="text">measure</th>', "<th>images</th>",
                f"<th>mean &Delta;{_e(a)} &minus; &Delta;{_e(b)} [{pct}% CI]</th>",
                f"<th>{_e(a)}'s &Delta; larger</th>", f"<th>{_e(b)}'s &Delta; larger</th>", "<th>ties</th>",
                "<th>sign-test p</th>", "<th>Wilcoxon p</th>"]
        rows = [f'<tr data-view="{_e(r["view"])}" data-measure="{_e(r["measure"])}">'
                f'<td class="text">{_e(r["view"])}</td>'
                f'<td class="text">{_MEASURE_NAMES.get(r["measure"], r["measure"])}</td>'
                f'<td>{r["n"]}</td><td>{_mean_ci(r)}</td><td>{r["gains"]}</td><td>{r["losses"]}</td>'
                f'<td>{r["ties"]}</td><td>{_p(r["sign_test_p"])}</td><td>{_p(r["wilcoxon_p"])}</td></tr>'
                for r in pair["rows"]]
        parts.append(f'<h3>{_e(a)} vs {_e(b)}</h3>'
                     + _table(f"pair-{len(parts)}", head, rows).replace("<table ", '<table class="pair" ', 1))
    return "".join(parts) + (
        f'<p class="meta">Per image, &Delta; = per-image AP on the view minus on the original, for each run; '
        f'the statistics are those of d = &Delta;A &minus; &Delta;B over the images where both are defined: the '
        f'mean with a {pct}% percentile bootstrap interval ({_e(s["n_resamples"])} resamples, seed {_e(s["seed"])}), '
        f'the images where A\'s change is larger (A loses less or gains more) and where B\'s is, the two-sided sign '
        f'test of those counts (ties left out) and the Wilcoxon signed-rank test of d. A negative mean: A loses '
        f'more than B on the view. &ndash;: nothing to test.</p>')


def _tide_section(c: Mapping[str, Any]) -> str:
    if not c["tide"]:
        return "<p>No run has TIDE's error breakdown (tidecv not installed when it ran, or no ground truth).</p>"
    types = list(dict.fromkeys(t for errors in c["tide"].values() for e in errors.values()
                               for t in (e.get("main") or {})))
    head = ['<th class="text">view</th>', '<th class="text">run</th>', "<th>AP50</th>"]
    head += [f"<th>{_e(t)}</th>" for t in types]
    rows = []
    for view in c["views"]:
        for label, errors in c["tide"].items():
            e = errors.get(view)
            if e is None:
                continue
            cells = [f"<td>{_num((e.get('main') or {}).get(t))}</td>" for t in types]
            rows.append(f'<tr><td class="text">{_e(view)}</td><td class="text">{_e(label)}</td>'
                        f'<td>{_num(e.get("ap50"))}</td>{"".join(cells)}</tr>')
    missing = c["tide_missing"]
    return (_table("tide", head, rows) + '<p class="meta">TIDE (tidecv): AP at IoU 0.5 (0-100) and the AP50 points '
            'each error type costs, the runs side by side per view.'
            + (f' Not computed for: {_e(", ".join(missing))}.' if missing else "") + "</p>")


def _notes(c: Mapping[str, Any]) -> str:
    notes = []
    for view, have in c["partial_views"].items():
        notes.append(f"view {_e(view)} only in {_e(', '.join(have))}: in the AP table, not in the paired statistics")
    left = [m for m in ("coco", "strict") if m not in c["measures"]]
    if left:
        notes.append(f"measure {_e(', '.join(_MEASURE_NAMES[m] for m in left))} left out: not every run has it")
    return ('<ul class="meta" id="notes">' + "".join(f"<li>{n}</li>" for n in notes) + "</ul>") if notes else ""


def render_comparison_page(c: Mapping[str, Any]) -> str:
    """The complete ``index.html`` text for :func:`write_comparison`'s dict."""
    figure = c.get("figure")
    curves = (f'<figure><img src="{_e(figure["path"])}" alt="AP against frequency of every run">'
              f'<figcaption>Every run\'s COCO AP (top) and relative AP (below) against radius, band or sigma; '
              f'data: {_e(figure["csv"])}</figcaption></figure>' if figure else
              "<p>No curve: no kind of view (low, high, band, blur) has three or more views in a run.</p>")
    ds = c["dataset"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hfc_det comparison: {_e(", ".join(c["labels"]))}</title>
<style>{_CSS}{_COMPARE_CSS}</style></head>
<body>
<h1>Runs compared: {_e(", ".join(c["labels"]))}</h1>
<p class="meta">dataset {_e(ds.get("name", ""))} ({_e(ds.get("json_file", ""))}), {c["num_images"]} images,
{len(c["common_views"])} views in every run</p>
{_notes(c)}
{_runs_table(c)}
<h2 id="ap-section">AP per view</h2>
{_ap_table(c)}
<h2 id="curves-section">AP against frequency</h2>
<div class="plots">{curves}</div>
<h2 id="reliance-section">Frequency reliance</h2>
{_reliance_table(c)}
<h2 id="pairs-section">Paired per-image changes</h2>
{_pairs_section(c)}
<h2 id="tide-section">TIDE side by side</h2>
{_tide_section(c)}
</body></html>
"""


def write_comparison(folders: Sequence[Any], output_dir: Any, labels: Optional[Sequence[str]] = None, *,
                     n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Dict[str, Any]:
    """Compare ``eval_lfc.py`` output folders into ``output_dir`` (module docstring) and
    return ``comparison.json``'s dict. ``labels``: one name per run (default: the config
    names). The texture experiment draws its tied-vs-free comparison with this, e.g.
    ``write_comparison([tied / "val", free / "val"], out / "tied_vs_free", ["tied", "free"])``.

    Raises one-line ``ComparisonError``/``ResultsError`` (``ValueError``) or
    ``FileNotFoundError`` for folders that cannot be compared."""
    comparison = compare_runs(folders, labels, n_resamples=n_resamples, seed=seed)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").unlink(missing_ok=True)  # no page pointing at a half-written folder
    comparison["figure"] = plot_compared_curves(comparison, out / "ap_vs_frequency.png")
    comparison["metrics"] = list(COCO_METRICS)
    write_json_atomic(out / "comparison.json", comparison)
    write_text_atomic(out / "index.html", render_comparison_page(comparison))
    return comparison
