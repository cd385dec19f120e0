"""eval_lfc.py with COCO-C corruption views end to end on the fixture images (random-init
RetinaNet-R50 on CPU): mPC/rPC recomputed from summary.json's per-view AP, the per-view AP from
the written detections (pycocotools), the paired statistics, the noise control, TIDE, the
gain/loss lists and galleries of a corruption view, the spectra and the report's Corruptions section.
"""
import contextlib
import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("detectron2")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

from helpers.eval_runs import FAST  # noqa: E402
from hfc_det.views.corruptions import CORRUPTION_FAMILIES  # noqa: E402

CORRUPTIONS = ["gaussian_noise", "fog", "defocus_blur"]
CORRUPTED = [f"corrupt_{c}_s3" for c in CORRUPTIONS]  # in the order asked for
VIEWS = ["original", "low_r8", "noise_r8", "band_r8-16"] + CORRUPTED


@pytest.fixture(scope="module")
def run(tool, data, tmp_path_factory):
    """``(output folder, printed text)`` of one run with three corruption views at severity 3."""
    json_file, image_root = data
    out = tmp_path_factory.mktemp("corruption_run") / "out"
    argv = ["--dataset-json", json_file, "--image-root", image_root, "--output", str(out), "--radius", "8",
            "--views", "original", "low", "noise", "band_r8-16", "--corruptions", *CORRUPTIONS,
            "--severities", "3", "--no-progress", *FAST]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tool.main(tool.parse_args(argv))
    return out, printed.getvalue()


