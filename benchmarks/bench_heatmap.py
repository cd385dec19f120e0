#!/usr/bin/env python
"""Fourier heat-map throughput: basis-perturbed images evaluated per second (cells x images
per second), for the digits LeNet and for the demo detector.

1. classifier: LeNet (random init: the speed does not depend on the weights) on the 450
   digits test images (8x8), a grid of K = --grid (half of it by symmetry), through
   hfc_det.classification.fourier_heatmap.classifier_heatmap; compared with the obvious
   loop (one image at a time: perturb with numpy, one forward pass).
2. detector: the demo RetinaNet-R18-FPN (random init) on --det-size px images: the
   fourier_u*_v*_e* views of one image made by hfc_det.views.grammar.compute_views and detected
   as one batch, as eval_lfc.py does, in views x images per second.

Writes benchmarks/results/heatmap_<device>.json.
  python benchmarks/bench_heatmap.py                  # CPU
  python benchmarks/bench_heatmap.py --device cuda    # the GPU row
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import best_time, write_result  # noqa: E402
from hfc_det.views.fourier_basis import fourier_basis, half_grid, perturbation_signs  # noqa: E402


def bench_classifier(args, device):
    from hfc_det.classification.data import load_dataset
    from hfc_det.classification.fourier_heatmap import classifier_heatmap
    from hfc_det.classification.models import build_model

    torch.manual_seed(0)
    model = build_model("lenet", num_classes=10, in_channels=1, bn=True, dropout=0.0).to(device).eval()
    _, _, x, y = load_dataset("digits")
    cells = half_grid(args.grid, 1)
    settings = {"grid": args.grid, "step": 1, "eps": 1.0, "seed": 0}

    def ours():
        with tempfile.TemporaryDirectory() as out:
            classifier_heatmap(model, x, y, settings, out, batch_size=1000, device=device, progress=False,
                               say=lambda s: None)

    def loop(n_cells=3):
        signs = perturbation_signs(x).numpy()
        with torch.no_grad():
            for u, v in cells[:n_cells]:
                basis = fourier_basis(8, 8, u, v)
                for k in range(len(x)):
                    p = np.clip(x[k].numpy() + signs[k, :, None, None] * basis, 0, 1)
                    model(torch.from_numpy(p[None]).float().to(device)).argmax(1)

    t_ours = best_time(ours, repeat=args.repeat, sync_cuda=device.type == "cuda")
    t_loop = best_time(loop, repeat=1, sync_cuda=device.type == "cuda") * len(cells) / 3
    n = len(cells) * len(x)
    return {"what": f"digits LeNet, {len(cells)} cells (K={args.grid}) x {len(x)} images",
            "ours_s": round(t_ours, 3), "loop_s_extrapolated": round(t_loop, 2),
            "ours_images_per_s": round(n / t_ours), "loop_images_per_s": round(n / t_loop),
            "speedup": round(t_loop / t_ours, 1)}


def bench_detector(args, device):
    import hfc_det.compat  # noqa: F401
    from hfc_det.evaluation.run import build_eval_model
    from hfc_det.config import get_cfg as build_cfg
    from hfc_det.views.grammar import compute_views, fourier_view_name

    cfg = build_cfg("demo/retinanet_R18_FPN_shapes", ["MODEL.WEIGHTS", "", "MODEL.DEVICE", str(device)])
    model = build_eval_model(cfg)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 256, (3, args.det_size, args.det_size)).astype(np.float32))
    names = [fourier_view_name(u, v, 3000) for u, v in half_grid(args.det_grid, args.det_step)]

    def views_only():
        compute_views(image, names)

    def one_image():
        views = compute_views(image, names)
        with torch.no_grad():
            model([{"image": v.to(device), "height": args.det_size, "width": args.det_size} for v in views.values()])

    sync = device.type == "cuda"
    t_views = best_time(views_only, repeat=args.repeat, sync_cuda=sync)
    t_all = best_time(one_image, repeat=args.repeat, sync_cuda=sync)
    return {"what": f"demo RetinaNet-R18-FPN, {len(names)} fourier views of one {args.det_size} px image",
            "views_s": round(t_views, 4), "views_and_model_s": round(t_all, 3),
            "views_per_s": round(len(names) / t_all, 2), "views_share": round(t_views / t_all, 4)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--grid", type=int, default=4, help="classifier grid K (default: %(default)s, the full 8x8 grid)")
    p.add_argument("--det-size", type=int, default=128, help="detector image size (default: %(default)s, the demo's)")
    p.add_argument("--det-grid", type=int, default=32)
    p.add_argument("--det-step", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    device = torch.device(args.device)
    t0 = time.time()
    rows = [{"model": "classifier", **bench_classifier(args, device)},
            {"model": "detector", **bench_detector(args, device)}]
    write_result(f"heatmap_{device.type}", {"rows": rows, "wall_s": round(time.time() - t0, 1),
                                            "note": "measured on a shared, loaded 2-core machine" if device.type == "cpu" else ""})


if __name__ == "__main__":
    main()
