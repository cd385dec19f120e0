"""--images-per-batch N: the views of N same-size images through the model together give the
detections and per-image AP of one image at a time; the grouping itself; the CPU refusals."""
import contextlib
import io
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from helpers.coco_fixture import make_coco_fixture
from hfc_det.config import get_cfg, images_per_batch, views_from_cfg
from hfc_det.data import resolve_dataset
from hfc_det.evaluation.batching import SameSizeBatcher, padded_size
from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator, evaluate_detections
from hfc_det.evaluation.run import build_eval_model, build_views_loader, run_views_inference

# Small inputs so that several fixture images share a padded size; a low score threshold so
# that the random-init model gives many detections to compare.
OPTS = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "100",
        "DATALOADER.NUM_WORKERS", "0", "HFC.RADII", "[8]", "MODEL.RETINANET.SCORE_THRESH_TEST", "0.02"]


class Recording:
    """The model, counting the images of each call."""

    def __init__(self, model):
        self.model, self.backbone, self.device, self.calls = model, model.backbone, model.device, []

    def __call__(self, inputs):
        self.calls.append([tuple(x["image"].shape[-2:]) for x in inputs])
        return self.model(inputs)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    json_file, image_root = make_coco_fixture(tmp_path_factory.mktemp("batched"))
    name = resolve_dataset(json_file=json_file, image_root=image_root)
    cfg = get_cfg("retinanet_R50_FPN", OPTS)
    views = views_from_cfg(cfg)
    model = build_eval_model(cfg)
    out = {}
    for n in (1, 4):
        recording = Recording(model)
        evaluator = FrequencyViewsEvaluator(name, views, distributed=False)
        torch.set_num_threads(2)
        run_views_inference(recording, build_views_loader(cfg, name), evaluator, views, progress=False,
                            images_per_batch=n)
        out[n] = (evaluator.result, recording.calls)
    return views, out


def test_batched_gives_the_detections_and_per_image_ap_of_one_image_at_a_time(runs):
    views, out = runs
    (one, calls_one), (four, calls_four) = out[1], out[4]
    assert all(len(c) == len(views) for c in calls_one)
    assert max(len(c) for c in calls_four) > len(views), "no call held several images: nothing was tested"
    assert all(len({padded_size(h, w, 32) for h, w in c}) == 1 for c in calls_four)  # one padded size per call
    assert any(len(set(c)) > 1 for c in calls_four)  # and images of different sizes did share one
    assert sorted(one.image_ids) == sorted(four.image_ids)
    n_dets = 0
    for v in views:
        for i in one.image_ids:
            a, b = one.detections[v][i], four.detections[v][i]
            assert a.shape == b.shape, (v, i)
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-3)  # boxes in pixels, scores
            n_dets += len(a)
        for i, ap in one.per_image_ap[v].items():
            got = four.per_image_ap[v][i]
            assert (math.isnan(ap) and math.isnan(got)) or abs(got - ap) <= 1e-9, (v, i, got, ap)
        assert four.metrics[v] == pytest.approx(one.metrics[v], abs=1e-9, nan_ok=True)
    assert n_dets > 100
    # The fixture's ground truth is out of a random model's reach (every AP is 0): score both
    # runs against boxes near the N = 1 run's own best detections, where AP varies.
    gt = _ground_truth_near(one.detections["original"])
    a = evaluate_detections(gt, one.detections, one.image_ids, backend="pycocotools")
    b = evaluate_detections(gt, four.detections, four.image_ids, backend="pycocotools")
    aps = [ap for v in views for ap in a.per_image_ap[v].values()]
    assert any(0 < ap < 1 for ap in aps), aps
    for v in views:
        assert b.per_image_ap[v] == pytest.approx(a.per_image_ap[v], abs=1e-9, nan_ok=True)


def _ground_truth_near(detections):
    """A COCO ground truth: each image's 3 best detections, shifted by 1-3 px."""
    images, anns = [], []
    for i, d in detections.items():
        images.append({"id": int(i), "width": 200, "height": 200})
        for k, row in enumerate(d[np.argsort(-d[:, 4], kind="stable")[:3]]):
            x, y, w, h = row[:4] + (k + 1)
            anns.append({"id": len(anns) + 1, "image_id": int(i), "category_id": int(row[5]),
                         "bbox": [float(x), float(y), float(w), float(h)], "area": float(w * h), "iscrowd": 0})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns,
                    "categories": [{"id": c, "name": str(c)} for c in sorted({a["category_id"] for a in anns})]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def test_same_size_batcher_groups_bounds_and_keeps_every_item():
    rng = np.random.default_rng(0)
    items = [(k, int(rng.integers(0, 5))) for k in range(200)]
    batcher = SameSizeBatcher(4, key=lambda it: it[1], max_pending=10)
    out = []
    for it in items:
        out += batcher.add(it)
        assert batcher._pending <= 10
    out += batcher.flush()
    assert sorted(it for b in out for it in b) == items  # each exactly once
    assert all(1 <= len(b) <= 4 and len({it[1] for it in b}) == 1 for b in out)
    assert sum(len(b) == 4 for b in out) >= 40
    with pytest.raises(ValueError, match="batch_size"):
        SameSizeBatcher(0, key=lambda it: it)


def test_padded_size_is_imagelist_padding():
    from detectron2.structures import ImageList

    for h, w, d in [(800, 1067, 32), (64, 96, 32), (65, 97, 32), (50, 70, 0), (50, 70, 1)]:
        want = tuple(ImageList.from_tensors([torch.zeros(3, h, w)], size_divisibility=d).tensor.shape[-2:])
        assert padded_size(h, w, d) == want


def test_images_per_batch_by_device_and_refusals():
    assert images_per_batch(get_cfg("retinanet_R50_FPN", ["MODEL.DEVICE", "cpu"])) == 1
    assert images_per_batch(get_cfg("retinanet_R50_FPN", ["MODEL.DEVICE", "cuda:1"])) == 4
    assert images_per_batch(get_cfg("retinanet_R50_FPN", ["MODEL.DEVICE", "cpu", "HFC.IMAGES_PER_BATCH", 3])) == 3
    with pytest.raises(ValueError, match="IMAGES_PER_BATCH"):
        get_cfg("retinanet_R50_FPN", ["HFC.IMAGES_PER_BATCH", -1])
    with pytest.raises(ValueError, match="CUDA only; MODEL.DEVICE is cpu"):
        get_cfg("retinanet_R50_FPN", ["MODEL.DEVICE", "cpu", "HFC.AMP", True])
