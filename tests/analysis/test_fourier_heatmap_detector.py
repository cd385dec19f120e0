"""The detector's Fourier heat map through tools/eval_lfc.py: each cell's number against
pycocotools on that cell's detections, and the cell's images against a numpy construction."""
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from helpers.coco_fixture import make_coco_fixture
from helpers.eval_runs import ENV, FAST

ROOT = Path(__file__).resolve().parents[2]


def cocoeval_ap(coco_gt, dets, img_ids):
    if not dets:
        return math.nan
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        e.params.imgIds = img_ids
        e.evaluate(), e.accumulate(), e.summarize()
    return e.stats[0]


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    root = tmp_path_factory.mktemp("det_heat")
    json_file, image_root = make_coco_fixture(root)
    out = root / "heat"
    cmd = [sys.executable, str(ROOT / "tools" / "fourier_heatmap.py"), "--config", "retinanet_R50_FPN",
           "--grid", "1", "--eps", "3000", "--max-images", "3", "--output", str(out), "--no-progress",
           "--dataset-json", json_file, "--image-root", image_root, *FAST]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json_file, image_root, proc


def test_cells_are_100_minus_the_ap_of_their_detections(heat):
    out, json_file, _, proc = heat
    assert "5 cells" in proc.stdout
    record = json.loads((out / "heatmap.json").read_text())
    heat_map = np.load(out / "heatmap.npy")
    assert heat_map.shape == (3, 3) and record["metric"] == "100 - AP" and record["images"] == 3
    np.testing.assert_array_equal(heat_map, heat_map[::-1, ::-1])
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(json_file)
    ids = sorted(coco_gt.imgs)[:3]
    clean = cocoeval_ap(coco_gt, json.loads((out / "eval" / "detections" / "original.json").read_text()), ids)
    for cell in record["cells"]:
        name = f"fourier_u{cell['u']}_v{cell['v']}_e3000"
        dets = json.loads((out / "eval" / "detections" / f"{name}.json").read_text())
        ap = cocoeval_ap(coco_gt, dets, ids)
        if math.isnan(ap) or ap < 0:
            assert cell["AP"] is None or math.isnan(cell["AP"])
        else:
            assert cell["100 - AP"] == pytest.approx(100 - 100 * ap, abs=1e-9)
        assert heat_map[cell["u"] + 1, cell["v"] + 1] == pytest.approx(cell["100 - AP"], nan_ok=True)
    if not (math.isnan(clean) or clean < 0):
        assert record["clean_AP"] == pytest.approx(100 * clean, abs=1e-9)


def test_cell_images_match_a_numpy_construction(heat):
    # The mapper's view for a cell, built from the decoded image, against the definition:
    # the image plus eps * sign * normalised cosine, per channel, clipped to [0, 255].
    import hfc_det.compat  # noqa: F401
    from detectron2.data import DatasetCatalog

    from hfc_det.config import get_cfg
    from hfc_det.data import FrequencyDatasetMapper, resolve_dataset

    out, json_file, image_root, _ = heat
    name = resolve_dataset(json_file=json_file, image_root=image_root)
    d = DatasetCatalog.get(name)[0]
    opts = [*FAST[:4], "INPUT.MIN_SIZE_TEST", "0", "HFC.VIEWS", "['original', 'fourier_u1_v-1_e3000']"]
    mapped = FrequencyDatasetMapper(get_cfg("retinanet_R50_FPN", opts))(d)
    x = mapped["views"]["original"].numpy().astype(np.float64)
    c, h, w = x.shape
    i, j = np.ogrid[:h, :w]
    basis = np.cos(2 * np.pi * (1 * i / h - 1 * j / w))
    basis /= np.linalg.norm(basis)
    rng = np.random.default_rng([0, zlib.crc32(x.astype(np.float32).tobytes())])
    signs = rng.integers(0, 2, size=c) * 2 - 1
    want = np.clip(x + 3000 * signs[:, None, None] * basis, 0, 255)
    np.testing.assert_allclose(mapped["views"]["fourier_u1_v-1_e3000"].numpy(), want, atol=1e-3)
    assert os.path.isfile(out / "heatmap.png")


def test_detector_bad_input(tmp_path):
    cmd = [sys.executable, str(ROOT / "tools" / "fourier_heatmap.py"), "--config", "retinanet_R50_FPN",
           "--grid", "0", "--output", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV)
    assert proc.returncode != 0 and proc.stderr.strip() == "error: --grid must be an integer >= 1 (frequencies -K..K), got 0"
