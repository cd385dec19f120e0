#!/usr/bin/env python
"""How long the visual report of a COCO-val-sized output folder takes to build.

Makes (once, cached) a synthetic eval_lfc.py output folder with N 640x480 JPEG images,
COCO ground truth, D detections per image and view, and a per-image AP table; then times
``build_report`` from scratch (thumbnails included) and prints the machine it ran on.
Writes benchmarks/results/bench_report.json.

    python benchmarks/bench_report.py                 # 5000 images, the issue's target (< 60 s)
    python benchmarks/bench_report.py --images 500    # quicker look
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine_info  # noqa: E402
from hfc_det.utils.atomic import write_json_atomic  # noqa: E402
from hfc_det.visualization.parallel import available_cpus, parallel_map  # noqa: E402

H, W = 480, 640
VIEWS = ["original", "low_r128", "high_r128"]


def _write_image(job):
    """Gradient plus a few coloured rectangles: JPEG-like content, cheap to make."""
    from PIL import Image

    path, seed = job
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    img = np.stack([(xx * 0.3 + seed) % 256, (yy * 0.4) % 256, np.full_like(xx, seed % 200)], -1).astype(np.uint8)
    boxes = []
    for _ in range(int(rng.integers(1, 8))):
        w, h = int(rng.integers(20, 200)), int(rng.integers(20, 200))
        x, y = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
        img[y: y + h, x: x + w] = rng.integers(0, 256, 3)
        boxes.append([x, y, w, h])
    Image.fromarray(img).save(path, quality=90)
    return boxes


def make_folder(root: Path, n: int, dets_per_image: int, workers: int) -> Path:
    """The synthetic output folder under ``root`` (reused when its marker says it is complete)."""
    marker = root / f"complete_{n}_{dets_per_image}"
    out = root / "eval"
    if marker.is_file():
        return out
    shutil.rmtree(root, ignore_errors=True)
    (root / "images").mkdir(parents=True)
    (out / "detections").mkdir(parents=True)
    names = [f"{i:012d}.jpg" for i in range(1, n + 1)]
    all_boxes = parallel_map(_write_image, [(str(root / "images" / f), i) for i, f in enumerate(names, 1)],
                             workers, "synthetic images", True)
    rng = np.random.default_rng(0)
    cats = [{"id": c, "name": f"class{c}"} for c in range(1, 81)]
    images, anns = [], []
    for image_id, (name, boxes) in enumerate(zip(names, all_boxes), 1):
        images.append({"id": image_id, "file_name": name, "height": H, "width": W})
        for b in boxes:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": int(rng.integers(1, 81)),
                         "bbox": b, "area": b[2] * b[3], "iscrowd": 0})
    (root / "gt.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    for view in VIEWS:
        dets = []
        for image_id in range(1, n + 1):
            xy = rng.uniform(0, 400, (dets_per_image, 2)).round(1)
            wh = rng.uniform(10, 200, (dets_per_image, 2)).round(1)
            # Like a detector's output: most of its 100 boxes score low, a few above 0.5.
            scores = (0.05 + 0.95 * rng.uniform(0, 1, dets_per_image) ** 8).round(4)
            cats_ = rng.integers(1, 81, dets_per_image)
            dets += [{"image_id": image_id, "category_id": int(c), "bbox": [*p, *s], "score": float(sc)}
                     for p, s, sc, c in zip(xy.tolist(), wh.tolist(), scores, cats_)]
        (out / "detections" / f"{view}.json").write_text(json.dumps(dets))
    ap = {v: rng.uniform(0, 1, n).round(4) for v in VIEWS}
    ap["low_r128"] = np.clip(ap["original"] + rng.normal(0, 0.15, n), 0, 1).round(4)
    ap["original"][rng.random(n) < 0.01] = np.nan
    with open(out / "per_image_ap.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "file_name"] + [f"ap_{v}" for v in VIEWS])
        for i in range(n):
            w.writerow([i + 1, names[i]] + ["" if np.isnan(ap[v][i]) else ap[v][i] for v in VIEWS])
    summary = {"variants": {v: {"AP": float(np.nanmean(ap[v]) * 100)} for v in VIEWS},
               "dataset": {"name": "synthetic", "json_file": str(root / "gt.json"), "image_root": str(root / "images")},
               "radii": [128], "views": VIEWS}
    (out / "summary.json").write_text(json.dumps(summary))
    marker.touch()
    return out


def machine() -> dict:
    """The shared machine record, plus what a parallel report build depends on."""
    return {**machine_info(), "cpus_available": available_cpus(), "platform": platform.platform(),
            "load_average_at_start": list(os.getloadavg())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--images", type=int, default=5000, help="images in the synthetic folder")
    p.add_argument("--dets-per-image", type=int, default=100, help="detections per image and view (RetinaNet keeps 100)")
    p.add_argument("--top", type=int, default=8, help="gallery size (K gains + K losses)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: available CPUs)")
    p.add_argument("--data-dir", default="/tmp/hfc_det_bench_report", help="cache for the synthetic folder")
    p.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "bench_report.json"))
    args = p.parse_args(argv)
    if args.images < 2 or args.dets_per_image < 0:
        sys.exit("error: --images must be >= 2 and --dets-per-image >= 0")
    workers = args.workers or available_cpus()
    info = machine()
    print(f"machine: {info['cpu']}, {info['cpus_available']} CPUs available, load {info['load_average_at_start']}")

    t0 = time.perf_counter()
    out = make_folder(Path(args.data_dir), args.images, args.dets_per_image, workers)
    t_data = time.perf_counter() - t0

    from hfc_det.visualization.report import build_report
    from hfc_det.metrics.results import load_results_folder

    report_dir = out / "report"
    shutil.rmtree(report_dir, ignore_errors=True)  # from scratch: no thumbnail is reused
    t0 = time.perf_counter()
    results = load_results_folder(out)
    report = build_report(results, report_dir, top_k=args.top, workers=workers, progress=True)
    t_report = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_report(load_results_folder(out), report_dir, top_k=args.top, workers=workers, progress=False)
    t_rerun = time.perf_counter() - t0

    html_mb = (report_dir / "index.html").stat().st_size / 2**20
    thumbs_mb = sum(f.stat().st_size for f in (report_dir / "thumbs").iterdir()) / 2**20
    result = {
        "benchmark": "bench_report", "machine": info, "workers": workers, "images": args.images,
        "dets_per_image": args.dets_per_image, "top_k": args.top,
        "seconds_build_report_from_scratch": round(t_report, 2),
        "seconds_rerun_thumbnails_reused": round(t_rerun, 2),
        "seconds_making_synthetic_data": round(t_data, 2),
        "stage_seconds_from_scratch": report["timings_s"],
        "thumbnails": report["thumbnails"], "gallery_panels": len(report["galleries"]["gain"]) + len(report["galleries"]["loss"]),
        "index_html_mib": round(html_mb, 2), "thumbs_mib": round(thumbs_mb, 2),
        "target_seconds": 60, "meets_target": t_report < 60,
    }
    write_json_atomic(args.output, result)
    print("stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report["timings_s"].items()))
    print(f"report for {args.images} images: {t_report:.1f} s from scratch, {t_rerun:.1f} s re-run "
          f"(thumbnails reused); index.html {html_mb:.1f} MiB, thumbs {thumbs_mb:.1f} MiB -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
