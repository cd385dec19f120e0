"""Bad input, one case per test (issue 16): each a non-zero exit with one line on stderr that
names what is wrong and no traceback; an image that is skipped leaves every other image's
numbers as they are without it."""
import csv
import json
import os
from pathlib import Path

import pytest

from helpers import eval_runs
from helpers.coco_fixture import make_coco_fixture
from helpers.eval_runs import fixture_and_reference, load_tool, tool_args


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


# ---- checkpoints: one reader, weights_only, every load error one line naming the file ----

ROOT = eval_runs.ROOT
TRAIN_CIFAR = ROOT / "tools" / "train_cifar.py"
ATTACK_CIFAR = ROOT / "tools" / "attack_cifar.py"


class _RunsCode:
    """Pickles as a call of ``os.system``: opening a file that holds it with a plain
    ``torch.load`` runs the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


def _valid_checkpoint_bytes():
    from helpers.tiny_classifier import tiny_checkpoint

    return tiny_checkpoint().read_bytes()


def _write_checkpoint(folder, kind):
    """``folder/checkpoint.pth`` broken in the way ``kind`` says; returns its path."""
    import numpy as np
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "checkpoint.pth"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "truncated":
        data = _valid_checkpoint_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "directory":
        path.mkdir()
    elif kind == "not-a-dict":
        torch.save([1, 2, 3], path)
    elif kind == "runs-code":
        marker = folder / "code-ran"
        torch.save({"model": {}, "model_name": "lenet", "model_kwargs": {}, "config": {},
                    "epoch": 1, "payload": _RunsCode(f"touch {marker}")}, path)
    return path


@pytest.mark.parametrize("kind, why", [
    ("empty", "empty or cut short"),
    ("random", "not a PyTorch checkpoint"),
    ("truncated", "not a PyTorch checkpoint, or a truncated one"),
    ("directory", "cannot be read as a file"),
    ("not-a-dict", "is not a checkpoint of tools/train_cifar.py"),
    ("runs-code", "could run code: refused"),
])
def test_train_cifar_resume_on_a_broken_checkpoint(tmp_path, kind, why):
    from helpers.cifar_fixture import call_tool_main

    path = _write_checkpoint(tmp_path / "run", kind)
    code = call_tool_main(TRAIN_CIFAR, "--output", str(tmp_path / "run"), "--resume", "--quiet")
    assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code, code
    assert str(path) in code and why in code, code
    assert not (tmp_path / "run" / "code-ran").exists()


def test_a_checkpoint_that_carries_a_callable_is_refused_without_running_it(tmp_path):
    import subprocess
    import sys

    path = _write_checkpoint(tmp_path / "run", "runs-code")
    marker = tmp_path / "run" / "code-ran"
    from helpers.cifar_fixture import call_tool_main

    code = call_tool_main(ATTACK_CIFAR, "--checkpoint", str(path), "--output", str(tmp_path / "o"))
    assert isinstance(code, str) and "could run code: refused" in code and str(path) in code
    assert not marker.exists() and not (tmp_path / "o").exists()
    # the file really carries the call: a plain (unsafe) torch.load in another process runs it
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(path)!r}, weights_only=False)"],
                   capture_output=True, cwd=tmp_path)
    assert marker.exists()


def test_broken_checkpoint_subprocess(tmp_path):
    import subprocess
    import sys

    path = _write_checkpoint(tmp_path / "run", "random")
    proc = subprocess.run([sys.executable, str(TRAIN_CIFAR), "--output", str(tmp_path / "run"), "--resume"],
                          capture_output=True, text=True)
    one_line_error(proc, path, "not a PyTorch checkpoint")


def test_checkpoint_of_the_earlier_format_is_still_read(tmp_path):
    """Checkpoints written before the RNG state was stored as tensors hold numpy's state as a
    numpy array: weights_only reading allows exactly the numpy types that needs."""
    import random

    import numpy as np
    import torch

    from hfc_det.classification.checkpoint import load_checkpoint, numpy_rng_state, read_checkpoint
    from hfc_det.classification.training import _set_rng_state

    from helpers.tiny_classifier import tiny_checkpoint

    state = torch.load(tiny_checkpoint(), weights_only=True)
    np.random.seed(7)
    old_rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    state.update(epoch=3, rng=old_rng, history=[{"epoch": 1, "loss": np.float64(0.5)}])
    path = tmp_path / "checkpoint.pth"
    torch.save(state, path)  # the earlier format: ndarray and numpy scalars inside
    read = read_checkpoint(path)
    assert read["epoch"] == 3 and float(read["history"][0]["loss"]) == 0.5
    want = np.random.get_state()
    np.random.seed(0)
    _set_rng_state(read["rng"])
    got = np.random.get_state()
    assert got[0] == want[0] and np.array_equal(got[1], want[1]) and got[2:] == want[2:]
    assert np.array_equal(numpy_rng_state(read["rng"]["numpy"])[1], want[1])
    model, config = load_checkpoint(path)
    assert config["dataset"] == "digits" and not model.training


# ---- detector weights (eval_lfc.py MODEL.WEIGHTS) ----

def _weights(tmp_path, kind):
    import numpy as np
    import torch

    if kind == "url":  # a server that refuses the connection: what offline looks like, and never downloads
        return "http://127.0.0.1:9/model_final_5bd44e.pkl"
    path = tmp_path / f"weights-{kind}.{'pkl' if kind == 'random-pkl' else 'pth'}"
    if kind in ("random-pkl", "random-pth"):
        path.write_bytes(np.random.default_rng(1).bytes(5000))
    elif kind == "other-model":
        torch.save({"model": {"classifier.weight": torch.zeros(10, 84)}}, path)
    return str(path)


@pytest.mark.parametrize("kind, what", [
    ("random-pkl", "not a detectron2 or PyTorch checkpoint"),
    ("random-pth", "not a detectron2 or PyTorch checkpoint"),
    ("other-model", "no tensor of the weights"),
    ("url", "cannot download the model weights"),
])
def test_detector_weights_that_cannot_be_used(tmp_path, kind, what):
    weights = _weights(tmp_path, kind)
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    argv = tool_args((json_file, image_root), tmp_path / "o", "--max-images", "1") + ["MODEL.WEIGHTS", weights]
    message = in_process_error(load_tool().cli, argv, weights, what)
    if kind == "url":
        assert "local path" in message and "MODEL.WEIGHTS /path/to/model_final_5bd44e.pkl" in message


def test_bad_weights_then_the_corrected_command_into_the_same_folder(tmp_path):
    """One line for weights that are not a checkpoint; the run died before its first image,
    so the corrected command is not refused as 'another run'."""
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    out = tmp_path / "o"
    weights = _weights(tmp_path, "random-pth")
    args = tool_args((json_file, image_root), out, "--max-images", "2")
    one_line_error(eval_lfc(*args, "MODEL.WEIGHTS", weights), weights, "not a detectron2 or PyTorch checkpoint")
    assert (out / "run_fingerprint.json").is_file()  # what used to lock the folder
    fixed = eval_lfc(*args)  # FAST's MODEL.WEIGHTS "" (random init)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert json.loads((out / "summary.json").read_text())["num_images"] == 2


# ---- the project's own results files, read back by visualize_gain_loss.py ----

VISUALIZE = ROOT / "tools" / "visualize_gain_loss.py"


def _edit_csv(path, edit):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def _set_cell(lines, row, column, value):
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    return lines


@pytest.mark.parametrize("target, edit, what", [
    ("per_image_ap.csv", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 50), "not UTF-8 text"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: _set_cell(ls, 1, "ap_low_r8", "7.5")),
     "line 2: ap_low_r8 is 7.5, outside [0, 1]"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: _set_cell(ls, 2, "ap_original", "-3")),
     "line 3: ap_original is -3, outside [0, 1]"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: _set_cell(ls, 1, "ap_high_r8", "inf")), "is inf"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: _set_cell(ls, 1, "ap_high_r8", "abc")), "not a number"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: ls[:2] + [ls[2].split(",")[0]] + ls[3:]),
     "line 3: 1 fields, the header has 5"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: ls + [ls[1]]), "appears twice"),
    ("per_image_ap.csv", lambda p: _edit_csv(p, lambda ls: [ls[0].replace("ap_", "AP ")] + ls[1:]),
     "no ap_<view> column"),
    ("gain_loss/low_r8.csv", lambda p: _edit_csv(p, lambda ls: _set_cell(ls, 1, "diff", "12")), "diff is 12"),
    ("summary.json", lambda p: p.write_bytes(b"\x00\xff" * 30), "not JSON (not UTF-8 text)"),
    ("summary.json", lambda p: p.write_text("[1, 2]"), "not a JSON object"),
    ("detections/low_r8.json", lambda p: p.write_text(p.read_text().replace('"score": 0.2', '"score": 2.5', 1)),
     "score in [0, 1]"),
    ("detections/low_r8.json", lambda p: p.write_text('{"image_id": 1}'), "not a COCO results list"),
], ids=["binary", "ap-7.5", "ap-minus-3", "ap-inf", "ap-text", "only-image-id", "duplicate-id", "no-ap-column",
        "gain-loss-diff", "summary-binary", "summary-list", "detection-score", "detections-not-list"])
def test_broken_results_file_is_one_line(tmp_path, target, edit, what):
    from helpers.report_fixture import make_output_folder

    from helpers.cifar_fixture import call_tool_main

    out = make_output_folder(tmp_path)
    path = out / target
    edit(path)
    code = call_tool_main(VISUALIZE, str(out), "--view", "low_r8", "--top", "2", "--quiet", "--workers", "1")
    assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code, code
    assert str(path) in code and what in code, code


def test_broken_results_file_subprocess(tmp_path):
    import subprocess
    import sys

    from helpers.report_fixture import make_output_folder

    out = make_output_folder(tmp_path)
    (out / "per_image_ap.csv").write_bytes(bytes(range(256)) * 4)
    proc = subprocess.run([sys.executable, str(VISUALIZE), str(out)], capture_output=True, text=True)
    one_line_error(proc, out / "per_image_ap.csv", "not UTF-8 text")


# ---- full disk, and what a run prints ----

def test_a_write_that_fails_names_the_file_and_leaves_nothing(tmp_path):
    import errno

    from hfc_det.utils.atomic import write_atomic, write_json_atomic

    path = tmp_path / "summary.json"
    write_json_atomic(path, {"before": 1})

    def full_disk(f):
        f.write(b"{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as exc:
        write_atomic(path, full_disk)
    assert exc.value.errno == errno.ENOSPC and str(path) in str(exc.value)
    assert json.loads(path.read_text()) == {"before": 1} and sorted(tmp_path.iterdir()) == [path]


def _unshare_works():
    import shutil
    import subprocess

    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs `unshare -rm` to mount a small tmpfs as a full disk")
def test_full_disk_is_one_line_naming_the_file(tmp_path):
    """eval_lfc.py into a folder on a tmpfs that is full: one error naming the file it could
    not write, no '--- Logging error ---' tracebacks; again on a re-run."""
    import shlex
    import subprocess
    import sys

    json_file, image_root = make_coco_fixture(tmp_path / "data")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cmd = shlex.join([sys.executable, str(eval_runs.TOOL), *tool_args((json_file, image_root), mnt / "out",
                                                                      "--max-images", "1")])
    script = (f"mount -t tmpfs -o size=256k tmpfs {mnt} && mkdir {mnt}/out && "
              f"(dd if=/dev/zero of={mnt}/filler bs=4k 2>/dev/null; true) && {cmd}; {cmd}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                          env=eval_runs.ENV, cwd=ROOT)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and "Logging error" not in proc.stderr and "Traceback" not in proc.stderr
    assert lines == [f"error: [Errno 28] No space left on device: '{mnt}/out/config.yaml'"] * 2, proc.stderr[-2000:]


def test_a_run_prints_progress_warnings_and_the_table_not_the_config(tmp_path_factory):
    proc = eval_runs.reference_process(tmp_path_factory)
    (_, _), out = fixture_and_reference(tmp_path_factory)
    log = (out / "log.txt").read_text()
    for text in (proc.stdout, proc.stderr, log):
        assert "\x1b[" not in text  # no colour codes in a pipe or a file
        assert "torch.meshgrid" not in text and "No CUDA runtime" not in text
        assert "Running with full config" not in text and "Contents of args.config_file" not in text
    assert (proc.stdout + proc.stderr).count("Category ids in annotations are not in") <= 1
    assert len(proc.stdout.splitlines()) < 20, proc.stdout  # the table and a few warnings
    assert "AP50" in proc.stdout and "Environment info" in log and "Command line arguments" in log
    assert "INPUT:" in (out / "config.yaml").read_text()


# ---- command lines ----

@pytest.mark.parametrize("extra, what", [
    (["--radius", "8", "MODEL.DEVICE"], "odd number of words (1) was given: MODEL.DEVICE"),
    (["--radius", "8", "16", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST"], "odd number of words (3)"),
    (["MODEL.DEVICE", "cpu", "--fresh"], "option --fresh comes after the KEY VALUE overrides"),
    (["MODEL.DEVICE", "cpu", "--radius", "8"], "option --radius comes after"),
])
def test_odd_overrides_and_options_after_them(tmp_path, extra, what):
    json_file, image_root = make_coco_fixture(tmp_path)
    argv = ["--dataset-json", json_file, "--image-root", image_root, "--output", str(tmp_path / "o"), *extra]
    in_process_error(load_tool().cli, argv, what)


def test_odd_overrides_subprocess(tmp_path):
    json_file, image_root = make_coco_fixture(tmp_path)
    proc = eval_lfc("--dataset-json", json_file, "--image-root", image_root, "--output", tmp_path / "o",
                    "--radius", "8", "MODEL.DEVICE")
    one_line_error(proc, "KEY VALUE pairs", "MODEL.DEVICE")


def test_train_cifar_resume_without_a_checkpoint_warns(tmp_path, capsys):
    from helpers.cifar_fixture import call_tool_main

    out = tmp_path / "run"
    code = call_tool_main(TRAIN_CIFAR, "--output", str(out), "--resume", "--dataset", "digits", "--model", "lenet",
                          "--epochs", "1", "--batch-size", "256", "--track-radii", "2", "--track-train-size", "100",
                          "--quiet", "--threads", "1")
    assert code == 0 and (out / "checkpoint.pth").is_file()
    err = capsys.readouterr().err
    assert f"warning: --resume: no checkpoint.pth in {out}; starting a new run" in err


def test_report_refuses_a_broken_ground_truth_file(tmp_path):
    from helpers.report_fixture import make_output_folder

    from helpers.cifar_fixture import call_tool_main

    out = make_output_folder(tmp_path)
    gt = Path(json.loads((out / "summary.json").read_text())["dataset"]["json_file"])
    data = json.loads(gt.read_text())
    data["images"][1]["id"] = data["images"][0]["id"]
    gt.write_text(json.dumps(data))
    code = call_tool_main(VISUALIZE, str(out), "--view", "low_r8", "--top", "2", "--quiet", "--workers", "1")
    assert isinstance(code, str) and code.startswith("error: annotation file ") and "\n" not in code, code
    assert str(gt) in code and "appears 2 times" in code


# ---- issue 23: 16-bit and float images, scaled from their real range ----

def _rewrite_images(json_file, image_root, changes):
    """Replace fixture images: ``changes`` maps a file name to ``(new_name, write(path, rgb))``,
    ``rgb`` the pixels detectron2 decodes from the original (what the model saw)."""
    import hfc_det.compat  # noqa: F401
    from detectron2.data.detection_utils import read_image

    data = json.loads(Path(json_file).read_text())
    for image in data["images"]:
        if image["file_name"] in changes:
            new_name, write = changes[image["file_name"]]
            old = Path(image_root) / image["file_name"]
            write(Path(image_root) / new_name, read_image(str(old), format="RGB"))
            if new_name != image["file_name"]:
                old.unlink()
            image["file_name"] = new_name
    Path(json_file).write_text(json.dumps(data))


def _png16_rgb(path, rgb):
    import cv2

    assert cv2.imwrite(str(path), rgb[:, :, ::-1].astype("uint16") * 257)


def _png16_gray(path, rgb):
    from PIL import Image

    Image.fromarray(rgb[:, :, 0].astype("uint16") * 257).save(path)  # mode I;16


def _float_tiff(path, rgb, scale=1.0):
    import numpy as np
    import tifffile

    tifffile.imwrite(path, (rgb / 255.0 * scale).astype(np.float32), photometric="rgb")


def test_sixteen_bit_and_float_images_give_the_eight_bit_results(tmp_path_factory, tmp_path):
    """The fixture with a 16-bit RGB PNG, a 16-bit grayscale PNG and a [0, 1] float TIFF in
    place of three 8-bit images: every image's detections and AP are the 8-bit run's; a float
    TIFF in [0, 4] is skipped with its reason in summary.json, never clipped."""
    pytest.importorskip("cv2")
    pytest.importorskip("tifffile")
    _, reference = fixture_and_reference(tmp_path_factory)
    json_file, image_root = make_coco_fixture(tmp_path, corrupt_image=True)
    _rewrite_images(json_file, image_root, {
        "chelsea.png": ("chelsea.png", _png16_rgb),
        "camera_gray.png": ("camera_gray.png", _png16_gray),
        "coffee.jpg": ("coffee.tif", _float_tiff),
        "rocket.jpg": ("rocket.tif", lambda p, rgb: _float_tiff(p, rgb, scale=4.0)),
    })
    out = tmp_path / "out"
    eval_runs.run_tool(*tool_args((json_file, image_root), out, "--save-every", 2))
    summary = json.loads((out / "summary.json").read_text())
    skipped = {s["file_name"].rsplit("/", 1)[-1]: s["reason"] for s in summary["skipped"]}
    assert sorted(skipped) == ["corrupt.jpg", "rocket.tif"] and "not in [0, 1]" in skipped["rocket.tif"]
    rocket = next(i["id"] for i in json.loads(Path(json_file).read_text())["images"]
                  if i["file_name"] == "rocket.tif")
    (rows, dets), (ref_rows, ref_dets) = _by_image(out), _by_image(reference)
    ref_rows.pop(rocket), ref_dets.pop(rocket, None)
    assert rows == ref_rows and dets == ref_dets


# ---- issue 23: Fourier views past the Nyquist frequency; a run that evaluated nothing ----

def test_a_fourier_view_past_nyquist_skips_the_images_too_small_for_it(tmp_path):
    # u = 11 is past the Nyquist frequency (10) of the 20x24 px ball_tiny.png only
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    out = tmp_path / "o"
    eval_runs.run_tool(*tool_args((json_file, image_root), out, "--views", "original", "fourier_u11_v0_e300"))
    summary = json.loads((out / "summary.json").read_text())
    assert [(s["file_name"].rsplit("/", 1)[-1]) for s in summary["skipped"]] == ["ball_tiny.png"]
    reason = summary["skipped"][0]["reason"]
    assert "fourier_u11_v0_e300" in reason and "Nyquist frequency of 20x24 px" in reason and "|u| <= 10" in reason


def _ends_in_one_error(proc, *needles):
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines[-1].startswith("error:"), lines[-1]
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])


def test_a_run_that_evaluated_no_image_exits_non_zero_after_writing(tmp_path):
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    empty = tmp_path / "wrong_root"
    empty.mkdir()
    out = tmp_path / "o"
    proc = eval_lfc(*tool_args((json_file, str(empty)), out, "--max-images", "2"))
    _ends_in_one_error(proc, "no image was evaluated: all 2 were skipped", "--image-root")
    assert json.loads((out / "summary.json").read_text())["num_images"] == 0
    # every view past the Nyquist frequency of every image: the same
    proc = eval_lfc(*tool_args((json_file, image_root), tmp_path / "o2", "--max-images", "2",
                               "--views", "fourier_u999_v0_e3000"))
    _ends_in_one_error(proc, "no image was evaluated", "Nyquist")


# ---- issue 23: one run per output folder ----

_HOLD_LOCK = """
import sys, time
from hfc_det.utils.run_lock import acquire_run_lock
acquire_run_lock(sys.argv[1], what="eval_lfc.py run")
print("holding", flush=True)
time.sleep(600)
"""


def test_a_busy_folder_is_refused_and_a_dead_runs_lock_taken_over(tmp_path_factory, tmp_path):
    """Another process holds the folder: eval_lfc.py refuses in one line naming it (and
    writes nothing). Killed (its lock file stays), the same command takes the folder over,
    says so, and ends with exactly the results of an undisturbed run."""
    import signal
    import socket
    import subprocess
    import sys

    data, reference = fixture_and_reference(tmp_path_factory)
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        proc = eval_lfc(*tool_args(data, out, "--save-every", 2))
        one_line_error(proc, f"{out} is in use by another eval_lfc.py run",
                       f"PID {holder.pid} on host {socket.gethostname()}")
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(60)
    proc = eval_lfc(*tool_args(data, out, "--save-every", 2))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"taking over {out / 'run.lock'}" in proc.stderr and f"PID {holder.pid}" in proc.stderr
    got, want = eval_runs.comparable_outputs(out), eval_runs.comparable_outputs(reference)
    assert {k: v for k, v in got["summary"].items() if v != want["summary"].get(k)} == {}
    assert got == want
    assert not (out / "run.lock").exists()


# ---- issue 23: config files, --num-gpus, the launch path ----

@pytest.mark.parametrize("text, what", [
    ("", "the file is empty"),
    ("\n# only a comment\n", "the file is empty"),
    ("MODEL: [unclosed\n", "malformed YAML"),
    ("MODEL:\n  DEVICE: cpu\n INPUT: 3\n", "line 3"),
    ("- MODEL\n- INPUT\n", "line 1: expected a YAML mapping"),
], ids=["empty", "comment-only", "unclosed", "bad-indent", "list"])
def test_a_bad_config_yaml_is_one_line(tmp_path, text, what):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    argv = ["--config", str(config), *tool_args((json_file, image_root), tmp_path / "o")]
    in_process_error(load_tool().cli, argv, f"bad config {config}", what)


def test_a_bad_config_yaml_subprocess(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("MODEL: [unclosed\n")
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    proc = eval_lfc("--config", config, *tool_args((json_file, image_root), tmp_path / "o"))
    one_line_error(proc, str(config), "line 2")


def _cuda_devices():
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.skipif(_cuda_devices() >= 2, reason="this machine has the GPUs --num-gpus 2 asks for")
def test_num_gpus_without_the_gpus_is_one_line(tmp_path):
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    argv = tool_args((json_file, image_root), tmp_path / "o", "--num-gpus", "2")
    in_process_error(load_tool().cli, argv, "--num-gpus 2", f"{_cuda_devices()} CUDA device")
    assert not (tmp_path / "o").exists()
    train_net = load_tool_file(ROOT / "tools" / "train_net.py")
    in_process_error(train_net.cli, ["--config-file", "demo/retinanet_R18_FPN_shapes", "--num-gpus", "2",
                                     "MODEL.DEVICE", "cpu"], "--num-gpus 2")


def load_tool_file(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem + "_tool_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_LAUNCH_SCRIPT = """
import sys
{prepare}

