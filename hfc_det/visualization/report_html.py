"""The report page: one static HTML file, inline CSS and vanilla JavaScript.

Nothing is loaded from the network and nothing is fetched at run time (browsers refuse
``fetch`` from ``file://``), so all table data is in the page itself. Table cells carry the
exact number in ``data-value`` (``""`` when undefined); sorting and filtering use those, not
the rounded text.
"""
from __future__ import annotations

import html
import math
from typing import Any, Iterable, List, Mapping

from hfc_det.metrics.results import COCO_METRICS, EvalResults, outcome
from hfc_det.visualization.corruptions_section import render_corruption_section

__all__ = ["render_index", "heat_style"]

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
td.text, th.text { text-align: left; }
#images th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; user-select: none; }
#images th[aria-sort="ascending"]::after { content: " \\25B2"; }
#images th[aria-sort="descending"]::after { content: " \\25BC"; }
#images td.thumb { padding: 1px; text-align: center; }
#images img { display: block; max-height: 72px; }
td.gain { color: #0a7a26; } td.loss { color: #b3261e; }
.meta { color: #555; font-size: 0.9em; }
.plots img, .spectra img { max-width: 100%; margin: 0.3em 0; }
figure { margin: 0.6em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
.controls { margin: 0.5em 0; } .controls > * { margin-right: 1em; }
"""

# Sorting keeps undefined values (empty data-value) last in both directions.
_JS = r"""
(function () {
  const table = document.getElementById("images");
  const body = table.tBodies[0];
  const allRows = Array.from(body.rows);
  let rows = allRows.slice();
  const headers = Array.from(table.tHead.rows[0].cells);
  // Sort keys are read once per column (reading data-* inside the comparator is slow
  // with thousands of rows).
  const keyCache = {};
  function keysFor(col, numeric) {
    if (!keyCache[col]) {
      keyCache[col] = allRows.map(function (row) {
        const v = row.cells[col].dataset.value;
        if (!numeric) return v === undefined ? row.cells[col].textContent : v;
        return v === "" || v === undefined ? NaN : parseFloat(v);
      });
    }
    return keyCache[col];
  }
  headers.forEach(function (th, col) {
    if (!th.dataset.type) return;
    th.addEventListener("click", function () {
      const numeric = th.dataset.type === "number";
      const asc = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const keys = keysFor(col, numeric);
      const sign = asc ? 1 : -1;
      const order = allRows.map(function (_, i) { return i; });
      order.sort(function (a, b) {
        const x = keys[a], y = keys[b];
        if (numeric) {
          if (isNaN(x) || isNaN(y)) return (isNaN(x) - isNaN(y)) || (a - b);
          return sign * (x - y) || (a - b);
        }
        return sign * String(x).localeCompare(String(y)) || (a - b);
      });
      rows = order.map(function (i) { return allRows[i]; });
      const frag = document.createDocumentFragment();
      rows.forEach(function (r) { frag.appendChild(r); });
      body.appendChild(frag);
    });
  });
  const text = document.getElementById("filter-text");
  const kind = document.getElementById("filter-kind");
  const count = document.getElementById("row-count");
  function applyFilter() {
    const needle = text.value.trim().toLowerCase();
    const want = kind.value;
    let shown = 0;
    rows.forEach(function (r) {
      const okText = !needle || r.dataset.search.indexOf(needle) !== -1;
      const okKind = want === "all" || r.dataset.outcome === want;
      r.hidden = !(okText && okKind);
      if (!r.hidden) shown += 1;
    });
    count.textContent = shown + " of " + rows.length + " images shown";
  }
  document.querySelectorAll("input.column-group").forEach(function (box) {
    box.addEventListener("change", function () {
      table.classList.toggle("hide-" + box.dataset.group, !box.checked);
    });
  });
  text.addEventListener("input", applyFilter);
  kind.addEventListener("change", applyFilter);
  applyFilter();
})();
"""

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, fmt: str = "{:.1f}") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(v) else fmt.format(v)


def heat_style(ratio: Any) -> str:
    """The inline background of a heat-map cell for a value relative to its reference (1: the
    same, no colour): red below, green above, full at 0 and 2; ``""`` when undefined."""
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        return ""
    if math.isnan(ratio):  # before clamping: min(1.0, nan) is 1.0, which would paint it green
        return ""
    t = max(-1.0, min(1.0, ratio - 1.0))
    if t == 0:
        return ""
    rgb = "44, 160, 44" if t > 0 else "214, 39, 40"
    return f' style="background: rgba({rgb}, {0.55 * abs(t):.2f})"'


def _ratio(value: Any, reference: Any) -> float:
    try:
        return float(value) / float(reference)
    except (TypeError, ValueError, ZeroDivisionError):
        return math.nan


def _summary_table(results: EvalResults, report: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{m}</th>" for m in COCO_METRICS)
    head += "<th>gain</th><th>loss</th><th>tie</th><th>undefined</th>"
    rows = []
    original = report["variants"].get("original", {})
    for view in results.views:
        metrics = report["variants"].get(view, {})
        counts = report["per_image_counts"].get(view)
        # a heat map: each metric coloured by its ratio to the original's
        cells = "".join(f"<td{heat_style(_ratio(metrics.get(m), original.get(m)))}>{_num(metrics.get(m))}</td>"
                        for m in COCO_METRICS)
        cells += "".join(f"<td>{counts[k]}</td>" if counts else "<td></td>" for k in ("gain", "loss", "tie", "undefined"))
        rows.append(f'<tr><td class="text">{_e(view)}</td>{cells}</tr>')
    return (f'<table id="summary"><thead><tr><th class="text">view</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            '<p class="meta">AP columns: COCO metrics over the whole set (0-100), coloured by their ratio to '
            'the original\'s (red: lower, green: higher; full colour at 0 and at twice). gain/loss/tie: images whose '
            'per-image AP on the view is above/below/equal to the original; undefined: no per-image AP.</p>')


def _p(value: Any) -> str:
    return "&ndash;" if value is None else _e(f"{float(value):.2g}")


def _mean_ci(stats: Mapping[str, Any]) -> str:
    mean = stats.get("mean_difference")
    if mean is None:
        return "&ndash;"
    return _e(f"{mean:+.3f} [{stats.get('ci_low', math.nan):+.3f}, {stats.get('ci_high', math.nan):+.3f}]")


_MEASURE_NAMES = {"coco": "COCOeval", "strict": "strict"}


def _gains_section(results: EvalResults, report: Mapping[str, Any]) -> str:
    """"Are the gains real?": both measures per view, the control's numbers beside each
    filtered view's, the interval and the p-values; the TIDE plot when there is one."""
    paired, controls = report.get("paired") or {}, report.get("controls") or {}
    settings = report.get("paired_settings") or {}
    pct = int(round(100 * float(settings.get("confidence", 0.95))))
    if not paired:
        return ("<p>This folder has no paired statistics (written by eval_lfc.py since the strict measure "
                "and the control were added): re-run the evaluation to get them.</p>")
    head = ("<th class=\"text\">view</th><th class=\"text\">measure</th><th>gain</th><th>loss</th><th>tie</th>"
            f"<th>undefined</th><th>mean &Delta;AP [{pct}% CI]</th><th>sign-test p</th><th>Wilcoxon p</th>"
            "<th class=\"text\">control</th><th>control gain</th><th>control loss</th>"
            f"<th>control mean &Delta;AP [{pct}% CI]</th>")
    rows = []
    for view in results.compared_views:
        for measure, stats in (paired.get(view) or {}).items():
            counts = (report.get("per_image_counts_by_measure") or {}).get(view, {}).get(measure, {})
            control = controls.get(view)
            c = (paired.get(control) or {}).get(measure) if control else None
            cells = [f'<td class="text">{_e(view)}</td>', f'<td class="text">{_e(_MEASURE_NAMES.get(measure, measure))}</td>',
                     f"<td>{stats.get('gains')}</td>", f"<td>{stats.get('losses')}</td>", f"<td>{stats.get('ties')}</td>",
                     f"<td>{counts.get('undefined', '')}</td>", f"<td>{_mean_ci(stats)}</td>",
                     f"<td>{_p(stats.get('sign_test_p'))}</td>", f"<td>{_p(stats.get('wilcoxon_p'))}</td>"]
            if c:
                cells += [f'<td class="text">{_e(control)}</td>', f"<td>{c.get('gains')}</td>",
                          f"<td>{c.get('losses')}</td>", f"<td>{_mean_ci(c)}</td>"]
            else:
                cells += ['<td class="text">&ndash;</td>', "<td></td>", "<td></td>", "<td></td>"]
            rows.append(f'<tr data-view="{_e(view)}" data-measure="{_e(measure)}">{"".join(cells)}</tr>')
    strict = report.get("strict_score")
    text = (
        '<p class="meta">COCOeval: the paper\'s per-image AP, the mean over the categories with ground truth in '
        "the image; a confident detection of a category the image does not hold costs nothing there. "
        f"strict: the same mean with a 0 for every such category detected with score &ge; {_e(strict)}. "
        "control: noise_rR, the original plus white noise with the L2 norm of its HFC at the same radius: "
        "how many gains and losses any change of that size gives. "
        f"Mean &Delta;AP: view minus original over the images where both are defined, with a {pct}% percentile "
        f"bootstrap interval ({_e(settings.get('n_resamples', ''))} resamples, seed {_e(settings.get('seed', ''))}). "
        "Sign test: two-sided binomial test of gains against losses (ties left out); Wilcoxon: signed-rank test "
        "of the differences. &ndash;: nothing to test (no image changed).</p>")
    table = (f'<table id="gains-real"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    errors = ""
    plots = report.get("plots") or {}
    if "errors" in plots:
        errors = ("<h3>Where the AP goes (TIDE)</h3>"
                  + _figures([plots["errors"]], lambda p: "TIDE error breakdown per view: AP50 points lost to "
                             "classification (Cls), localisation (Loc), both, duplicate (Dupe), background (Bkg) "
                             "and missed (Miss) errors")
                  + _errors_table(report.get("errors") or {}))
    return table + text + errors


def _errors_table(errors: Mapping[str, Any]) -> str:
    types = list(dict.fromkeys(t for v in errors.values() for t in (v.get("main") or {})))
    special = list(dict.fromkeys(t for v in errors.values() for t in (v.get("special") or {})))
    head = "<th class=\"text\">view</th><th>AP50</th>" + "".join(f"<th>{_e(t)}</th>" for t in types + special)
    rows = []
    for view, e in errors.items():
        cells = [f'<td class="text">{_e(view)}</td>', f"<td>{_num(e.get('ap50'))}</td>"]
        cells += [f"<td>{_num((e.get('main') or {}).get(t))}</td>" for t in types]
        cells += [f"<td>{_num((e.get('special') or {}).get(t))}</td>" for t in special]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table id="errors"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<p class="meta">TIDE (tidecv): AP at IoU 0.5 (0-100) and the AP50 points each error type costs.</p>')


def _meta(results: EvalResults, report: Mapping[str, Any]) -> str:
    s = results.summary
    ds = s.get("dataset") or {}
    items = [
        ("output folder", report["output_dir"]),
        ("dataset", " ".join(str(ds.get(k, "")) for k in ("name", "json_file")).strip()),
        ("images", report["n_images"]),
        ("radii", ", ".join(f"{r:g}" for r in results.radii)),
        ("filter stage", s.get("filter_stage")),
        ("HFC model-input scaling", s.get("hfc_scaling")),
        ("config", s.get("config_file")),
        ("weights", s.get("weights")),
        ("galleries", f"view {report['view']}, top {report['top_k']}, boxes with score >= {report['score_thresh']:g}"),
        ("display", f"LFC {report['lfc_display']}; HFC {report['hfc_display_formula']} ({report['hfc_display']})"),
    ]
    return "<ul class=\"meta\">" + "".join(
        f"<li><b>{_e(k)}:</b> {_e(v)}</li>" for k, v in items if v not in (None, "")) + "</ul>"


def _figures(entries: Iterable[Mapping[str, Any]], caption) -> str:
    return "".join(
        f'<figure><img src="{_e(e["panel"] if "panel" in e else e["path"])}" alt="{_e(caption(e))}">'
        f"<figcaption>{_e(caption(e))}</figcaption></figure>" for e in entries)


def _gallery(report: Mapping[str, Any], kind: str) -> str:
    entries = report["galleries"][kind]
    if not entries:
        return f"<p>No image has a {kind} on {_e(report['view'])}.</p>"
    def caption(e):
        text = (f"#{e['rank']} image {e['image_id']} {e['file_name']}: per-image AP "
                f"{e['ap_original']:.3f} (original) -> {e['ap_view']:.3f} ({report['view']}), diff {e['diff']:+.3f}")
        strict = e.get("ap_strict")
        if strict:
            a0, a1 = strict["original"], strict[report["view"]]
            text += f"; strict {a0:.3f} -> {a1:.3f}, diff {a1 - a0:+.3f}"
        return text

    return _figures(entries, caption)


#: The image table shows the strict measure's columns by default up to this many views.
_ALL_COLUMNS_UP_TO = 4
_FIXED_COLUMNS = 3  # thumbnail, image_id, file_name


def _column_groups(columns: List[tuple], strict_hidden: bool):
    """``(style, checkboxes, hidden classes)`` that show or hide the image table's AP columns
    by kind of view (``low``, ``high``, ``noise``, ``band``, ...) and by measure: a checkbox
    toggles the class ``hide-<group>`` on the table, and a CSS rule per group hides its
    columns by position, so that no cell carries a class (the table can have 5000 rows)."""
    groups: dict = {}
    for k, (view, measure) in enumerate(columns, _FIXED_COLUMNS + 1):
        kind = view.split("_")[0]
        if kind != "original":
            groups.setdefault(f"k-{kind}", []).append(k)
        if measure != "coco":
            groups.setdefault(f"m-{measure}", []).append(k)
    rules = "".join(
        ", ".join(f"#images.hide-{g} th:nth-child({k}), #images.hide-{g} td:nth-child({k})" for k in ks)
        + " { display: none; }\n" for g, ks in groups.items())
    hidden = ["hide-m-strict"] if strict_hidden and "m-strict" in groups else []
    boxes = "".join(
        f'<label><input type="checkbox" class="column-group" data-group="{_e(g)}"'
        f'{"" if f"hide-{g}" in hidden else " checked"}> '
        f'{_e(g[2:] + " views" if g.startswith("k-") else "strict measure")}</label>' for g in groups)
    toggles = f'<div class="controls">columns: {boxes}</div>' if groups else ""
    return f"<style>{rules}</style>", toggles, hidden


def _image_table(results: EvalResults, view: str, thumbs: Mapping[int, str]) -> str:
    views = [v for v in results.views if v in results.ap]
    diff_views = results.compared_views
    head = ['<th class="text">thumbnail</th>', '<th data-type="number">image_id</th>',
            '<th class="text" data-type="text">file_name</th>']
    head += [f'<th data-type="number" data-col="ap_{_e(v)}">AP {_e(v)}</th>' for v in views]
    head += [f'<th data-type="number" data-col="diff_{_e(v)}">&Delta; {_e(v)}</th>' for v in diff_views]
    strict_views = [v for v in views if v in results.ap_strict]
    strict_diff_views = [v for v in diff_views if v in results.ap_strict and "original" in results.ap_strict]
    head += [f'<th data-type="number" data-col="ap_strict_{_e(v)}">strict AP {_e(v)}</th>' for v in strict_views]
    head += [f'<th data-type="number" data-col="diff_strict_{_e(v)}">strict &Delta; {_e(v)}</th>'
             for v in strict_diff_views]
    diffs = {v: results.diff(v) for v in diff_views}
    strict_diffs = {v: results.ap_strict[v] - results.ap_strict["original"] for v in strict_diff_views}
    # (view, measure) of each AP column, in the order of `head` after the 3 fixed columns
    columns = ([(v, "coco") for v in views + diff_views]
               + [(v, "strict") for v in strict_views + strict_diff_views])
    body: List[str] = []
    for i, (image_id, name) in enumerate(zip(results.image_ids.tolist(), results.file_names)):
        thumb = thumbs.get(image_id)
        img = (f'<img src="{_e(thumb)}" alt="image {image_id}" loading="lazy" decoding="async">'
               if thumb else "&ndash;")
        cells = [f'<td class="thumb">{img}</td>',
                 f'<td data-value="{image_id}">{image_id}</td>',
                 f'<td class="text" data-value="{_e(name)}">{_e(name)}</td>']
        # AP columns, then differences (coloured by outcome): COCOeval's measure, then strict
        for aps, diff_of in ((results.ap, diffs), (results.ap_strict, strict_diffs)):
            for v in (views if aps is results.ap else strict_views):
                a = float(aps[v][i])
                cells.append(f'<td data-value="{"" if math.isnan(a) else repr(a)}">{_num(a, "{:.3f}")}</td>')
            for v, d in diff_of.items():
                d = float(d[i])
                cells.append(f'<td class="{outcome(d, 0.0)}" data-value="{"" if math.isnan(d) else repr(d)}">'
                             f'{_num(d, "{:+.3f}")}</td>')
        kind = outcome(float(diffs[view][i]), 0.0)
        search = f"{image_id} {name}".lower()
        body.append(f'<tr data-image-id="{image_id}" data-outcome="{kind}" data-search="{_e(search)}">'
                    f'{"".join(cells)}</tr>')
    controls = (
        '<div class="controls"><label>filter <input id="filter-text" type="search" '
        'placeholder="image id or file name"></label>'
        f'<label>on {_e(view)}: <select id="filter-kind">'
        + "".join(f'<option value="{k}">{k}</option>' for k in ("all", "gain", "loss", "tie", "undefined"))
        + '</select></label><span id="row-count"></span></div>')
    style, toggles, hidden = _column_groups(columns, strict_hidden=len(views) > _ALL_COLUMNS_UP_TO)
    return (controls + toggles + style
            + f'<table id="images" class="{" ".join(hidden)}"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>'
            '<p class="meta">Click a column header to sort (again to reverse); undefined values stay last. '
            'Per-image AP in [0, 1]; &Delta; = view minus original; strict: the strict per-image AP '
            '(see "Are the gains real?").</p>')


def render_index(results: EvalResults, report: Mapping[str, Any], thumbs: Mapping[int, str]) -> str:
    """The complete ``index.html`` text for a report dict from :func:`build_report`."""
    view = report["view"]
    plots = report["plots"]
    spectra = _figures(report["spectra"], lambda s: (
        f"top {s['kind']} image {s['image_id']}: original | LFC | HFC | log spectrum with the radius circle, "
        f"radii {', '.join(f'{r:g}' for r in s['radii'])}"))
    skipped = "".join(f"<li>{_e(s['gallery'])}: image {_e(s['image_id'])}: {_e(s['reason'])}</li>"
                      for s in report["gallery_skipped"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hfc_det report: {_e(view)}</title>
<style>{_CSS}</style></head>
<body>
<h1>What the detector sees in low and high frequencies</h1>
{_meta(results, report)}
<h2 id="summary-section">Summary</h2>
{_summary_table(results, report)}
<h2 id="gains-real-section">Are the gains real?</h2>
{_gains_section(results, report)}
<h2 id="plots-section">Plots</h2>
<div class="plots">
{_figures([plots["overall_ap"]], lambda p: "Overall COCO AP per view: one panel per metric, the original dotted")}
{_figures([plots["ap_difference_hist"]], lambda p: "Histograms of per-image AP differences (view minus original), "
          "one panel per view")}
{_figures([plots["ap_scatter"]], lambda p: "Per-image AP: original against each LFC view")}
{_figures([plots["ap_vs_frequency"]] if plots.get("ap_vs_frequency") else [], lambda p: (
    "COCO AP, APs, APm, APl against radius, band or sigma (original: black line); data: " + p["csv"]))}
{_figures(report.get("extra_figures", []), lambda p: p["caption"])}
</div>
{render_corruption_section(report.get("corruptions"))}<h2 id="spectra-section">Spectra and radii</h2>
<div class="spectra">{spectra or "<p>No gallery image to show.</p>"}</div>
<h2 id="gain-section">Largest gains on {_e(view)}</h2>
{_gallery(report, "gain")}
<h2 id="loss-section">Largest losses on {_e(view)}</h2>
{_gallery(report, "loss")}
{f'<p class="meta">Left out of the galleries:</p><ul class="meta">{skipped}</ul>' if skipped else ""}
<h2 id="images-section">Every image</h2>
{_image_table(results, view, thumbs)}
<script>{_JS}</script>
</body></html>
"""
