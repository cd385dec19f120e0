"""Independent references for per-image AP tests: COCO scenes drawn by hypothesis, pycocotools
run one image at a time, and the strict measure computed one (image, category) at a time."""
import contextlib
import io
import math

import numpy as np
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

CATEGORY_IDS = [1, 5, 9]  # non-contiguous, as COCO's own
coord = st.integers(0, 80)
size = st.integers(1, 40)
box = st.tuples(coord, coord, size, size)


def make_gt(images, annotations):
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i, "width": 100, "height": 100, "file_name": f"{i}.jpg"} for i in images],
        "categories": [{"id": c, "name": f"c{c}"} for c in CATEGORY_IDS],
        "annotations": annotations,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def reference_ap(coco_gt, coco_dt, image_id):
    """What a user would do: COCOeval restricted to one image, stats[0]; -1 -> NaN."""
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.params.imgIds = [image_id]
        e.evaluate()
        e.accumulate()
        e.summarize()
    return float("nan") if e.stats[0] == -1 else float(e.stats[0])


def assert_same(got, want):
    assert set(got) == set(want)
    for i in want:
        if math.isnan(want[i]):
            assert math.isnan(got[i]), (i, got[i], want[i])
        else:
            assert abs(got[i] - want[i]) <= 1e-9, (i, got[i], want[i])


@st.composite
def scenes(draw):
    n_images = draw(st.integers(1, 5))
    images = list(range(10, 10 + n_images))
    gts, dts = [], []
    for img in images:
        for _ in range(draw(st.integers(0, 4))):  # 0: an image without ground truth
            x, y, w, h = draw(box)
            gts.append({
                "id": len(gts) + 1, "image_id": img, "category_id": draw(st.sampled_from(CATEGORY_IDS)),
                "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(draw(st.integers(0, 5)) == 0),
            })
        for _ in range(draw(st.integers(0, 6))):  # 0: an image without detections
            # detections near a ground-truth box (to get matches at several IoUs) or anywhere
            if gts and draw(st.booleans()):
                g = draw(st.sampled_from(gts))
                dx, dy, dw, dh = draw(st.tuples(*[st.integers(-6, 6)] * 4))
                b = [g["bbox"][0] + dx, g["bbox"][1] + dy, max(1, g["bbox"][2] + dw), max(1, g["bbox"][3] + dh)]
                cat = g["category_id"] if draw(st.integers(0, 3)) else draw(st.sampled_from(CATEGORY_IDS))
            else:
                b, cat = list(draw(box)), draw(st.sampled_from(CATEGORY_IDS))
            # few distinct scores, so ties (and the stable sort) matter
            dts.append({"image_id": img, "category_id": cat, "bbox": b,
                        "score": draw(st.sampled_from([0.9, 0.5, 0.5, 0.3, 0.05]))})
    return images, gts, dts


def _as_array(dts):
    """COCO result dicts -> loadRes's numpy layout [image_id, x, y, w, h, score, category_id]."""
    return np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dts], dtype=np.float64).reshape(-1, 7)


def reference_strict(coco_gt, coco_dt, image_id, score_thresh):
    """The definition, one (image, category) at a time: a category's own AP where COCOeval
    defines it; 0 for a category with no annotation at all in the image (crowd included)
    but a detection scoring >= T; the mean of those; NaN when there is none."""
    values = []
    # a category with neither ground truth nor detections in the image adds nothing either way
    present = {a["category_id"] for a in coco_gt.imgToAnns.get(image_id, [])}
    present |= {d["category_id"] for d in coco_dt.imgToAnns.get(image_id, [])}
    for c in sorted(present):
        ap = category_ap(coco_gt, coco_dt, image_id, c)
        if ap is not None:
            values.append(ap)
            continue
        annotated = coco_gt.getAnnIds(imgIds=[image_id], catIds=[c], iscrowd=None)
        scores = [d["score"] for d in coco_dt.loadAnns(coco_dt.getAnnIds(imgIds=[image_id], catIds=[c]))]
        if not annotated and any(s >= score_thresh for s in scores):
            values.append(0.0)
    return float(np.mean(values)) if values else math.nan


def category_ap(coco_gt, coco_dt, image_id, category_id):
    """COCOeval restricted to one image and one category: stats[0], or None where -1."""
    with contextlib.redirect_stdout(io.StringIO()):
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.params.imgIds = [image_id]
        e.params.catIds = [category_id]
        e.evaluate()
        e.accumulate()
        e.summarize()
    return None if e.stats[0] == -1 else float(e.stats[0])
