"""Tests of hfc_det.visualization: drawing functions against independent numpy/scipy maths."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.fft
from PIL import Image

from hfc_det.views import display
from hfc_det.visualization import spectrum
from hfc_det.utils.atomic import write_json_atomic


def reference_split(hwc: np.ndarray, radius: float):
    """The paper's recipe written out per channel with scipy: mask distance < r from (H//2, W//2)."""
    h, w = hwc.shape[:2]
    ii, jj = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    mask = np.sqrt(ii**2 + jj**2) < radius
    low = np.empty(hwc.shape, np.float64)
    for c in range(hwc.shape[2]):
        f = scipy.fft.fftshift(scipy.fft.fft2(hwc[:, :, c].astype(np.float64)))
        low[:, :, c] = np.real(scipy.fft.ifft2(scipy.fft.ifftshift(f * mask)))
    return low, hwc - low


@pytest.fixture(scope="module")
def photo():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()[::4, ::3]  # 128x171x3: not square, odd width


# ---------------------------------------------------------------- display scalings


def test_clip_for_display_matches_numpy_clip():
    x = np.array([[-20.0, 0.4, 127.6, 300.0]], np.float32)
    assert display.clip_for_display(x).tolist() == [[0, 0, 128, 255]]


def test_symmetric_hfc_scaling_keeps_zero_at_mid_grey():
    h = np.array([[-4.0, 0.0, 2.0, 4.0]])
    got = display.scale_hfc_for_display(h, "symmetric")
    expected = np.rint((0.5 + h / 8.0) * 255).astype(np.uint8)
    assert got.tolist() == expected.tolist()
    assert got[0, 1] == 128  # zero -> grey (127.5 rounds to even 128)


def test_minmax_hfc_scaling_stretches_range():
    h = np.array([[-1.0, 0.0, 3.0]])
    assert display.scale_hfc_for_display(h, "minmax").tolist() == [[0, 64, 255]]


def test_flat_hfc_does_not_divide_by_zero():
    z = np.zeros((3, 3))
    assert (display.scale_hfc_for_display(z, "symmetric") == 128).all()
    assert (display.scale_hfc_for_display(z, "minmax") == 0).all()


def test_unknown_scaling_names_choices():
    with pytest.raises(ValueError, match="minmax"):
        display.scale_hfc_for_display(np.zeros((2, 2)), "log")


def test_split_views_hwc_matches_reference(photo):
    views = display.split_views_hwc(photo, [10])
    low, high = reference_split(photo.astype(np.float64), 10)
    np.testing.assert_allclose(views["low_r10"], low, atol=1e-3)
    np.testing.assert_allclose(views["high_r10"], high, atol=1e-3)
    assert views["original"].shape == photo.shape


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2)), np.zeros((2, 3, 4, 5)), np.zeros((0, 4))])
def test_as_float_hwc_rejects_bad_layouts(bad):
    with pytest.raises(ValueError):
        display.as_float_hwc(bad)


# ---------------------------------------------------------------- spectrum


def test_log_spectrum_matches_scipy_per_channel_mean(photo):
    expected = np.mean(
        [np.log1p(np.abs(scipy.fft.fftshift(scipy.fft.fft2(photo[:, :, c].astype(float))))) for c in range(3)],
        axis=0,
    )
    got = spectrum.log_spectrum(photo)
    assert got.shape == photo.shape[:2]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-9)


def test_log_spectrum_puts_cosine_peaks_around_center():
    h, w, fy, fx = 32, 48, 3, 5
    yy, xx = np.mgrid[:h, :w]
    img = 100 + 50 * np.cos(2 * np.pi * (fy * yy / h + fx * xx / w))
    s = spectrum.log_spectrum(img)
    cx, cy = spectrum.spectrum_center(h, w)
    top3 = {tuple(p) for p in np.argwhere(s >= np.sort(s.ravel())[-3])}
    assert top3 == {(cy, cx), (cy + fy, cx + fx), (cy - fy, cx - fx)}


