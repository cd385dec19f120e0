"""Bad input, one case per test (issue 16): each a non-zero exit with one line on stderr that
names what is wrong and no traceback; an image that is skipped leaves every other image's
numbers as they are without it."""
import csv
import json

import pytest

import eval_runs
from coco_fixture import make_coco_fixture
from eval_runs import fixture_and_reference, load_tool, tool_args


def one_line_error(proc, *needles):
    """Assert ``proc`` failed with exactly one stderr line, ``error: ...``, holding ``needles``."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("error:"), lines[0]
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    return lines[0]


def eval_lfc(*args):
    return eval_runs.run_tool(*args, check=False)


def in_process_error(cli, argv, *needles):
    """A tool's ``cli(argv)`` in this process (no interpreter start-up): its exit message
    must be one ``error: ...`` line holding ``needles``. Each class of bad input also has a
    subprocess test that checks stderr and the absence of a traceback."""
    with pytest.raises(SystemExit) as exc:
        cli(argv)
    message = str(exc.value.code)
    assert exc.value.code not in (0, None) and "\n" not in message.strip() and message.startswith("error:"), message
    for needle in needles:
        assert str(needle) in message, (needle, message)
    return message


# ---- images ----

def _by_image(out):
    """``{image_id: (per-image AP row without file_name, detections per view)}``."""
    rows = {int(r["image_id"]): {k: v for k, v in r.items() if k != "file_name"}
            for r in csv.DictReader((out / "per_image_ap.csv").open())}
    dets = {}
    for p in sorted((out / "detections").glob("*.json")):
        for d in json.loads(p.read_text()):
            dets.setdefault(d["image_id"], {}).setdefault(p.stem, []).append(d)
    return rows, dets


def test_too_thin_image_is_skipped_and_the_rest_unchanged(tmp_path_factory, tmp_path):
    # 3x2000 px: the test-time resize (longest edge 160 px here) would make it 0 rows high
    _, reference = fixture_and_reference(tmp_path_factory)  # the same images without thin.png
    json_file, image_root = make_coco_fixture(tmp_path, corrupt_image=True, thin_image=True)
    out = tmp_path / "out"
    proc = eval_runs.run_tool(*tool_args((json_file, image_root), out, "--save-every", 2))
    summary, ref_summary = (json.loads((o / "summary.json").read_text()) for o in (out, reference))
    assert [s["file_name"].rsplit("/", 1)[-1] for s in summary["skipped"]] == ["corrupt.jpg", "thin.png"]
    assert "3x2000" in summary["skipped"][1]["reason"] and "thin.png" in proc.stderr
    assert _by_image(out) == _by_image(reference)
    assert summary["variants"] == ref_summary["variants"] and summary["per_image"] == ref_summary["per_image"]


# ---- annotation files: one check before any process starts, the file named in every message ----

def _broken_annotations(tmp_path, change):
    json_file, image_root = make_coco_fixture(tmp_path)
    data = json.loads(open(json_file).read())
    text = change(data)
    path = tmp_path / "broken.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text if isinstance(text, str) else json.dumps(data))
    return str(path), image_root


def _duplicate_image_id(d):
    d["images"][1]["id"] = d["images"][0]["id"]


def _unknown_category(d):
    d["annotations"][0]["category_id"] = 999


def _unknown_image(d):
    d["annotations"][0]["image_id"] = 12345


def _bad_box(d):
    d["annotations"][0]["bbox"] = [1, 2, 3]


def _duplicate_annotation_id(d):
    d["annotations"][1]["id"] = d["annotations"][0]["id"]


@pytest.mark.parametrize("change, what", [
    (lambda d: '{"images": [', "is not JSON"),
    (lambda d: b"\xff\xfe\x00\x93junk", "not JSON (not UTF-8 text)"),
    (lambda d: "[1, 2]", "top level"),
    (lambda d: json.dumps({"images": d["images"]}), "'categories'"),
    (_duplicate_image_id, "image id 101 appears 2 times"),
    (_unknown_category, "category_id 999, which is not in 'categories'"),
    (_unknown_image, "image_id 12345, which is not in 'images'"),
    (_bad_box, "bbox [1, 2, 3]"),
    (_duplicate_annotation_id, "annotation id 1 appears 2 times"),
], ids=["truncated", "binary", "list", "no-categories", "duplicate-image-id", "unknown-category",
        "unknown-image", "bad-box", "duplicate-annotation-id"])
def test_broken_annotation_file_is_one_line(tmp_path, change, what):
    json_file, image_root = _broken_annotations(tmp_path, change)
    argv = ["--dataset-json", json_file, "--image-root", image_root, "--output", str(tmp_path / "o"), *eval_runs.FAST]
    in_process_error(load_tool().cli, argv, json_file, what)
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_broken_annotation_file_subprocess(tmp_path):
    json_file, image_root = _broken_annotations(tmp_path, _unknown_category)
    proc = eval_lfc("--dataset-json", json_file, "--image-root", image_root, "--output", tmp_path / "o",
                    *eval_runs.FAST)
    one_line_error(proc, json_file, "category_id 999")
