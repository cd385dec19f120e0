"""hfc_det.load_run: every attribute against the files it reads, parsed here with the csv and
json modules (not with the loader), on a hand-made folder (every case the contract allows)
and on a real tools/eval_lfc.py output folder (the tiny fixture's reference run)."""
import csv
import json
import math
import subprocess
import sys

import pandas as pd
import pytest

import hfc_det
from hfc_det.metrics.results import ResultsError

VIEWS = ["original", "low_r8", "high_r8"]
NAN = math.nan


def _float(text):
    return NAN if text in ("", "nan") else float(text)


def _same(a, b):
    """Equal floats, NaN equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) if (math.isnan(a) or math.isnan(b)) else a == b


def _write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _paired(n, mean):
    return {"n": n, "mean_difference": mean, "ci_low": mean - 0.1, "ci_high": mean + 0.1, "gains": 2,
            "losses": 1, "ties": 0, "sign_test_p": 1.0, "wilcoxon_p": None}


def make_folder(root, errors=True):
    """A finished output folder written by hand: 4 images (ids not in order, one undefined
    everywhere, one AP that is 0), views original/low_r8/high_r8, both measures."""
    ap = {  # image_id: (file_name, coco APs per view, strict APs per view)
        205: ("b.jpg", [0.5, 0.75, 0.25], [0.4, 0.75, 0.0]),
        101: ("a.png", [1.0, 0.9, 1.0], [1.0, 0.9, 1.0]),
        300: ("empty.jpg", [NAN, NAN, NAN], [NAN, NAN, NAN]),
        150: ("nan", [0.0, 0.125, 0.0], [0.0, 0.125, 0.0]),
    }
    header = ["image_id", "file_name"] + [f"ap_{v}" for v in VIEWS] + [f"ap_strict_{v}" for v in VIEWS]
    _write_csv(root / "per_image_ap.csv", header,
               [[i, f] + ["nan" if math.isnan(x) else repr(x) for x in c + s] for i, (f, c, s) in ap.items()])
    for k, view in enumerate(VIEWS[1:], start=1):
        rows = []
        for i, (f, c, s) in ap.items():
            row = [i, f]
            for aps in (c, s):
                d = aps[k] - aps[0]
                row += [aps[0], aps[k], d, "undefined" if math.isnan(d) else "gain" if d > 0 else "loss" if d < 0 else "tie"]
            rows.append(row)
        rows.sort(key=lambda r: (math.isnan(r[4]), -r[4] if not math.isnan(r[4]) else 0, r[0]))
        _write_csv(root / "gain_loss" / f"{view}.csv",
                   ["image_id", "file_name", "ap_original", f"ap_{view}", "difference", "outcome",
                    "ap_strict_original", f"ap_strict_{view}", "difference_strict", "outcome_strict"],
                   [["nan" if isinstance(x, float) and math.isnan(x) else x for x in r] for r in rows])
    (root / "detections").mkdir()
    for view in VIEWS:
        dets = [{"image_id": 101, "category_id": 1, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.5}]
        (root / "detections" / f"{view}.json").write_text(json.dumps(dets))
    summary = {
        "variants": {v: {"AP": 10.0 * (k + 1), "AP50": 20.0, "AP75": None, "APs": None, "APm": 5.0, "APl": 1.0}
                     for k, v in enumerate(VIEWS)},
        "per_image": {v: {"coco": {"gain": 2, "loss": 1, "tie": 0, "undefined": 1},
                          "strict": {"gain": 1, "loss": 1, "tie": 1, "undefined": 1}} for v in VIEWS[1:]},
        "paired": {v: {"coco": _paired(3, 0.1 * k), "strict": _paired(3, -0.05 * k)} for k, v in enumerate(VIEWS[1:], 1)},
        "views": VIEWS, "radii": [8], "num_images": 4, "skipped": [],
    }
    if errors:
        summary["errors"] = {v: {"ap50": 40.0, "main": {"Cls": 1.5, "Loc": 2.5}, "special": {"FalsePos": 3.0}}
                             for v in VIEWS}
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    return root


def check_against_files(run, out):
    """Every attribute of ``run`` against the files of ``out``, read with csv/json."""
    summary = json.loads((out / "summary.json").read_text())
    assert run.folder == out
    assert run.summary == summary
    views = summary["views"]
    assert run.views == views

    with open(out / "per_image_ap.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    # one row per image, in the file's order, indexed by image id; the file's columns
    assert run.per_image.index.name == "image_id"
    assert run.per_image.index.tolist() == [int(r["image_id"]) for r in rows]
    assert list(run.per_image.columns) == header[1:]
    assert run.per_image["file_name"].tolist() == [r["file_name"] for r in rows]
    for column in header[2:]:
        assert run.per_image[column].dtype == float
        for got, r in zip(run.per_image[column].tolist(), rows):
            assert _same(got, _float(r[column])), (column, r["image_id"])
    for view in views:
        for measure, prefix in (("coco", "ap_"), ("strict", "ap_strict_")):
            series = run.ap(view, measure)
            assert series.index.tolist() == [int(r["image_id"]) for r in rows]
            assert all(_same(a, _float(r[prefix + view])) for a, r in zip(series.tolist(), rows))
    assert run.measures == ["coco", "strict"]

    # the long form: one row per (measure, view, image), values from the file
    long = run.per_image_long()
    assert list(long.columns) == ["image_id", "file_name", "view", "measure", "ap"]
    expected = [(int(r["image_id"]), r["file_name"], v, m, _float(r[p + v]))
                for m, p in (("coco", "ap_"), ("strict", "ap_strict_")) for v in views for r in rows]
    assert len(long) == len(expected)
    for got, want in zip(long.itertuples(index=False), expected):
        assert tuple(got)[:4] == want[:4] and _same(got.ap, want[4])

    # gain/loss: every file of gain_loss/, rows in the file's order (largest gain first)
    files = sorted(p.stem for p in (out / "gain_loss").glob("*.csv"))
    assert sorted(run.gain_loss) == files and files
    for view, frame in run.gain_loss.items():
        with open(out / "gain_loss" / f"{view}.csv", newline="") as f:
            gl = list(csv.DictReader(f))
        assert frame.index.name == "image_id"
        assert frame.index.tolist() == [int(r["image_id"]) for r in gl]
        assert list(frame.columns) == list(gl[0])[1:]
        for column in frame.columns:
            for got, r in zip(frame[column].tolist(), gl):
                if column in ("file_name", "outcome", "outcome_strict"):
                    assert got == r[column]
                else:
                    assert _same(got, _float(r[column])), (view, column, r["image_id"])
        assert set(frame["outcome"]) <= {"gain", "loss", "tie", "undefined"}

    # summary-backed tables
    assert run.paired == summary["paired"]
    table = run.paired_table()
    assert sorted(table.index.tolist()) == sorted((v, m) for v in summary["paired"] for m in summary["paired"][v])
    for (view, measure), row in table.iterrows():
        for key, value in summary["paired"][view][measure].items():
            assert _same(row[key], NAN if value is None else float(value))
    assert run.tide_errors == summary.get("errors", {})
    metrics = run.metrics
    assert metrics.index.tolist() == views
    assert list(metrics.columns) == ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    for view in views:
        for key, value in summary["variants"][view].items():
            assert _same(metrics.loc[view, key], NAN if value is None else float(value))

    # detections: the paths of detections/<view>.json, in the views' order
    assert list(run.detections) == [v for v in views if (out / "detections" / f"{v}.json").is_file()]
    assert all(p == out / "detections" / f"{v}.json" and p.is_file() for v, p in run.detections.items())
    assert len(run.detections) == len(list((out / "detections").glob("*.json")))


def test_hand_made_folder(tmp_path):
    out = make_folder(tmp_path / "run")
    run = hfc_det.load_run(out)
    check_against_files(run, out)
    # spot checks of values written above, in case the file reading and the loader agree on a mistake
    assert run.per_image.loc[205, "ap_low_r8"] == 0.75 and run.per_image.loc[205, "ap_strict_high_r8"] == 0.0
    assert math.isnan(run.per_image.loc[300, "ap_original"]) and run.per_image.loc[150, "file_name"] == "nan"
    gl = run.gain_loss["low_r8"]
    assert gl.index.tolist() == [205, 150, 101, 300]  # +0.25, +0.125, -0.1, undefined
    assert gl["outcome"].tolist() == ["gain", "gain", "loss", "undefined"]
    assert gl.loc[205, "difference_strict"] == pytest.approx(0.35)
    assert run.tide_errors["high_r8"]["main"]["Loc"] == 2.5
    assert run.paired["high_r8"]["strict"]["mean_difference"] == pytest.approx(-0.1)
    assert math.isnan(run.paired_table().loc[("low_r8", "coco"), "wilcoxon_p"])
    assert math.isnan(run.metrics.loc["original", "AP75"]) and run.metrics.loc["high_r8", "AP"] == 30.0
    assert "4 images" in repr(run) and "low_r8" in repr(run)
    # a str path works as a Path does
    assert hfc_det.load_run(str(out)).per_image.equals(run.per_image)


def test_folder_without_tide_or_strict(tmp_path):
    out = make_folder(tmp_path / "run", errors=False)
    run = hfc_det.load_run(out)
    assert run.tide_errors == {}
    # an older folder: per_image_ap.csv without the strict columns
    with open(out / "per_image_ap.csv", newline="") as f:
        rows = list(csv.reader(f))
    keep = [k for k, c in enumerate(rows[0]) if not c.startswith("ap_strict_")]
    _write_csv(out / "per_image_ap.csv", [rows[0][k] for k in keep], [[r[k] for k in keep] for r in rows[1:]])
    run = hfc_det.load_run(out)
    assert run.measures == ["coco"]
    assert set(run.per_image_long()["measure"]) == {"coco"}
    with pytest.raises(KeyError, match="ap_strict_low_r8"):
        run.ap("low_r8", "strict")


@pytest.mark.parametrize("damage, error, message", [
    ("no_folder", FileNotFoundError, "no output folder"),
    ("no_summary", ValueError, "has no summary.json: the run has not finished"),
    ("no_per_image", ValueError, "per_image_ap.csv is missing"),
    ("summary_not_json", ValueError, "is not JSON"),
    ("ap_out_of_range", ValueError, r"line 2: ap_low_r8 is 1.5, outside \[0, 1\]"),
    ("gain_loss_short_row", ValueError, r"gain_loss/low_r8.csv line 3: 9 fields, the header has 10"),
    ("gain_loss_bad_number", ValueError, r"gain_loss/high_r8.csv line 2: difference is 'x', not a number"),
])
def test_missing_or_half_written_folder_is_one_line(tmp_path, damage, error, message):
    out = make_folder(tmp_path / "run")
    if damage == "no_folder":
        out = tmp_path / "nothing"
    elif damage == "no_summary":
        (out / "summary.json").unlink()
    elif damage == "no_per_image":
        (out / "per_image_ap.csv").unlink()
    elif damage == "summary_not_json":
        (out / "summary.json").write_text('{"variants": ')
    elif damage == "ap_out_of_range":
        text = (out / "per_image_ap.csv").read_text().splitlines()
        cells = text[1].split(",")
        cells[3] = "1.5"
        (out / "per_image_ap.csv").write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
    elif damage == "gain_loss_short_row":
        path = out / "gain_loss" / "low_r8.csv"
        text = path.read_text().splitlines()
        text[2] = text[2].rsplit(",", 1)[0]
        path.write_text("\n".join(text) + "\n")
    elif damage == "gain_loss_bad_number":
        path = out / "gain_loss" / "high_r8.csv"
        text = path.read_text().splitlines()
        cells = text[1].split(",")
        cells[4] = "x"
        path.write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
    with pytest.raises(error, match=message) as info:
        hfc_det.load_run(out)
    assert "\n" not in str(info.value)
    if error is ValueError:
        assert isinstance(info.value, ResultsError)


def test_import_stays_light():
    """``import hfc_det`` loads neither pandas nor torch; ``hfc_det.load_run`` then loads pandas
    but not detectron2 (layer 2)."""
    code = ("import sys, hfc_det; assert not {'pandas', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "hfc_det.load_run; assert 'pandas' in sys.modules\n"
            "assert 'detectron2' not in sys.modules, 'detectron2 loaded'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_real_eval_lfc_folder(tmp_path_factory):
    """The tiny fixture's tools/eval_lfc.py run (shared with tests/evaluation), read back."""
    from helpers.eval_runs import fixture_and_reference

    _, out = fixture_and_reference(tmp_path_factory)
    run = hfc_det.load_run(out)
    check_against_files(run, out)
    assert run.views == ["original", "low_r8", "high_r8", "noise_r8"]
    assert sorted(run.gain_loss) == ["high_r8", "low_r8", "noise_r8"]
    assert list(run.detections) == run.views
    assert isinstance(run.per_image, pd.DataFrame) and len(run.per_image) == run.summary["num_images"]