def test_frequency_grid_writes_png_and_describes_it(tmp_path, photo):
    out = tmp_path / "grid.png"
    info = spectrum.save_frequency_grid(photo, [4, 16], out, title="astronaut", hfc_scaling="minmax")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 200
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left
    assert info["circle_center_xy"] == [photo.shape[1] // 2, photo.shape[0] // 2]
    assert info["radii"] == [4.0, 16.0] and info["hfc_display"] == "minmax"
    for row in info["rows"]:
        low, high = reference_split(photo.astype(np.float64), row["radius"])
        np.testing.assert_allclose(row["lfc_range"], [low.min(), low.max()], atol=1e-2)
        np.testing.assert_allclose(row["hfc_abs_max"], np.abs(high).max(), atol=1e-2)
        assert row["lfc_clipped_fraction"] == pytest.approx(np.mean((low < 0) | (low > 255)), abs=1e-3)
    json.dumps(info)  # JSON-able as promised


def test_frequency_grid_radius_beyond_spectrum_keeps_everything_low(tmp_path):
    img = np.random.default_rng(0).uniform(0, 255, (20, 30))
    info = spectrum.save_frequency_grid(img, [math.hypot(10, 15) + 1], tmp_path / "g.png")
    row = info["rows"][0]
    assert row["keeps_whole_spectrum"] and row["hfc_abs_max"] < 1e-3


def test_write_json_atomic_writes_nan_as_null(tmp_path):
    p = write_json_atomic(tmp_path / "a.json", {"x": float("nan"), "y": np.float32(1.5)})
    assert json.loads(p.read_text()) == {"x": None, "y": 1.5}


# ---------------------------------------------------------------- output folder, panels, plots, report
import csv  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from html.parser import HTMLParser  # noqa: E402
from pathlib import Path  # noqa: E402

from helpers.report_fixture import AP_TABLE, VARIANTS, detections_for, expected_diffs, make_output_folder  # noqa: E402

from hfc_det.visualization import plots  # noqa: E402
from hfc_det.metrics.results import ResultsError, load_results_folder  # noqa: E402
from hfc_det.visualization.thumbnails import make_thumbnail  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "visualize_gain_loss.py"


@pytest.fixture(scope="module")
def output_folder(tmp_path_factory):
    return make_output_folder(tmp_path_factory.mktemp("fixture"))


@pytest.fixture(scope="module")
def built_report(output_folder):
    """One full report build shared by the tests that only read its outputs."""
    from hfc_det.visualization.report import build_report

    results = load_results_folder(output_folder)
    report_dir = output_folder / "report"
    report = build_report(results, report_dir, view="low_r8", top_k=3, score_thresh=0.5,
                          thumb_size=40, workers=1, progress=False)
    return results, report_dir, report


def test_load_results_reads_nan_and_empty_cells(output_folder):
    r = load_results_folder(output_folder)
    assert r.views == ["original", "low_r8", "high_r8"]
    assert r.image_ids.tolist() == list(AP_TABLE)
    for view_idx, view in enumerate(r.views):
        expected = np.array([a[view_idx] for a in AP_TABLE.values()])
        np.testing.assert_array_equal(np.isnan(r.ap[view]), np.isnan(expected))
        np.testing.assert_allclose(r.ap[view][~np.isnan(expected)], expected[~np.isnan(expected)])
    assert r.radii == [8.0]


@pytest.mark.parametrize("view, column", [("low_r8", 1), ("high_r8", 2)])  # CSV file / fallback
def test_gain_loss_order_matches_the_table(output_folder, view, column):
    r = load_results_folder(output_folder)
    diffs = expected_diffs(column)
    got = r.gain_loss(view)
    assert [row.image_id for row in got] == sorted(diffs, key=lambda i: -diffs[i])
    gains, losses = r.top_gain_loss(view, 1)
    assert [g.image_id for g in gains] == [max((i for i in diffs if diffs[i] > 0), key=diffs.get)] if any(
        d > 0 for d in diffs.values()) else gains == []
    assert [g.image_id for g in losses] == [min(diffs, key=diffs.get)]
    counts = r.per_image_counts(view)
    assert counts["gain"] == sum(d > 0 for d in diffs.values())
    assert counts["loss"] == sum(d < 0 for d in diffs.values())
    assert counts["undefined"] == len(AP_TABLE) - len(diffs)


@pytest.mark.parametrize("header", ["diff", "difference", None])
def test_gain_loss_csv_difference_column_names(tmp_path, header):
    cols = ["image_id", "file_name", "ap_original", "ap_low_r4"] + ([header] if header else [])
    lines = [",".join(cols)]
    for i, a0, a1 in ((2, 0.25, 0.75), (1, 0.5, 0.5), (3, 0.75, 0.5)):
        lines.append(",".join(map(str, [i, f"{i}.jpg", a0, a1] + ([a1 - a0] if header else []))))
    (tmp_path / "gain_loss").mkdir()
    (tmp_path / "gain_loss" / "low_r4.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "per_image_ap.csv").write_text("image_id,ap_original,ap_low_r4\n1,0.5,0.5\n")
    rows = load_results_folder(tmp_path).gain_loss("low_r4")
    assert [(r.image_id, r.diff) for r in rows] == [(2, 0.5), (1, 0.0), (3, -0.25)]


def test_load_results_errors_are_one_line(tmp_path):
    with pytest.raises(ResultsError, match="does not exist"):
        load_results_folder(tmp_path / "nope")
    with pytest.raises(ResultsError, match="per_image_ap.csv is missing"):
        load_results_folder(tmp_path)
    (tmp_path / "per_image_ap.csv").write_text("image_id,ap_original\n1,zero\n")
    with pytest.raises(ResultsError, match="line 2"):
        load_results_folder(tmp_path)


def test_results_without_summary_fall_back_to_csv(tmp_path):
    (tmp_path / "per_image_ap.csv").write_text("image_id,file_name,ap_original,ap_low_r4\n1,a.jpg,0.5,0.75\n2,b.jpg,,0.1\n")
    r = load_results_folder(tmp_path)
    assert r.views == ["original", "low_r4"] and r.radii == [4.0] and r.variants == {}
    assert r.per_image_counts("low_r4") == {"gain": 1, "loss": 0, "tie": 0, "undefined": 1}
    assert r.coco is None and r.class_names() == {}


def test_relative_dataset_paths_resolve_against_the_folder(tmp_path):
    out = make_output_folder(tmp_path, relative_paths=True)
    r = load_results_folder(out)
    assert r.image_path(3, "img_003.png").is_file()
    assert r.class_names() == {3: "square", 7: "disk"}


def _pixels(picture, color, tol=60):
    return np.all(np.abs(picture.astype(int) - np.array(color)) < tol, axis=-1)


def test_draw_boxes_draws_ground_truth_green_and_kept_predictions_red():
    from hfc_det.visualization.panels import draw_boxes

    black = np.zeros((200, 300, 3), np.uint8)
    gt = [{"bbox": [20, 20, 80, 80], "category_id": 3}]
    preds = [{"bbox": [150, 100, 100, 60], "category_id": 3, "score": 0.9},
             {"bbox": [160, 20, 60, 40], "category_id": 3, "score": 0.1}]
    out = draw_boxes(black, preds, gt, {3: "square"}, score_thresh=0.5)
    assert out.shape == black.shape
    green = _pixels(out, (26, 217, 51))
    red = _pixels(out, (255, 64, 26), tol=90)
    assert green[18:23, 20:100].any() and not green[100:160, 150:250].any()
    assert red[98:103, 150:250].any() or red[158:163, 150:250].any()  # kept prediction's edge
    assert not red[18:60, 160:220].any() and not green[18:60, 160:220].any()  # 0.1 < threshold: not drawn
    assert (out[60, 60] == 0).all()  # inside of a box is untouched


def test_panels_and_report_json_follow_the_table(built_report):
    results, report_dir, report = built_report
    diffs = expected_diffs(1)
    gains = sorted((i for i in diffs if diffs[i] > 0), key=lambda i: -diffs[i])[:3]
    losses = sorted((i for i in diffs if diffs[i] < 0), key=lambda i: diffs[i])[:3]
    assert [e["image_id"] for e in report["galleries"]["gain"]] == gains
    assert [e["image_id"] for e in report["galleries"]["loss"]] == losses
    for entry in report["galleries"]["gain"] + report["galleries"]["loss"]:
        i = entry["image_id"]
        assert entry["diff"] == pytest.approx(diffs[i])
        with Image.open(report_dir / entry["panel"]) as im:
            assert im.format == "PNG" and im.size[0] > im.size[1]
        for view in ("original", "low_r8", "high_r8"):
            kept = sum(d["score"] >= 0.5 for d in detections_for(view, i))
            assert entry["drawn"][view]["boxes"] == kept
    on_disk = json.loads((report_dir / "report.json").read_text())
    assert on_disk["galleries"]["gain"][0]["image_id"] == gains[0]
    assert on_disk["thumbnails"]["made"] + on_disk["thumbnails"]["reused"] == len(AP_TABLE)
    assert on_disk["per_image_counts"]["low_r8"] == {"gain": 2, "loss": 2, "tie": 1, "undefined": 1}
    assert [s["kind"] for s in on_disk["spectra"]] == ["gain", "loss"]
    assert on_disk["spectra"][0]["radii"] == [2.0, 4.0, 8.0]


def test_plots_report_the_numbers_they_draw(built_report, tmp_path):
    results = built_report[0]
    hist = plots.plot_ap_difference_histogram(results, tmp_path / "h.png", bins=41)
    edges = np.linspace(-1, 1, 42)
    for col, view in ((1, "low_r8"), (2, "high_r8")):
        expected, _ = np.histogram(list(expected_diffs(col).values()), bins=edges)
        assert hist["views"][view]["counts"] == expected.tolist()
    scatter = plots.plot_ap_scatter(results, tmp_path / "s.png")
    defined = [a for a in AP_TABLE.values() if not (math.isnan(a[0]) or math.isnan(a[1]))]
    assert scatter["views"]["low_r8"] == {"n": len(defined), "above_diagonal": sum(a[1] > a[0] for a in defined)}
    overall = plots.plot_overall_ap(results, tmp_path / "o.png")
    assert overall["values"]["low_r8"] == [VARIANTS["low_r8"][m] for m in overall["metrics"]]
    for name in ("h.png", "s.png", "o.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG"


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.links, self.rows, self._row, self._cell = [], [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a["src"])
        if tag in ("a", "link", "script") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))
        if tag == "tr" and "data-image-id" in a:
            self._row = {"id": int(a["data-image-id"]), "outcome": a["data-outcome"], "values": []}
        if tag == "td" and self._row is not None:
            self._row["values"].append(a.get("data-value"))

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


def test_index_html_is_self_contained_and_holds_every_image(built_report):
    results, report_dir, _ = built_report
    page = _PageParser()
    page.feed((report_dir / "index.html").read_text())
    assert not page.links and not any(re.match(r"\w+://", s) for s in page.srcs)  # nothing from outside
    for src in page.srcs:
        assert (report_dir / src).is_file(), src
    assert [r["id"] for r in page.rows] == list(AP_TABLE)
    with open(results.output_dir / "per_image_ap.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    for row, rec in zip(page.rows, csv_rows):
        # cells: thumbnail, image_id, file_name, 3 AP, 2 differences
        for cell, view in zip(row["values"][3:6], ("original", "low_r8", "high_r8")):
            want = float(rec[f"ap_{view}"]) if rec[f"ap_{view}"] not in ("", "nan") else None
            assert (float(cell) if cell else None) == want
    outcomes = {r["id"]: r["outcome"] for r in page.rows}
    diffs = expected_diffs(1)
    assert outcomes == {i: ("undefined" if i not in diffs else "gain" if diffs[i] > 0 else
                            "loss" if diffs[i] < 0 else "tie") for i in AP_TABLE}


def test_missing_image_is_left_out_with_a_reason(tmp_path):
    from hfc_det.visualization.report import build_report

    out = make_output_folder(tmp_path)
    (tmp_path / "images" / "img_002.png").unlink()  # the largest loss
    report = build_report(load_results_folder(out), out / "report", top_k=1, workers=1, progress=False,
                          grid_radii=[4])
    assert report["galleries"]["loss"] == []
    assert report["gallery_skipped"][0]["image_id"] == 2
    assert report["thumbnails"]["missing"] == 1
    page = (out / "report" / "index.html").read_text()
    assert 'thumbs/2.jpg' not in page and "image file not found" in page


def test_extra_figure_is_copied_and_shown_with_its_caption(tmp_path):
    from matplotlib.figure import Figure

    from hfc_det.visualization.report import build_report

    out = make_output_folder(tmp_path)
    png = tmp_path / "dose_response.png"
    Figure(figsize=(2, 2)).savefig(png)
    report = build_report(load_results_folder(out), out / "report", top_k=0, workers=1, progress=False,
                          grid_radii=[4], extra_figures=[(str(png), "shortcut experiment")])
    (extra,) = report["extra_figures"]
    assert (out / "report" / extra["path"]).read_bytes() == png.read_bytes()
    page = (out / "report" / "index.html").read_text()
    assert f'src="{extra["path"]}"' in page and "shortcut experiment" in page
    with pytest.raises(ValueError, match="extra figure not found"):
        build_report(load_results_folder(out), out / "report2", top_k=0, workers=1, progress=False,
                     grid_radii=[4], extra_figures=[(str(tmp_path / "nope.png"), "x")])


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_parallel_map_keeps_order(kind):
    from hfc_det.visualization.parallel import parallel_map

    jobs = [float(i) for i in range(10)]
    got = parallel_map(math.sqrt, jobs, workers=2, desc="t", progress=False, kind=kind)
    assert got == [math.sqrt(j) for j in jobs]


def test_thumbnail_size_and_reuse(tmp_path):
    src = tmp_path / "a.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 500, 3), dtype=np.uint8)).save(src)
    dst = tmp_path / "t" / "a.jpg"
    assert make_thumbnail(src, dst, size=64) == "made"
    with Image.open(dst) as im:
        assert max(im.size) == 64 and im.size[0] == 64 and abs(im.size[1] - 300 * 64 / 500) <= 1
    assert make_thumbnail(src, dst, size=64) == "reused"
    assert make_thumbnail(tmp_path / "missing.jpg", tmp_path / "t" / "b.jpg") == "missing"


def _run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=300)


def _tool_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("visualize_gain_loss", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_tool_help_and_missing_folder_as_a_user_sees_them(tmp_path):
    res = _run_tool("--help")
    assert res.returncode == 0 and "--score-thresh" in res.stdout and "index.html" in res.stdout
    res = _run_tool(tmp_path / "missing")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: output folder")


@pytest.mark.parametrize("args, message", [
    (["{out}", "--view", "low_x"], "unknown view"),
    (["{out}", "--view", "low_r16"], "no per-image AP for view 'low_r16'"),
    (["{out}", "--view", "noise_r8"], "the galleries show a filtered view"),
    (["{out}", "--top", "-1"], "--top must be >= 0"),
    (["{out}", "--score-thresh", "2"], "--score-thresh must be in [0, 1]"),
    (["{out}", "--workers", "0"], "--workers must be >= 1"),
])
def test_tool_user_mistakes_give_one_line_errors(output_folder, tmp_path, args, message):
    args = [a.format(out=output_folder) for a in args] + ["--report-dir", str(tmp_path / "r")]
    with pytest.raises(SystemExit) as exc:
        _tool_main()(args)
    text = str(exc.value.code)
    assert text.startswith("error:") and message in text and "\n" not in text


def test_tool_end_to_end_writes_the_report(output_folder, tmp_path, capsys):
    rc = _tool_main()([str(output_folder), "--top", "1", "--report-dir", str(tmp_path / "r"), "--quiet",
                       "--grid-radii", "4", "8", "--workers", "1"])
    assert rc == 0 and "index.html" in capsys.readouterr().out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["view"] == "low_r8" and report["spectra"][0]["radii"] == [4.0, 8.0]
    assert (tmp_path / "r" / "index.html").is_file()
    assert not list((tmp_path / "r").rglob(".*tmp*"))  # no temp files left behind


def test_thumbnail_follows_exif_orientation(tmp_path):
    from PIL import Image

    src, dst = tmp_path / "rotated.jpg", tmp_path / "thumb.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated by 90 degrees: portrait
    Image.new("RGB", (200, 100), (200, 50, 50)).save(src, exif=exif)
    assert make_thumbnail(src, dst, size=64) == "made"
    with Image.open(dst) as thumb:
        assert thumb.size[1] > thumb.size[0]


def test_default_gallery_view_is_the_lfc_view_with_the_most_gains(tmp_path):
    import pandas as pd

    from helpers.report_fixture import DEMO_VIEWS, make_views_folder
    from hfc_det.visualization.report import default_view

    out = make_views_folder(tmp_path / "a", seed=4, reliance=4)
    table = pd.read_csv(out / "per_image_ap.csv")
    gains = {v: int((table[f"ap_{v}"] > table["ap_original"]).sum()) for v in DEMO_VIEWS if v.startswith("low_r")}
    best = max(gains.values())
    assert best > 0 and sorted(gains.values()) != [best] * len(gains)  # the fixture makes a choice to get right
    want = min((v for v in gains if gains[v] == best), key=lambda v: int(v[len("low_r"):]))
    assert default_view(load_results_folder(out)) == want
    # without an LFC view: the filtered view with the most gains, never the control
    out = make_views_folder(tmp_path / "b", views=["original", "high_r8", "high_r16", "noise_r8"], seed=4)
    table = pd.read_csv(out / "per_image_ap.csv")
    gains = {v: int((table[f"ap_{v}"] > table["ap_original"]).sum()) for v in ("high_r8", "high_r16", "noise_r8")}
    assert gains["noise_r8"] > max(gains["high_r8"], gains["high_r16"])
    assert default_view(load_results_folder(out)) == max(("high_r8", "high_r16"), key=lambda v: gains[v])


def test_plots_are_small_multiples_that_stay_legible_at_24_views(tmp_path):
    from helpers.report_fixture import DEMO_VIEWS, make_views_folder

    results = load_results_folder(make_views_folder(tmp_path, seed=0))
    hist = plots.plot_ap_difference_histogram(results, tmp_path / "h.png")
    assert hist["panels"] == len(DEMO_VIEWS) - 1 and list(hist["views"]) == DEMO_VIEWS[1:]
    for view, drawn in hist["views"].items():
        d = results.diff(view)
        assert drawn["gains"] == int(np.sum(d > 0)) and drawn["losses"] == int(np.sum(d < 0))
    overall = plots.plot_overall_ap(results, tmp_path / "o.png")
    errors = plots.plot_error_breakdown(results.summary["errors"], tmp_path / "e.png")
    for drawn, name in ((overall, "o.png"), (errors, "e.png")):
        assert drawn["panels"] == 6 and drawn["bar_labels"] and drawn["font_size"] >= 10  # one panel per metric
        with Image.open(tmp_path / name) as im:
            assert im.size[0] == drawn["width_px"] <= 1400
    with Image.open(tmp_path / "h.png") as im:
        assert im.size[0] <= 1400


def test_summary_heat_map_leaves_undefined_metrics_uncoloured():
    """A metric COCO leaves undefined (APl on the 128 px shapes: NaN) gets no colour; a ratio
    below 1 is red, above 1 green, 1 none (the clamp must not turn NaN into 'twice as good')."""
    import math

    from hfc_det.visualization.report_html import heat_style

    assert heat_style(math.nan) == "" and heat_style(None) == "" and heat_style(1.0) == ""
    assert "214, 39, 40" in heat_style(0.5) and "44, 160, 44" in heat_style(1.5)
