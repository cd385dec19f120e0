#!/usr/bin/env python
"""COCO-C corruption views: milliseconds per 640x480 image for every corruption and severity,
ours against the library's direct call, and the whole benchmark's data cost per image.

For each (corruption, severity), best of --repeat calls, interleaved in a rotating order (a fixed
order costs the second call ~10% on this machine), on one 640x480 photo:
  - library_ms: ``imagecorruptions.corrupt(image, corruption_name=..., severity=...)`` (uint8 RGB in
    and out) after ``np.random.seed(seed)``, with ``seed=seed`` for glass_blur and impulse_noise: the
    same seed, so the same work (frost picks one of six frost pictures, of different sizes and
    formats, at random: unseeded calls would time different pictures);
  - ours_ms: :func:`hfc_det.views.corruptions.corrupt_image`, the same call with the seeding
    (global generator seeded and restored, the seed keyword) that makes it repeat;
    ratio = ours_ms / library_ms (target <= 1.1);
  - tensor_ms: what the detection mapper calls (:func:`~hfc_det.views.corruptions.corrupt_decoded`
    on the BGR image: ours plus the channel flips and the float32 CHW tensor, a conversion every
    view pays, the original included).
wrapper_overhead_us: what corrupt_image adds to a seeded library call, timed alone (mean of 2000
calls: the checks, the SHA-256 seed, seeding and restoring numpy's generator), which bounds
the ratio without the load's noise: (library_ms + overhead) / library_ms. The eight corruptions
that draw no random number (pixelate, jpeg_compression, contrast, ...) skip it.
The data cost per image is the sum of tensor_ms over the 75 benchmark views (15 corruptions x 5
severities) and over all 95: one process's CPU time to make every view of one image.

Writes benchmarks/results/corruptions_cpu.json (with the load average at the start and end:
the machine may be shared).
  python benchmarks/bench_corruptions.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from common import write_result  # noqa: E402
from hfc_det.views.corruptions import (  # noqa: E402
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    CORRUPTION_LIBRARY,
    DETERMINISTIC_CORRUPTIONS,
    SEVERITIES,
    check_corruption,
    check_severity,
    corrupt_decoded,
    corrupt_image,
    corruption_seed,
    corruption_view_name,
    seeded_global_rng,
)

WIDTH, HEIGHT = 640, 480
#: The corruptions corrupt_image seeds (the others draw no random number).
SEEDED = [c for c in ALL_CORRUPTIONS if c not in DETERMINISTIC_CORRUPTIONS]


def photo() -> np.ndarray:
    """A real photo (scikit-image's coffee, 600x400) resized to 640x480, uint8 RGB."""
    from PIL import Image
    from skimage.data import coffee

    return np.asarray(Image.fromarray(coffee()).resize((WIDTH, HEIGHT), Image.BICUBIC))


def wrapper_overhead_us(n: int = 2000) -> float:
    """Mean microseconds of corrupt_image's own work around the library call."""
    t0 = time.perf_counter()
    for k in range(n):
        check_corruption("fog")
        check_severity(3)
        with seeded_global_rng(corruption_seed(k, "corrupt_fog_s3")):
            pass
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3, help="calls per measurement; the best is kept (default 3)")
    args = p.parse_args()
    from imagecorruptions import corrupt

    load_start = [round(x, 1) for x in os.getloadavg()]
    rgb = photo()
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    corrupt_image(rgb, "glass_blur", 1, 0)  # numba compiles glass_blur's shuffle on first use
    rows = []
    for corruption in ALL_CORRUPTIONS:
        for severity in SEVERITIES:
            seed = corruption_seed(1, corruption_view_name(corruption, severity))
            kwargs = {"seed": seed} if corruption in ("glass_blur", "impulse_noise") else {}

            def library():
                np.random.seed(seed)
                return corrupt(rgb, corruption_name=corruption, severity=severity, **kwargs)

            calls = {
                "library_ms": library,
                "ours_ms": lambda: corrupt_image(rgb, corruption, severity, seed),
                "tensor_ms": lambda: corrupt_decoded(bgr, [(corruption, severity)], 1, "BGR"),
            }
            best = dict.fromkeys(calls, float("inf"))
            keys = list(calls)
            for r in range(args.repeat):  # interleaved, the order rotated: a fixed order favours one
                for key in keys[r % 3:] + keys[:r % 3]:
                    fn = calls[key]
                    t0 = time.perf_counter()
                    fn()
                    best[key] = min(best[key], (time.perf_counter() - t0) * 1000)
            rows.append({"corruption": corruption, "severity": severity,
                         **{k: round(v, 2) for k, v in best.items()},
                         "ratio": round(best["ours_ms"] / best["library_ms"], 3),
                         "tensor_ratio": round(best["tensor_ms"] / best["library_ms"], 3)})
            print(rows[-1], flush=True)
    overhead_us = wrapper_overhead_us()
    bench_ms = sum(r["tensor_ms"] for r in rows if r["corruption"] in BENCHMARK_CORRUPTIONS)
    all_ms = sum(r["tensor_ms"] for r in rows)
    lib_ms = sum(r["library_ms"] for r in rows)
    ours_ms = sum(r["ours_ms"] for r in rows)
    by_corruption = {}
    for r in rows:
        by_corruption.setdefault(r["corruption"], []).append(r["tensor_ms"])
    slowest = sorted(((sum(v) / len(v), c) for c, v in by_corruption.items()), reverse=True)[:5]
    write_result("corruptions_cpu", {
        "library": CORRUPTION_LIBRARY,
        "image": f"{WIDTH}x{HEIGHT} RGB (scikit-image coffee, resized)",
        "repeat": args.repeat,
        "load_average_1_5_15_min_at_start": load_start,
        "wrapper_overhead_us": round(overhead_us, 1),
        "ratio_bound_from_overhead_fastest_seeded": round(
            1 + overhead_us / 1000 / min(r["library_ms"] for r in rows if r["corruption"] in SEEDED), 3),
        "max_ratio": max(r["ratio"] for r in rows),
        "median_ratio": float(np.median([r["ratio"] for r in rows])),
        "total_ratio_all_95": round(ours_ms / lib_ms, 3),
        "max_tensor_ratio": max(r["tensor_ratio"] for r in rows),
        "data_cost_per_image_s_75_benchmark_views": round(bench_ms / 1000, 2),
        "data_cost_per_image_s_all_95_views": round(all_ms / 1000, 2),
        "slowest_corruptions_mean_ms_over_severities": {c: round(ms, 1) for ms, c in slowest},
        "rows": rows,
    })


if __name__ == "__main__":
    main()
