"""AP-vs-frequency curves: rows and CSV against numbers typed in below; the report draws them
when a run has three or more views of one kind, and a band view gets its own gallery panels."""
import csv
import json
import math

import numpy as np
import pytest

from helpers.report_fixture import make_output_folder
from hfc_det.visualization.ap_curves import ap_vs_frequency_rows, plot_ap_vs_frequency
from hfc_det.metrics.results import load_results_folder as load_results

VARIANTS = {
    "original": {"AP": 40.0, "AP50": 60.0, "AP75": 42.0, "APs": 20.0, "APm": 41.0, "APl": 55.0},
    "low_r16": {"AP": 30.0, "APs": 10.0, "APm": 31.0, "APl": 50.0},
    "low_r4": {"AP": 5.0, "APs": 0.5, "APm": 3.0, "APl": 12.0},
    "low_r8": {"AP": 15.0, "APs": None, "APm": 12.0, "APl": 30.0},
    "high_r8": {"AP": 2.0, "APs": 1.0, "APm": 2.0, "APl": 3.0},
    "band_r4-8": {"AP": 1.0, "APs": 0.0, "APm": 1.0, "APl": 2.0},
    "band_r8-16": {"AP": 1.5, "APs": 0.0, "APm": 1.0, "APl": 2.5},
    "blur_s3": {"AP": 17.5, "APs": 4.2, "APm": 15.0, "APl": 31.4},
    "blur_s1": {"AP": 32.3, "APs": 15.8, "APm": 30.0, "APl": 45.7},
    "blur_s2": {"AP": 24.4, "APs": 8.7, "APm": 22.0, "APl": 39.1},
}


def test_rows_keep_only_kinds_with_three_views_sorted_by_parameter():
    rows = ap_vs_frequency_rows(VARIANTS)
    assert [r["view"] for r in rows] == ["original", "low_r4", "low_r8", "low_r16", "blur_s1", "blur_s2", "blur_s3"]
    assert [r["x"] for r in rows[1:]] == [4.0, 8.0, 16.0, 1.0, 2.0, 3.0]
    assert [r["axis"] for r in rows[1:]] == ["radius"] * 3 + ["sigma"] * 3
    assert rows[0]["AP"] == 40.0 and math.isnan(rows[0]["x"])
    assert math.isnan(rows[2]["APs"]) and rows[6]["APl"] == 31.4


def test_bands_make_a_curve_at_their_middles():
    variants = {**VARIANTS, "band_r16-32": {"AP": 0.5, "APs": 0, "APm": 0.2, "APl": 1.0}}
    bands = [r for r in ap_vs_frequency_rows(variants) if r["kind"] == "band"]
    assert [(r["inner"], r["outer"], r["x"]) for r in bands] == [(4, 8, 6), (8, 16, 12), (16, 32, 24)]


def test_picture_and_csv(tmp_path):
    info = plot_ap_vs_frequency(VARIANTS, tmp_path / "plots" / "ap_vs_frequency.png")
    assert (tmp_path / "plots" / "ap_vs_frequency.png").stat().st_size > 5000
    assert info["kinds"] == {"low": ["low_r4", "low_r8", "low_r16"], "blur": ["blur_s1", "blur_s2", "blur_s3"]}
    rows = list(csv.DictReader(open(tmp_path / "plots" / "ap_vs_frequency.csv")))
    assert [r["view"] for r in rows][:2] == ["original", "low_r4"]
    for r in rows:
        for m in ("AP", "APs", "APm", "APl"):
            want = VARIANTS[r["view"]][m]
            assert (r[m] == "" and want is None) or float(r[m]) == pytest.approx(want)


def test_a_metric_undefined_for_every_view_gets_no_panel(tmp_path):
    """No large objects (the demo's shapes): APl is None everywhere, so three columns are
    drawn, not an empty fourth; the CSV still has the APl column, empty."""
    from PIL import Image

    no_large = {v: {**m, "APl": None} for v, m in VARIANTS.items()}
    full = plot_ap_vs_frequency(VARIANTS, tmp_path / "full.png")
    info = plot_ap_vs_frequency(no_large, tmp_path / "no_large.png")
    assert full["metrics"] == ["AP", "APs", "APm", "APl"]
    assert info["metrics"] == ["AP", "APs", "APm"]
    # the figure is 3.3 inches per column at 100 dpi
    assert Image.open(tmp_path / "full.png").size[0] - Image.open(tmp_path / "no_large.png").size[0] == 330
    rows = list(csv.DictReader(open(tmp_path / "no_large.csv")))
    assert all(r["APl"] == "" for r in rows)


def test_fewer_than_three_views_draw_nothing(tmp_path):
    few = {k: v for k, v in VARIANTS.items() if k in ("original", "low_r4", "low_r8", "band_r4-8", "blur_s1")}
    assert plot_ap_vs_frequency(few, tmp_path / "x.png") is None
    assert not list(tmp_path.iterdir())


def test_report_draws_the_curves_and_band_panels(tmp_path):
    from hfc_det.visualization.report import build_report

    out = make_output_folder(tmp_path)
    # A run that also evaluated low_r4, low_r16 and a band (per-image AP for the band:
    # the low_r8 column, so that its gallery is the one the fixture's numbers give).
    summary = json.loads((out / "summary.json").read_text())
    summary["variants"].update({"low_r4": VARIANTS["low_r4"], "low_r16": VARIANTS["low_r16"],
                                "band_r4-12": VARIANTS["band_r4-8"]})
    summary["views"] = summary["views"] + ["band_r4-12"]
    (out / "summary.json").write_text(json.dumps(summary))
    lines = (out / "per_image_ap.csv").read_text().splitlines()
    header = lines[0].split(",")
    low = header.index("ap_low_r8")
    rows = [lines[0] + ",ap_band_r4-12"] + [line + "," + line.split(",")[low] for line in lines[1:]]
    (out / "per_image_ap.csv").write_text("\n".join(rows) + "\n")
    det = (out / "detections" / "low_r8.json").read_text()
    (out / "detections" / "band_r4-12.json").write_text(det)

    report = build_report(load_results(out), out / "report", view="band_r4-12", top_k=1, workers=1,
                          progress=False, grid_radii=[4])
    curves = report["plots"]["ap_vs_frequency"]
    assert curves["path"] == "plots/ap_vs_frequency.png" and curves["csv"] == "plots/ap_vs_frequency.csv"
    assert curves["kinds"] == {"low": ["low_r4", "low_r8", "low_r16"]}
    page = (out / "report" / "index.html").read_text()
    assert "plots/ap_vs_frequency.png" in page
    gain = report["galleries"]["gain"][0]
    assert set(gain["drawn"]) == {"original", "band_r4-12"}
    assert np.isfinite(gain["ap_view"])