def summary_of(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def per_image(out: Path):
    with open(out / "per_image_ap.csv") as f:
        return list(csv.DictReader(f))


def test_the_views_and_the_skipped_image(run):
    out, _ = run
    s = summary_of(out)
    assert s["views"] == VIEWS and list(s["variants"]) == VIEWS
    # the 20x24 px image is below the library's 32x32 minimum: skipped, with the reason
    assert [x["file_name"].split("/")[-1] for x in s["skipped"]] == ["ball_tiny.png"]
    assert "32x32" in s["skipped"][0]["reason"]


def test_robustness_equals_the_benchmark_formulas_on_the_summary_ap(run):
    out, printed = run
    s = summary_of(out)
    r = s["robustness"]
    ap = {v: s["variants"][v]["AP"] for v in CORRUPTED}
    clean = s["variants"]["original"]["AP"]
    assert r["metric"] == "AP" and r["clean_ap"] == clean
    assert r["mpc"] == pytest.approx(sum(ap.values()) / 3, abs=1e-12)
    assert r["rpc"] == (pytest.approx(r["mpc"] / clean, abs=1e-12) if clean > 0 else None)
    assert (r["views_used"], r["views_expected"], r["complete"], len(r["missing"])) == (3, 75, False, 72)
    for family, names in CORRUPTION_FAMILIES.items():
        used = [ap[f"corrupt_{c}_s3"] for c in names if f"corrupt_{c}_s3" in ap]
        assert r["families"][family]["mpc"] == (pytest.approx(sum(used) / len(used), abs=1e-12) if used else None)
        assert r["families"][family]["views_expected"] == 5 * len(names)
    for view in CORRUPTED:
        name = view[len("corrupt_"):-len("_s3")]
        assert r["per_corruption"][name]["ap"] == {"3": pytest.approx(ap[view], abs=1e-12)}
    assert r["per_severity"] == {"3": pytest.approx(r["mpc"], abs=1e-12)}
    # the printed table: its mPC line and the count it is over
    assert f"benchmark (15)  mPC {r['mpc']:5.1f}" in printed and "(over 3 of 75 views)" in printed
    assert "incomplete benchmark: 72 of 75 views missing" in printed


def test_a_corruption_views_ap_is_pycocotools_on_its_detections(run, data):
    out, _ = run
    s = summary_of(out)
    gt = COCO(data[0])
    evaluated = [int(row["image_id"]) for row in per_image(out)]
    for view in ("original", "corrupt_defocus_blur_s3"):
        dets = json.loads((out / "detections" / f"{view}.json").read_text())
        with contextlib.redirect_stdout(io.StringIO()):
            e = COCOeval(gt, gt.loadRes(dets), "bbox")
            e.params.imgIds = evaluated
            e.evaluate(), e.accumulate(), e.summarize()
        assert s["variants"][view]["AP"] == pytest.approx(100 * max(e.stats[0], 0.0), abs=1e-9)


def test_gain_loss_and_paired_statistics_of_corruption_views_recomputed(run):
    out, _ = run
    s = summary_of(out)
    rows = per_image(out)
    a0 = np.array([float(r["ap_original"]) for r in rows])
    for view in CORRUPTED:
        a1 = np.array([float(r[f"ap_{view}"]) for r in rows])
        defined = ~(np.isnan(a0) | np.isnan(a1))
        d = (a1 - a0)[defined]
        gains, losses = int((d > 0).sum()), int((d < 0).sum())
        counts = s["per_image"][view]["coco"]
        assert (counts["gain"], counts["loss"], counts["tie"], counts["undefined"]) == (
            gains, losses, int((d == 0).sum()), int((~defined).sum()))
        paired = s["paired"][view]["coco"]
        assert paired["n"] == d.size and paired["mean_difference"] == pytest.approx(d.mean(), abs=1e-12)
        assert paired["sign_test_p"] == (pytest.approx(binomtest(gains, gains + losses).pvalue, abs=1e-12)
                                         if gains + losses else None)
        with open(out / "gain_loss" / f"{view}.csv") as f:
            listed = {int(r["image_id"]): float(r["difference"]) for r in csv.DictReader(f)}
        want = {int(r["image_id"]): float(r[f"ap_{view}"]) - float(r["ap_original"]) for r in rows}
        assert listed.keys() == want.keys()
        assert all(math.isnan(listed[i]) and math.isnan(want[i]) or listed[i] == pytest.approx(want[i], abs=1e-12)
                   for i in want)
    # the run is not degenerate: some corruption view changes some image's AP
    assert any(s["per_image"][v]["coco"]["gain"] + s["per_image"][v]["coco"]["loss"] for v in CORRUPTED)


def test_the_noise_control_in_a_corruption_run(run):
    out, printed = run
    s = summary_of(out)
    assert s["controls"] == {"low_r8": "noise_r8"}
    rows = per_image(out)
    d = np.array([float(r["ap_noise_r8"]) - float(r["ap_original"]) for r in rows])
    assert s["per_image"]["noise_r8"]["coco"]["gain"] == int((d[~np.isnan(d)] > 0).sum())
    low_row = next(line for line in printed.splitlines() if line.startswith("low_r8 "))
    assert low_row.split()[8] == str(s["per_image"]["noise_r8"]["coco"]["gain"])  # the "control gained" column


def test_tide_of_a_corruption_view_equals_tidecvs_own_loaders(run, data, tmp_path):
    pytest.importorskip("tidecv")
    from tidecv import TIDE, datasets

    out, _ = run
    s = summary_of(out)
    view = "corrupt_defocus_blur_s3"
    evaluated = {int(r["image_id"]) for r in per_image(out)}
    gt = json.loads(Path(data[0]).read_text())  # TIDE on the evaluated images only (the skipped one left out)
    gt["images"] = [im for im in gt["images"] if im["id"] in evaluated]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in evaluated]
    for a in gt["annotations"]:  # tidecv's loader reads a mask even in box mode: the box as a polygon
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    tide = TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        tide.evaluate(datasets.COCO(str(tmp_path / "gt.json")),
                      datasets.COCOResult(str(out / "detections" / f"{view}.json")), mode=TIDE.BOX, name=view)
        main = tide.get_main_errors()[view]
    assert s["errors"][view]["ap50"] == pytest.approx(tide.runs[view].ap, abs=1e-9)
    for kind, value in s["errors"][view]["main"].items():
        assert value == pytest.approx(main[kind], abs=1e-9)


def test_spectra_and_link_files(run):
    out, _ = run
    s = summary_of(out)
    spectra = s["robustness"]["spectra"]
    assert spectra["images"] == 9 and spectra["pictured_severity"] == 3  # the 9 evaluated images
    for name in spectra["files"].values():
        assert (out / name).is_file()
    numbers = json.loads((out / "corruption_spectra.json").read_text())
    assert set(numbers["views"]) == set(CORRUPTED)
    assert set(numbers["views"]["corrupt_fog_s3"]["energy_below_radius"]) == {"8"}
    assert set(numbers["views"]["corrupt_fog_s3"]["energy_in_band"]) == {"8-16"}  # the run's band view
    link = spectra["spectral_link"]
    clean = s["variants"]["original"]["AP"]
    for p in link["points"]:
        assert p["drop"] == pytest.approx(clean - s["variants"][p["view"]]["AP"], abs=1e-12)
        assert p["mean_radius_cycles"] == numbers["views"][p["view"]]["mean_radius_cycles"]
        # one band view: the predicted drop is that band's drop
        assert p["predicted_drop"] == pytest.approx(clean - s["variants"]["band_r8-16"]["AP"], abs=1e-12)
    # fog's perturbation sits at lower frequencies than Gaussian noise's
    r = {p["view"]: p["mean_radius_cycles"] for p in link["points"]}
    assert r["corrupt_fog_s3"] < r["corrupt_defocus_blur_s3"] < r["corrupt_gaussian_noise_s3"]


