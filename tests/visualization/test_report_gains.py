"""The report's "are the gains real?" section, strict columns, gallery titles with both
measures, the TIDE plot and a legible overall-AP chart, on the hand-made output folder plus
hand-typed strict APs, paired statistics and an error breakdown."""
from __future__ import annotations

import csv
import json
import math
import re

import pytest
from PIL import Image

from helpers.report_fixture import AP_TABLE, make_output_folder

from hfc_det.metrics.results import load_results_folder

# image_id -> strict AP (original, low_r8, high_r8), typed in: image 4 (no ground truth) holds
# a confident detection on low_r8 (0), image 1's low_r8 gain becomes a loss under strict.
STRICT = {1: (0.50, 0.40, 0.10), 2: (0.90, 0.40, 0.00), 3: (0.60, 0.60, math.nan),
          4: (math.nan, 0.0, math.nan), 5: (0.20, 0.35, 0.05), 6: (1.00, 0.75, math.nan)}
PAIRED = {
    "low_r8": {"coco": {"n": 5, "mean_difference": -0.05, "ci_low": -0.3, "ci_high": 0.2, "gains": 2, "losses": 2,
                        "ties": 1, "sign_test_p": 1.0, "wilcoxon_p": 0.875},
               "strict": {"n": 5, "mean_difference": -0.11, "ci_low": -0.31, "ci_high": 0.05, "gains": 1, "losses": 3,
                          "ties": 1, "sign_test_p": 0.625, "wilcoxon_p": 0.25}},
    "noise_r8": {"coco": {"n": 5, "mean_difference": -0.01, "ci_low": -0.02, "ci_high": 0.0, "gains": 0, "losses": 1,
                          "ties": 4, "sign_test_p": 1.0, "wilcoxon_p": None},
                 "strict": {"n": 5, "mean_difference": -0.01, "ci_low": -0.02, "ci_high": 0.0, "gains": 0,
                            "losses": 1, "ties": 4, "sign_test_p": 1.0, "wilcoxon_p": None}},
}
ERRORS = {"original": {"ap50": 72.6, "main": {"Cls": 17.8, "Loc": 1.7, "Both": 0.5, "Dupe": 0.0, "Bkg": 2.0, "Miss": 3.0},
                       "special": {"FalsePos": 9.0, "FalseNeg": 8.0}},
          "low_r8": {"ap50": 60.1, "main": {"Cls": 23.4, "Loc": 1.2, "Both": 0.7, "Dupe": 0.1, "Bkg": 2.5, "Miss": 4.0},
                     "special": {"FalsePos": 12.0, "FalseNeg": 9.5}}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from hfc_det.visualization.report import build_report

    out = make_output_folder(tmp_path_factory.mktemp("gains"))
    path = out / "per_image_ap.csv"
    rows = list(csv.reader(path.open()))
    rows[0] += ["ap_strict_original", "ap_strict_low_r8", "ap_strict_high_r8"]
    for row in rows[1:]:
        row += ["nan" if math.isnan(a) else repr(a) for a in STRICT[int(row[0])]]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    summary = json.loads((out / "summary.json").read_text())
    summary["per_image"] = {"low_r8": {"coco": {"gain": 2, "loss": 2, "tie": 1, "undefined": 1},
                                       "strict": {"gain": 1, "loss": 3, "tie": 1, "undefined": 1}}}
    summary.update(paired=PAIRED, controls={"low_r8": "noise_r8"}, strict_score=0.5, errors=ERRORS,
                   paired_settings={"confidence": 0.95, "n_resamples": 10000, "seed": 0})
    (out / "summary.json").write_text(json.dumps(summary))
    results = load_results_folder(out)
    report = build_report(results, out / "report", view="low_r8", top_k=2, thumb_size=40, workers=1, progress=False)
    return results, out / "report", report


def _cells(html: str, table_id: str):
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def test_strict_columns_are_read_apart_from_the_views(built):
    results = built[0]
    assert results.views == ["original", "low_r8", "high_r8"] and results.measures() == ["coco", "strict"]
    assert results.per_image_counts("low_r8", "strict") == {"gain": 1, "loss": 3, "tie": 1, "undefined": 1}
    assert results.per_image_counts("low_r8") == {"gain": 2, "loss": 2, "tie": 1, "undefined": 1}


def test_gains_section_shows_both_measures_and_the_control(built):
    html = (built[1] / "index.html").read_text()
    rows = _cells(html, "gains-real")
    header, body = rows[0], rows[1:]
    assert "control gain" in header and "sign-test p" in header
    by = {(r[0], r[1]): r for r in body}
    coco, strict = by[("low_r8", "COCOeval")], by[("low_r8", "strict")]
    assert coco[2:6] == ["2", "2", "1", "1"] and strict[2:6] == ["1", "3", "1", "1"]
    assert coco[6] == "-0.050 [-0.300, +0.200]" and coco[7] == "1" and strict[7] == "0.62"
    assert coco[9] == "noise_r8" and coco[10:12] == ["0", "1"]  # the control beside the LFC


def test_error_plot_and_table(built):
    report, html = built[2], (built[1] / "index.html").read_text()
    drawn = report["plots"]["errors"]
    assert drawn["values"]["low_r8"]["Cls"] == 23.4 and drawn["ap50"]["original"] == 72.6
    with Image.open(built[1] / drawn["path"]) as im:
        assert im.size[0] == drawn["width_px"] <= 1400
    rows = {r[0]: r for r in _cells(html, "errors")[1:]}
    assert rows["low_r8"][1:3] == ["60.1", "23.4"]


def test_overall_ap_chart_fits_a_1400_px_window(built):
    drawn = built[2]["plots"]["overall_ap"]
    with Image.open(built[1] / drawn["path"]) as im:
        assert im.size[0] <= 1400 and drawn["font_size"] >= 10


def test_image_table_and_gallery_titles_carry_the_strict_measure(built):
    results, report_dir, report = built
    html = (report_dir / "index.html").read_text()
    assert 'data-col="ap_strict_low_r8"' in html and 'data-col="diff_strict_low_r8"' in html
    entry = report["galleries"]["gain"][0]
    a0, a1 = STRICT[entry["image_id"]][:2]
    assert entry["ap_strict"] == {"original": a0, "low_r8": a1}
    assert f"strict {a0:.3f} -&gt; {a1:.3f}" in html
    assert AP_TABLE[entry["image_id"]][1] > AP_TABLE[entry["image_id"]][0]
