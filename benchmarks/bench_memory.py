#!/usr/bin/env python
"""Peak memory and time of the per-image AP pass at COCO val scale.

The synthetic set of bench_per_image_ap.py at 5000 images (COCO-sized: 640 x 360..640,
80 categories, ~7 ground-truth boxes and 100 detections per image, so 500k detections),
the detections held as the evaluator holds them (one (100, 6) float64 array per image).
Each step runs in a fresh process and reports that process's peak RSS (getrusage
ru_maxrss), so the steps' peaks do not mix:

- ``data``: the ground truth and the detection arrays alone (the floor of every step);
- ``per_image_ap``: loadRes from the (N, 7) array + ``per_image_ap`` (one COCOeval
  evaluate() over the area "all", per-image accumulate replayed);
- ``per_image_ap_faster_coco_eval``: the same with ``backend="faster-coco-eval"`` (if installed);
- ``view_pycocotools``: what the evaluator does per view: one full COCOeval (4 areas,
  evaluate + accumulate + summarize) for the overall metrics and the per-image AP;
- ``view_faster_coco_eval``: the same with ``--coco-backend faster-coco-eval`` (if installed).

The two view steps also time what the evaluator adds per view after its COCOeval: the
strict per-image AP and the paired statistics under both measures (10 000 bootstrap
resamples each), reported as a fraction of the COCOeval step (the target: at most 20 %).

Per-image COCOeval (COCOeval with params.imgIds = [id], once per image) is far too slow
for 5000 images on a small CPU: it is timed on the first --subset images and extrapolated
linearly to all of them (said so in the results). Writes benchmarks/results/memory.json.

usage: python benchmarks/bench_memory.py [--images 5000] [--subset 200]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import write_result  # noqa: E402

STEPS = ("data", "per_image_ap", "per_image_ap_faster_coco_eval", "view_pycocotools", "view_faster_coco_eval",
         "per_image_cocoeval")
NEEDS_FASTER_COCO_EVAL = ("per_image_ap_faster_coco_eval", "view_faster_coco_eval")
LIMIT_GB = 4.0


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: KiB


def _rss_gb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9
    except OSError:  # not Linux: the peak so far is the best there is
        return _peak_rss_gb()


def run_step(step: str, images: int, subset: int) -> dict:
    """One step in this process; returns its seconds, peak RSS and a checksum of its APs."""
    from bench_per_image_ap import per_image_cocoeval, synthetic_detections

    from hfc_det.metrics.coco_backends import evaluate_boxes
    from hfc_det.evaluation.evaluator import results_array
    from hfc_det.metrics.coco_backends import per_image_ap
    from hfc_det.metrics.image_ap import load_results

    imports_gb = _rss_gb()  # python + torch + detectron2: there before any detection
    coco_gt, dets = synthetic_detections(images)
    ids = sorted(dets)
    data_gb = _peak_rss_gb()
    t0 = time.perf_counter()
    if step == "data":
        aps = {}
    elif step in ("per_image_ap", "per_image_ap_faster_coco_eval"):
        backend = "pycocotools" if step == "per_image_ap" else "faster-coco-eval"
        aps = per_image_ap(coco_gt, load_results(coco_gt, results_array(dets, ids)), backend=backend)
    elif step in ("view_pycocotools", "view_faster_coco_eval"):
        backend = "pycocotools" if step == "view_pycocotools" else "faster-coco-eval"
        results = results_array(dets, ids)
        coco_dt = load_results(coco_gt, results)
        _, aps = evaluate_boxes(coco_gt, coco_dt, ids, backend=backend)
        extra = _strict_and_paired(coco_gt, results, aps)
    elif step == "per_image_cocoeval":
        part = ids[:subset]  # COCOeval's per-image cost does not depend on the other images
        coco_dt = load_results(coco_gt, results_array(dets, part))
        aps = per_image_cocoeval(coco_gt, coco_dt, part)
    else:
        raise ValueError(step)
    seconds = time.perf_counter() - t0
    defined = [v for v in aps.values() if not math.isnan(v)]
    row = {"step": step, "seconds": round(seconds, 2), "peak_rss_gb": round(_peak_rss_gb(), 3),
           "imports_rss_gb": round(imports_gb, 3), "data_rss_gb": round(data_gb, 3), "images_evaluated": len(aps),
           "mean_ap": round(sum(defined) / len(defined), 12) if defined else None}
    if step.startswith("view_"):
        row["seconds"] = round(seconds - extra, 2)  # the COCOeval step alone, as before
        row["strict_and_paired_s"] = round(extra, 2)
        row["strict_and_paired_fraction"] = round(extra / (seconds - extra), 3)
    return row


def _strict_and_paired(coco_gt, results, aps) -> float:
    """Seconds of what the evaluator adds to a view after its COCOeval: the strict per-image
    AP and the paired statistics under both measures (against a stand-in original: the same
    APs shifted by one image, which costs the same as any other original)."""
    import numpy as np

    from hfc_det.metrics.paired_stats import paired_statistics
    from hfc_det.metrics.strict_ap import strict_per_image_ap

    t0 = time.perf_counter()
    strict = strict_per_image_ap(aps, coco_gt, results)
    for per_image in (aps, strict):
        view = np.array(list(per_image.values()))
        paired_statistics(view, np.roll(view, 1))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="images in the set (default: %(default)s)")
    parser.add_argument("--subset", type=int, default=200,
                        help="images for the per-image COCOeval timing, extrapolated (default: %(default)s)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # internal: one step, JSON out
    args = parser.parse_args()
    if args.images < 1 or args.subset < 1:
        sys.exit("error: --images and --subset must be at least 1")
    if args.step:
        print(json.dumps(run_step(args.step, args.images, min(args.subset, args.images))))
        return
    try:
        import faster_coco_eval  # noqa: F401
        steps = STEPS
    except ImportError:
        steps = tuple(s for s in STEPS if s not in NEEDS_FASTER_COCO_EVAL)
    rows = []
    for step in steps:
        print(f"== {step}", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--step", step, "--images", str(args.images),
                               "--subset", str(args.subset)], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: step {step} failed: {proc.stderr.strip().splitlines()[-1:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    by = {r["step"]: r for r in rows}
    subset = by["per_image_cocoeval"]
    per_image_all_s = subset["seconds"] * args.images / subset["images_evaluated"]
    result = {
        "images": args.images,
        "detections_per_image": 100,
        "categories": 80,
        "rows": rows,
        "limit_gb": LIMIT_GB,
        "per_image_ap_within_limit": by["per_image_ap"]["peak_rss_gb"] <= LIMIT_GB,
        "evaluator_view_within_limit": by["view_pycocotools"]["peak_rss_gb"] <= LIMIT_GB,
        "per_image_cocoeval_s_extrapolated": round(per_image_all_s, 1),
        "per_image_cocoeval_note": f"timed on {subset['images_evaluated']} images, scaled linearly to {args.images}",
        "speedup_per_image_ap_vs_per_image_cocoeval": round(per_image_all_s / by["per_image_ap"]["seconds"], 1),
    }
    if "view_faster_coco_eval" in by:
        fce, pyc = by["view_faster_coco_eval"], by["view_pycocotools"]
        result["faster_coco_eval_speedup_per_view"] = round(pyc["seconds"] / fce["seconds"], 1)
        fast = by["per_image_ap_faster_coco_eval"]
        result["faster_coco_eval_speedup_per_image_ap"] = round(by["per_image_ap"]["seconds"] / fast["seconds"], 1)
        result["speedup_per_image_ap_faster_coco_eval_vs_per_image_cocoeval"] = round(per_image_all_s / fast["seconds"], 1)
        # faster-coco-eval is the default backend; the target for it at 5000 images
        result["target_speedup_default_backend"] = 25
        result["meets_target"] = per_image_all_s / fast["seconds"] >= 25
        result["faster_coco_eval_same_mean_ap"] = fce["mean_ap"] == pyc["mean_ap"] == fast["mean_ap"]
    views = [r for r in rows if r["step"].startswith("view_")]
    result["strict_and_paired_target_fraction"] = 0.2
    result["strict_and_paired_within_target"] = all(r["strict_and_paired_fraction"] <= 0.2 for r in views)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result("memory", result)


if __name__ == "__main__":
    main()