def work():
    pass

if __name__ == "__main__":
    from PIL import Image
    assert not hasattr(Image, "LINEAR"), "this Pillow still has LINEAR: nothing to test"
    import hfc_det.compat  # the parent patches Pillow; a spawned worker starts afresh
    from detectron2.engine import launch

    launch(work, 2, dist_url="tcp://127.0.0.1:" + sys.argv[1])
"""

# what every launching tool has at its top
_PREPARE = 'if __name__ == "__mp_main__":\n    import hfc_det.compat'


@pytest.mark.parametrize("prepared", [True, False], ids=["tool", "without-the-fix"])
def test_detectron2_launch_workers_get_the_pillow_fix(tmp_path, prepared):
    """detectron2's real ``launch`` with 2 processes: each worker first unpickles
    ``detectron2.engine.launch._distributed_worker``, importing detectron2.engine before any
    hfc_det code. With the lines every launching tool has at its top, the workers get past
    that import (on a CPU machine they then stop at detectron2's own CUDA assertion); without
    them they die on ``PIL.Image.LINEAR`` (the check can fail)."""
    import socket
    import subprocess
    import sys

    from PIL import Image

    if hasattr(Image, "LINEAR") and Image.LINEAR is not Image.BILINEAR:
        pytest.skip("Pillow < 10 has LINEAR")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "launching_tool.py"
    script.write_text(_LAUNCH_SCRIPT.format(prepare=_PREPARE if prepared else ""))
    proc = subprocess.run([sys.executable, str(script), str(port)], capture_output=True, text=True, cwd=ROOT,
                          env=eval_runs.ENV, timeout=300)
    if "nothing to test" in proc.stderr:
        pytest.skip("this Pillow still has LINEAR")
    if prepared:
        assert "LINEAR" not in proc.stderr, proc.stderr[-3000:]
        # v0.6's launch refuses CPU workers with its own CUDA assertion; the official source's
        # runs them (gloo) to the end
        assert proc.returncode == 0 or "cuda is not available" in proc.stderr, proc.stderr[-3000:]
    elif _detectron2_names_image_linear():
        assert "has no attribute 'LINEAR'" in proc.stderr, proc.stderr[-3000:]
    else:
        pytest.skip("this detectron2 (the official source) never names PIL.Image.LINEAR: nothing to break")


def _detectron2_names_image_linear() -> bool:
    """v0.6's transforms name ``Image.LINEAR`` (gone from Pillow 10); the official source does not."""
    import importlib.util
    from pathlib import Path

    root = Path(importlib.util.find_spec("detectron2").origin).parent
    return any("Image.LINEAR" in p.read_text(errors="ignore") for p in (root / "data").rglob("*.py"))


def test_every_launching_tool_prepares_its_spawned_processes():
    import ast

    for name in ("eval_lfc.py", "train_net.py", "fourier_heatmap.py"):
        tree = ast.parse((ROOT / "tools" / name).read_text())
        guarded = [n for n in tree.body if isinstance(n, ast.If) and "__mp_main__" in ast.unparse(n.test)]
        assert guarded and "import hfc_det.compat" in ast.unparse(guarded[0].body[0]), name


# ---- issue 23: messages that named the wrong thing ----

@pytest.mark.parametrize("radius", ["inf", "nan", "-3", "0"])
def test_a_radius_that_is_no_positive_number_names_the_option(tmp_path, radius):
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    argv = ["--dataset-json", json_file, "--image-root", image_root, "--output", str(tmp_path / "o"),
            "--radius", radius, *eval_runs.FAST]
    message = in_process_error(load_tool().cli, argv, "--radius must be finite numbers > 0")
    assert "unknown view" not in message and "HFC.RADII" not in message


def test_a_noise_view_with_a_negative_radius_names_the_view(tmp_path):
    json_file, image_root = make_coco_fixture(tmp_path / "data")
    argv = tool_args((json_file, image_root), tmp_path / "o", "--views", "original", "noise_r-3")
    message = in_process_error(load_tool().cli, argv, "noise_r-3", "must be > 0")
    assert "low part" not in message


def test_visualizing_an_unfinished_run_says_how_to_resume_it(tmp_path):
    from helpers.cifar_fixture import call_tool_main

    out = tmp_path / "out"
    (out / "partial").mkdir(parents=True)
    (out / "run_fingerprint.json").write_text("{}")
    code = call_tool_main(VISUALIZE, str(out), "--quiet")
    assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code, code
    assert "unfinished eval_lfc.py run" in code and "same eval_lfc.py command again resumes it" in code


# ---- issue 23: checkpoints that only partly fit, in the other tools ----

def _misfit_checkpoint(tmp_path, kind):
    import torch

    from helpers.tiny_classifier import tiny_checkpoint

    state = torch.load(tiny_checkpoint(), weights_only=True)
    weights = dict(state["model"])
    keys = list(weights)
    if kind == "half-missing":
        for k in keys[: len(keys) // 2]:
            del weights[k]
    else:  # another class count: the last layer has another shape
        weights[keys[-1]] = torch.zeros(3)
    path = tmp_path / f"{kind}.pth"
    torch.save({**state, "model": weights}, path)
    return path


@pytest.mark.parametrize("tool, extra", [
    ("find_hfc_examples.py", []),
    ("gradient_spectrum.py", []),
    ("fourier_heatmap.py", ["--grid", "1"]),
    ("visualize_kernels.py", []),
])
@pytest.mark.parametrize("kind, what", [("half-missing", "missing: "), ("head-shape", "1 of another shape: ")])
def test_a_cifar_checkpoint_that_does_not_fit_is_one_line(tmp_path, tool, extra, kind, what):
    from helpers.cifar_fixture import call_tool_main

    path = _misfit_checkpoint(tmp_path, kind)
    code = call_tool_main(ROOT / "tools" / tool, "--checkpoint", str(path), "--output", str(tmp_path / "o"), *extra)
    assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code, code
    assert str(path) in code and "does not fit the model it names" in code and what in code, code


def test_resuming_cifar_training_from_a_checkpoint_that_does_not_fit_is_one_line(tmp_path):
    import torch

    from helpers.cifar_fixture import call_tool_main

    out = tmp_path / "run"
    args = ["--output", str(out), "--dataset", "digits", "--model", "lenet", "--batch-size", "256",
            "--track-radii", "2", "--track-train-size", "100", "--quiet", "--threads", "1"]
    assert call_tool_main(TRAIN_CIFAR, *args, "--epochs", "1") == 0
    state = torch.load(out / "checkpoint.pth", weights_only=False)
    state["model"].pop(next(iter(state["model"])))
    torch.save(state, out / "checkpoint.pth")
    code = call_tool_main(TRAIN_CIFAR, *args, "--epochs", "2", "--resume")
    assert isinstance(code, str) and code.startswith("error: cannot resume") and "\n" not in code, code
    assert "1 missing: " in code


def test_detector_weights_of_another_model_in_train_net_are_one_line(tmp_path):
    import subprocess
    import sys

    from helpers.tiny_classifier import tiny_checkpoint

    weights = tiny_checkpoint()
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "train_net.py"), "--eval-only", "--config-file",
                           "demo/retinanet_R18_FPN_shapes", "MODEL.WEIGHTS", str(weights), "MODEL.DEVICE", "cpu",
                           "OUTPUT_DIR", str(tmp_path / "o"), "DATASETS.TEST", "()"],
                          capture_output=True, text=True, cwd=ROOT, env=eval_runs.ENV)
    one_line_error(proc, str(weights))


# ---- issue 23: two runs of the other tools in one folder ----

def test_a_second_training_in_a_busy_folder_is_refused(tmp_path):
    from helpers.cifar_fixture import call_tool_main

    from hfc_det.utils.run_lock import run_lock

    out = tmp_path / "run"
    with run_lock(out):  # a live run (this process) holds the folder
        code = call_tool_main(TRAIN_CIFAR, "--output", str(out), "--dataset", "digits", "--model", "lenet",
                              "--epochs", "1", "--quiet")
    assert isinstance(code, str) and code.startswith("error: ") and "is in use by another train_cifar.py run" in code
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_second_texture_experiment_in_a_busy_folder_is_refused(tmp_path):
    from hfc_det.experiments.texture import TextureExperiment, run_texture_experiment
    from hfc_det.utils.run_lock import FolderInUseError, run_lock

    experiment = TextureExperiment(output=str(tmp_path / "tex"), cache=str(tmp_path / "cache"))
    with run_lock(tmp_path / "tex"):
        with pytest.raises(FolderInUseError, match="in use by another texture_experiment.py run"):
            run_texture_experiment(experiment, skip_untrained=True)
