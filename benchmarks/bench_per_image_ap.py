"""per_image_ap (one COCOeval pass) against pycocotools' COCOeval run once per image.

A COCO-like synthetic set: N images (default 300), 80 categories, about 7 ground-truth
boxes per image (some crowd), 100 detections per image (jittered ground truth and
clutter). Times both ways of getting every image's AP@[.50:.95] (the per-image way:
COCOeval with params.imgIds = [id], evaluate + accumulate + summarize, stats[0]), checks
they agree, and writes benchmarks/results/per_image_ap.json.

usage: python benchmarks/bench_per_image_ap.py [--images 300] [--repeat 1]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import best_time, write_result  # noqa: E402

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

from hfc_det.evaluation.per_image_ap import load_results, per_image_ap  # noqa: E402


def synthetic_set(n_images: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    cats = list(range(1, 81))
    images, gts, dts = [], [], []
    for i in range(1, n_images + 1):
        w, h = 640, int(rng.integers(360, 640))
        images.append({"id": i, "width": w, "height": h, "file_name": f"{i}.jpg"})
        img_gts = []
        for _ in range(int(rng.poisson(7))):
            bw, bh = rng.uniform(8, w / 2), rng.uniform(8, h / 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            g = {"id": len(gts) + 1, "image_id": i, "category_id": int(rng.choice(cats[:30])),
                 "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": int(rng.random() < 0.02)}
            gts.append(g)
            img_gts.append(g)
        for _ in range(100):
            if img_gts and rng.random() < 0.3:
                g = img_gts[int(rng.integers(len(img_gts)))]
                x, y, bw, bh = np.asarray(g["bbox"]) + rng.normal(0, 0.1, 4) * np.r_[g["bbox"][2:], g["bbox"][2:]]
                cat = g["category_id"] if rng.random() < 0.8 else int(rng.choice(cats))
            else:
                bw, bh = rng.uniform(8, w / 3), rng.uniform(8, h / 3)
                x, y, cat = rng.uniform(0, w - bw), rng.uniform(0, h - bh), int(rng.choice(cats))
            dts.append({"image_id": i, "category_id": cat, "bbox": [float(x), float(y), float(abs(bw)), float(abs(bh))],
                        "score": float(rng.random())})
    coco_gt = COCO()
    coco_gt.dataset = {"images": images, "annotations": gts,
                       "categories": [{"id": c, "name": str(c)} for c in cats]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
    return coco_gt, load_results(coco_gt, dts)


def per_image_cocoeval(coco_gt, coco_dt):
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for i in coco_gt.getImgIds():
            e = COCOeval(coco_gt, coco_dt, "bbox")
            e.params.imgIds = [i]
            e.evaluate()
            e.accumulate()
            e.summarize()
            out[i] = float("nan") if e.stats[0] == -1 else float(e.stats[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300, help="number of images (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="timing repeats, best kept (default: %(default)s)")
    args = parser.parse_args()
    if args.images < 1 or args.repeat < 1:
        sys.exit("error: --images and --repeat must be at least 1")
    coco_gt, coco_dt = synthetic_set(args.images)
    ours, ref = {}, {}
    t_ours = best_time(lambda: ours.update(per_image_ap(coco_gt, coco_dt)), repeat=args.repeat)
    t_ref = best_time(lambda: ref.update(per_image_cocoeval(coco_gt, coco_dt)), repeat=args.repeat)
    diffs = [abs(ours[i] - ref[i]) for i in ref if not (math.isnan(ref[i]) and math.isnan(ours[i]))]
    write_result("per_image_ap", {
        "images": args.images,
        "detections_per_image": 100,
        "per_image_cocoeval_s": round(t_ref, 3),
        "per_image_ap_s": round(t_ours, 3),
        "speedup": round(t_ref / t_ours, 1),
        "max_abs_difference": max(diffs) if diffs else 0.0,
        "undefined_images": sum(math.isnan(v) for v in ref.values()),
    })


if __name__ == "__main__":
    main()
