"""Frequency split: hfc_det against the authors' per-image, per-channel numpy loop.

Sizes: CIFAR (1000x3x32x32) and COCO (8x3x480x640), one radius and four radii.
The reference's mask is built once outside the timing (the authors build it with a
Python double loop, which would only make the ratio larger), so the ratio is the
transform work alone.

usage: python benchmarks/bench_frequency.py [--device cpu|cuda] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, write_result  # noqa: E402

from hfc_det.views.frequency import frequency_views, radial_mask  # noqa: E402


def authors_loop(images_nhwc: np.ndarray, mask: np.ndarray):
    """HaohanWang/HFC generateDataWithDifferentFrequencies_3Channel, mask precomputed."""
    lows, highs = [], []
    for i in range(images_nhwc.shape[0]):
        lo = np.zeros(images_nhwc.shape[1:])
        hi = np.zeros(images_nhwc.shape[1:])
        for j in range(images_nhwc.shape[3]):
            fd = np.fft.fftshift(np.fft.fft2(images_nhwc[i, :, :, j]))
            lo[:, :, j] = np.real(np.fft.ifft2(np.fft.ifftshift(fd * mask)))
            fd = np.fft.fftshift(np.fft.fft2(images_nhwc[i, :, :, j]))
            hi[:, :, j] = np.real(np.fft.ifft2(np.fft.ifftshift(fd * (1 - mask))))
        lows.append(lo)
        highs.append(hi)
    return np.array(lows), np.array(highs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", help="result JSON path (default: benchmarks/results/frequency_<device>.json)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda asked for, but torch sees no CUDA device")
    sync = args.device.startswith("cuda")
    rng = np.random.default_rng(0)
    rows = []
    for label, shape, radii in [
        ("cifar 1000x3x32x32", (1000, 3, 32, 32), [4, 8, 12, 16]),
        ("coco 8x3x480x640", (8, 3, 480, 640), [32, 64, 96, 128]),
    ]:
        x_np = rng.integers(0, 256, size=shape).astype(np.float32)
        x = torch.from_numpy(x_np).to(args.device)
        nhwc = x_np.transpose(0, 2, 3, 1).astype(np.float64)
        for rs in ([radii[-1]], radii):
            masks = [radial_mask(shape[2], shape[3], r).numpy().astype(np.float64) for r in rs]
            t_ref = best_time(lambda: [authors_loop(nhwc, m) for m in masks], repeat=2)
            t_ours = best_time(lambda: frequency_views(x, rs), repeat=args.repeat, sync_cuda=sync)
            row = {
                "case": label,
                "radii": rs,
                "reference_s": round(t_ref, 4),
                "hfc_det_s": round(t_ours, 4),
                "speedup": round(t_ref / t_ours, 1),
                "device": args.device,
            }
            print(row, flush=True)
            rows.append(row)
    write_result(f"frequency_{args.device.split(':')[0]}", {"rows": rows}, args.output)


if __name__ == "__main__":
    main()
