"""Resumable evaluation: a run killed with SIGKILL half way and run again ends with the
outputs of an uninterrupted run; the output folder refuses another run's detections; the
detection chunks and the fingerprint on their own."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import hfc_det.compat  # noqa: F401
from hfc_det.config import get_cfg
from hfc_det.evaluation.store import (
    FINGERPRINT_FILE,
    DetectionStore,
    OutputMismatchError,
    config_digest,
    prepare_output,
    run_fingerprint,
    weights_identity,
)

from helpers.eval_runs import ENV, ROOT, TOOL, comparable_outputs, fixture_and_reference, load_tool, run_tool, tool_args

VIEWS = ["original", "low_r8", "high_r8"]


def chunk_image_ids(out: Path):
    ids = []
    for p in sorted((out / "partial").glob("dets-*.npz")):
        with np.load(p) as z:
            ids += z["image_ids"].tolist()
    return ids


def test_killed_run_resumes_to_the_uninterrupted_outputs(tmp_path_factory, tmp_path):
    data, reference = fixture_and_reference(tmp_path_factory)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(TOOL), *tool_args(data, out, "--save-every", 1)],
                            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while proc.poll() is None and not chunk_image_ids(out) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    done_before = chunk_image_ids(out)
    assert 1 <= len(done_before) < 10 and not (out / "summary.json").exists()
    # a temporary file as a writer killed mid-write leaves it: must be ignored and removed
    stale = out / "partial" / ".dets-0123456789ab-000007.npz.tmp-4242"
    stale.write_bytes(b"PK\x03\x04 half a zip")

    rerun = run_tool(*tool_args(data, out))
    assert not stale.exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_images"] == len(set(done_before))  # those were not evaluated again
    assert comparable_outputs(out) == comparable_outputs(reference)
    assert "resuming" in rerun.stdout + rerun.stderr


def test_another_run_into_the_folder_is_refused_in_one_line(tmp_path_factory, tmp_path):
    data, reference = fixture_and_reference(tmp_path_factory)
    out = tmp_path / "other"
    (out / "partial").mkdir(parents=True)
    for name in (FINGERPRINT_FILE, "summary.json"):
        (out / name).write_bytes((reference / name).read_bytes())
    for p in (reference / "partial").glob("*.npz"):
        (out / "partial" / p.name).write_bytes(p.read_bytes())
    tool = load_tool("eval_lfc_tool_resume")
    for flags, opts, what in (([], ["INPUT.MIN_SIZE_TEST", "64"], "config"), ([], ["SEED", "3"], "weights"),
                              (["--smooth-rho", "0.5"], [], "config")):
        with pytest.raises(SystemExit) as exc:
            tool.cli(tool_args(data, out, *flags) + opts)
        message = str(exc.value.code)
        assert message.startswith("error:") and "\n" not in message
        assert f"different {what}" in message and "--fresh" in message and str(out) in message
    assert len(list((out / "partial").glob("*.npz"))) == len(list((reference / "partial").glob("*.npz")))


# ---- the pieces on their own (no model) ----

def test_fingerprint_keys(tmp_path):
    cfg = get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", ""])
    same = [["OUTPUT_DIR", "elsewhere"], ["DATALOADER.NUM_WORKERS", "7"], ["HFC.STRICT_SCORE", "0.3"]]
    differ = [["HFC.RADII", "[16]"], ["INPUT.MIN_SIZE_TEST", "600"], ["HFC.HFC_SCALING", "max"],
              ["HFC.FILTER_STAGE", "after_resize"], ["HFC.SMOOTH_RHO", "1.0"], ["MODEL.DEVICE", "cpu"],
              ["TEST.DETECTIONS_PER_IMAGE", "50"]]
    base = config_digest(cfg)
    for opts in same:
        assert config_digest(get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", ""] + opts)) == base, opts
    for opts in differ:
        assert config_digest(get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", ""] + opts)) != base, opts

    assert weights_identity(cfg) == {"kind": "random-init", "seed": 0}
    cfg.defrost()
    cfg.SEED = 5
    assert weights_identity(cfg) == {"kind": "random-init", "seed": 5}
    cfg.MODEL.WEIGHTS = "detectron2://COCO-Detection/x/model_final.pkl"
    assert weights_identity(cfg) == {"kind": "url", "url": cfg.MODEL.WEIGHTS}
    w = tmp_path / "w.pkl"
    w.write_bytes(b"weights one")
    cfg.MODEL.WEIGHTS = str(w)
    import hashlib

    assert weights_identity(cfg) == {"kind": "file", "sha256": hashlib.sha256(b"weights one").hexdigest()}


def test_prepare_output_claims_checks_and_fresh(tmp_path):
    j = tmp_path / "a.json"
    j.write_text("{}")
    cfg = get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", ""])
    fp = run_fingerprint(cfg, str(j), str(tmp_path))
    out = tmp_path / "out"
    assert prepare_output(out, fp) == "new"
    assert json.loads((out / FINGERPRINT_FILE).read_text()) == fp
    assert prepare_output(out, fp) == "new"  # nothing saved yet
    (out / "partial").mkdir()
    (out / "partial" / "dets-x-000000.npz").write_bytes(b"")
    assert prepare_output(out, fp) == "resume"
    j.write_text('{"images": []}')  # the dataset's annotation file changed
    other = run_fingerprint(cfg, str(j), str(tmp_path))
    with pytest.raises(OutputMismatchError, match="different dataset"):
        prepare_output(out, other)
    (out / "summary.json").write_text("{}")
    (out / "notes.txt").write_text("the user's own file")
    assert prepare_output(out, other, fresh=True) == "new"
    assert not (out / "summary.json").exists() and not (out / "partial").exists()
    assert (out / "notes.txt").exists() and json.loads((out / FINGERPRINT_FILE).read_text()) == other
    # chunks without a fingerprint: nobody can say whose they are
    (out / FINGERPRINT_FILE).unlink()
    (out / "partial").mkdir()
    (out / "partial" / "dets-x-000000.npz").write_bytes(b"")
    with pytest.raises(OutputMismatchError, match="unknown run"):
        prepare_output(out, other, write=False)


def test_a_failed_start_does_not_lock_the_folder(tmp_path):
    """A run that died before saving any image (bad weights, a typo) left only its
    fingerprint: the corrected command, another fingerprint, claims the folder."""
    j = tmp_path / "a.json"
    j.write_text("{}")
    failed = run_fingerprint(get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", ""]), str(j), str(tmp_path))
    fixed = run_fingerprint(get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", "", "SEED", "3"]), str(j), str(tmp_path))
    out = tmp_path / "out"
    assert prepare_output(out, failed) == "new"
    (out / "partial").mkdir()  # a folder made, nothing saved in it
    (out / "partial" / ".dets-x-000000.tmp-1.npz").write_bytes(b"half")  # a killed writer's temp file
    assert prepare_output(out, fixed, write=False) == "new"
    assert prepare_output(out, fixed) == "new"
    assert json.loads((out / FINGERPRINT_FILE).read_text()) == fixed
    (out / FINGERPRINT_FILE).write_text("not json")  # unreadable, and nothing to protect
    assert prepare_output(out, failed) == "new"


def test_detection_store_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    dets = {i: {v: rng.random((int(rng.integers(0, 5)), 6)) for v in VIEWS} for i in range(100, 111)}
    store = DetectionStore(tmp_path, VIEWS, save_every=4)
    for i, d in dets.items():
        store.add(i, d)
    assert len(list((tmp_path / "partial").glob("*.npz"))) == 2  # 8 images flushed, 3 pending
    store.flush()
    assert store.flush() is None
    loaded = DetectionStore(tmp_path, VIEWS).load()
    assert set(loaded) == set(VIEWS)
    for v in VIEWS:
        assert sorted(loaded[v]) == sorted(dets)
        for i in dets:
            np.testing.assert_array_equal(loaded[v][i], dets[i][v])
    assert set(DetectionStore(tmp_path, VIEWS).load(keep=[100, 105, 999])["original"]) == {100, 105}
    # a damaged chunk costs its images, not the run; chunks of other views are not used
    first = sorted((tmp_path / "partial").glob("*.npz"))[0]
    first.write_bytes(first.read_bytes()[:50])
    assert sorted(DetectionStore(tmp_path, VIEWS).load()["original"]) == sorted(dets)[4:]
    assert DetectionStore(tmp_path, ["original", "low_r16"]).load() == {"original": {}, "low_r16": {}}
    with pytest.raises(ValueError):
        DetectionStore(tmp_path, VIEWS, save_every=0)


def test_ctrl_c_saves_every_finished_image(tmp_path):
    """KeyboardInterrupt in the loop: the finished images are written even though fewer than
    --save-every of them were pending."""
    import torch
    from detectron2.structures import Boxes, Instances

    from helpers.coco_fixture import make_coco_fixture
    from hfc_det.data import resolve_dataset
    from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator
    from hfc_det.evaluation.run import run_views_inference

    json_file, image_root = make_coco_fixture(tmp_path)
    name = resolve_dataset(json_file=json_file, image_root=image_root)

    def model(inputs):  # one box per view, its score telling the views apart
        out = []
        for k, _ in enumerate(inputs):
            inst = Instances((10, 10))
            inst.pred_boxes = Boxes(torch.tensor([[1.0, 1.0, 5.0, 5.0]]))
            inst.scores = torch.tensor([0.5 + 0.1 * k])
            inst.pred_classes = torch.tensor([0])
            out.append({"instances": inst})
        return out

    def loader():
        for image_id in (101, 102, 103):
            yield [{"image_id": image_id, "height": 10, "width": 10, "views": {v: None for v in VIEWS}}]
        raise KeyboardInterrupt

    store = DetectionStore(tmp_path / "out", VIEWS, save_every=100)
    evaluator = FrequencyViewsEvaluator(name, VIEWS, distributed=False, store=store)
    with pytest.raises(KeyboardInterrupt):
        run_views_inference(model, loader(), evaluator, VIEWS, progress=False)
    saved = DetectionStore(tmp_path / "out", VIEWS).load()
    assert sorted(saved["high_r8"]) == [101, 102, 103]
    np.testing.assert_allclose(saved["high_r8"][102], [[1.0, 1.0, 4.0, 4.0, 0.7, 1.0]], rtol=1e-6)