def test_report_corruptions_section_and_gallery_of_a_corruption_view(run):
    from hfc_det.metrics.results import load_results_folder
    from hfc_det.visualization.report import build_report

    out, _ = run
    s = summary_of(out)
    view = "corrupt_defocus_blur_s3"
    report = build_report(load_results_folder(out), out / "report", view=view, top_k=1, workers=1, progress=False,
                          thumb_size=16)
    section = report["corruptions"]
    assert section["robustness"]["mpc"] == s["robustness"]["mpc"]
    assert [f["key"] for f in section["figures"]] == ["grid", "radial", "link"]
    assert all((out / "report" / f["path"]).is_file() for f in section["figures"])
    page = (out / "report" / "index.html").read_text()
    assert '<h2 id="corruptions-section">Corruptions</h2>' in page and 'id="corruption-mpc"' in page
    assert f'data-value="{s["robustness"]["mpc"]!r}"' in page
    rows = {int(r["image_id"]): r for r in per_image(out)}
    for entry in report["galleries"]["gain"] + report["galleries"]["loss"]:
        assert entry["ap_view"] == pytest.approx(float(rows[entry["image_id"]][f"ap_{view}"]), abs=1e-12)
        assert (out / "report" / entry["panel"]).is_file()


@pytest.mark.parametrize("argv,message", [
    (["--corruptions", "fgo"], "unknown corruption 'fgo'"),
    (["--corruptions", "fog", "--severities", "7"], "corruption severity must be an integer 1 to 5, got 7"),
    (["--severities", "3"], "--severities needs --corruptions"),
])
def test_corruption_option_mistakes_are_one_line(tool, data, tmp_path, argv, message):
    from hfc_det.evaluation.command import EvalSettings, prepare_run

    json_file, image_root = data
    args = tool.parse_args(["--dataset-json", json_file, "--image-root", image_root, "--output", str(tmp_path),
                            *argv, *FAST])
    with pytest.raises(ValueError) as e:
        prepare_run(EvalSettings.from_args(args))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_options_split_off_trailing_overrides_and_expand_after_the_views(tool):
    from hfc_det.config import get_cfg, views_from_cfg
    from hfc_det.evaluation.command import EvalSettings, command_line

    args = tool.parse_args(["--corruptions", "benchmark", "--severities", "1", "2", "MODEL.DEVICE", "cpu"])
    assert args.corruptions == ["benchmark"] and args.severities == [1.0, 2.0] and args.opts == ["MODEL.DEVICE", "cpu"]
    line = " ".join(command_line(EvalSettings.from_args(args)))
    assert "--corruptions benchmark --severities 1.0 2.0" in line
    cfg = get_cfg("retinanet_R50_FPN", ["HFC.CORRUPTIONS", "['benchmark']", "HFC.SEVERITIES", "[1, 2]"])
    views = views_from_cfg(cfg)
    assert views[:3] == ["original", "low_r128", "high_r128"] and len(views) == 3 + 30
    assert views[3:5] == ["corrupt_gaussian_noise_s1", "corrupt_gaussian_noise_s2"]
    assert views[-1] == "corrupt_jpeg_compression_s2"


def test_compare_runs_pairs_a_corruption_view(run, tmp_path):
    import shutil

    from hfc_det.metrics.comparison import compare_runs

    out, _ = run
    other = tmp_path / "other"
    shutil.copytree(out, other, ignore=shutil.ignore_patterns("report"))
    rows = per_image(out)
    # the second run loses all of fog's AP: its change on fog is -AP(original -> fog) lower
    text = (other / "per_image_ap.csv").read_text().splitlines()
    header = text[0].split(",")
    k = header.index("ap_corrupt_fog_s3")
    (other / "per_image_ap.csv").write_text("\n".join(
        [text[0]] + [",".join(c if j != k else "0.0" for j, c in enumerate(line.split(","))) for line in text[1:]]) + "\n")
    c = compare_runs([out, other], ["a", "b"], n_resamples=200)
    assert set(CORRUPTED) <= set(c["common_views"])
    row = next(r for r in c["pairs"][0]["rows"] if (r["view"], r["measure"]) == ("corrupt_fog_s3", "coco"))
    a0 = np.array([float(r["ap_original"]) for r in rows])
    fog = np.array([float(r["ap_corrupt_fog_s3"]) for r in rows])
    d = ((fog - a0) - (0.0 - a0))[~(np.isnan(fog) | np.isnan(a0))]
    assert row["n"] == d.size and row["mean_difference"] == pytest.approx(d.mean(), abs=1e-12)
