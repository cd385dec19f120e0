"""per_image_ap (one COCOeval pass) against pycocotools' COCOeval run once per image.

A COCO-like synthetic set: N images (default 300), 80 categories, about 7 ground-truth
boxes per image (some crowd), 100 detections per image (jittered ground truth and
clutter). Times both ways of getting every image's AP@[.50:.95] (the per-image way:
COCOeval with params.imgIds = [id], evaluate + accumulate + summarize, stats[0]), and
per_image_ap with the faster-coco-eval backend (the default) when it is installed; checks
they agree, and writes benchmarks/results/per_image_ap.json (per_image_ap_<N>.json for
another --images). At COCO val's 5000 images, per-image COCOeval takes minutes: with
--reference-images M it is timed on the first M images only (each run sees one image, so
its time per image does not depend on the others) and extrapolated linearly, said so in
the results; the agreement is checked on those M images. (Peak memory: bench_memory.py.)

usage: python benchmarks/bench_per_image_ap.py [--images 300] [--reference-images M] [--repeat 1]
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

from hfc_det.evaluation.evaluator import results_array  # noqa: E402
from hfc_det.metrics.coco_backends import default_backend, per_image_ap  # noqa: E402
from hfc_det.metrics.image_ap import load_results  # noqa: E402


def synthetic_detections(n_images: int, seed: int = 0, detections_per_image: int = 100):
    """A COCO-like set: ``(coco_gt, {image_id: (D, 6) array})``.

    ``n_images`` images of 640 x 360..640 pixels, 80 categories, about 7 ground-truth boxes
    per image (of the first 30 categories, 2% crowd), and ``detections_per_image``
    detections per image in the evaluator's compact layout ``[x, y, w, h, score,
    category_id]``: 30% are ground-truth boxes jittered by 10% (80% with the right class),
    the rest clutter of any class.
    """
    rng = np.random.default_rng(seed)
    cats = np.arange(1, 81)
    images, gts, dets = [], [], {}
    for i in range(1, n_images + 1):
        w, h = 640, int(rng.integers(360, 640))
        images.append({"id": i, "width": w, "height": h, "file_name": f"{i}.jpg"})
        n_gt = int(rng.poisson(7))
        bw, bh = rng.uniform(8, w / 2, n_gt), rng.uniform(8, h / 2, n_gt)
        boxes = np.column_stack([rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh])
        classes = rng.choice(cats[:30], n_gt)
        crowd = rng.random(n_gt) < 0.02
        for b, c, cr in zip(boxes, classes, crowd):
            gts.append({"id": len(gts) + 1, "image_id": i, "category_id": int(c), "bbox": b.tolist(),
                        "area": float(b[2] * b[3]), "iscrowd": int(cr)})
        d = np.empty((detections_per_image, 6))
        dw, dh = rng.uniform(8, w / 3, detections_per_image), rng.uniform(8, h / 3, detections_per_image)
        d[:, :4] = np.column_stack([rng.uniform(0, w - dw), rng.uniform(0, h - dh), dw, dh])
        d[:, 5] = rng.choice(cats, detections_per_image)
        near = np.flatnonzero(rng.random(detections_per_image) < 0.3) if n_gt else np.zeros(0, dtype=int)
        if len(near):
            g = rng.integers(n_gt, size=len(near))
            jitter = rng.normal(0, 0.1, (len(near), 4)) * np.column_stack([boxes[g, 2:], boxes[g, 2:]])
            d[near, :4] = boxes[g] + jitter
            d[near, 2:4] = np.abs(d[near, 2:4])
            d[near, 5] = np.where(rng.random(len(near)) < 0.8, classes[g], rng.choice(cats, len(near)))
        d[:, 4] = rng.random(detections_per_image)
        dets[i] = d
    coco_gt = COCO()
    coco_gt.dataset = {"images": images, "annotations": gts,
                       "categories": [{"id": int(c), "name": str(c)} for c in cats]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
    return coco_gt, dets


def synthetic_set(n_images: int, seed: int = 0):
    """:func:`synthetic_detections` as ``(coco_gt, coco_dt)``."""
    coco_gt, dets = synthetic_detections(n_images, seed)
    return coco_gt, load_results(coco_gt, results_array(dets, sorted(dets)))


def per_image_cocoeval(coco_gt, coco_dt, img_ids=None):
    """``{image_id: stats[0]}`` of COCOeval run once per image (NaN for -1)."""
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for i in coco_gt.getImgIds() if img_ids is None else img_ids:
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
    parser.add_argument("--reference-images", type=int, metavar="M",
                        help="time per-image COCOeval on the first M images and extrapolate (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="timing repeats, best kept (default: %(default)s)")
    args = parser.parse_args()
    if args.images < 1 or args.repeat < 1 or (args.reference_images is not None and args.reference_images < 1):
        sys.exit("error: --images, --reference-images and --repeat must be at least 1")
    coco_gt, coco_dt = synthetic_set(args.images)
    ref_ids = sorted(coco_gt.getImgIds())[: args.reference_images or args.images]
    ours, ref = {}, {}
    t_ours = best_time(lambda: ours.update(per_image_ap(coco_gt, coco_dt, backend="pycocotools")), repeat=args.repeat)
    t_ref_measured = best_time(lambda: ref.update(per_image_cocoeval(coco_gt, coco_dt, ref_ids)), repeat=args.repeat)
    t_ref = t_ref_measured * args.images / len(ref_ids)
    diffs = [abs(ours[i] - ref[i]) for i in ref if not (math.isnan(ref[i]) and math.isnan(ours[i]))]
    extra = {}
    try:
        import faster_coco_eval  # noqa: F401  (the optional C++ backend)
    except ImportError:
        extra["faster_coco_eval"] = "not installed"
    else:
        fast = {}
        t_fast = best_time(lambda: fast.update(per_image_ap(coco_gt, coco_dt, backend="faster-coco-eval")),
                           repeat=args.repeat)
        extra.update({
            "per_image_ap_faster_coco_eval_s": round(t_fast, 3),
            "speedup_faster_coco_eval": round(t_ref / t_fast, 1),
            "max_abs_difference_faster_coco_eval": max(
                (abs(fast[i] - ref[i]) for i in ref if not (math.isnan(ref[i]) and math.isnan(fast[i]))), default=0.0),
        })
    if len(ref_ids) < args.images:
        extra["per_image_cocoeval_note"] = (f"timed on {len(ref_ids)} images ({t_ref_measured:.2f} s), "
                                            f"scaled linearly to {args.images}")
    write_result("per_image_ap" if args.images == 300 else f"per_image_ap_{args.images}", {
        "images": args.images,
        "detections_per_image": 100,
        "default_backend": default_backend(),
        "per_image_cocoeval_s": round(t_ref, 3),
        "per_image_ap_s": round(t_ours, 3),
        "speedup": round(t_ref / t_ours, 1),
        "max_abs_difference": max(diffs) if diffs else 0.0,
        "undefined_images": sum(math.isnan(v) for v in ref.values()),
        **extra,
    })


if __name__ == "__main__":
    main()
