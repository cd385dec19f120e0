"""Evaluation speed: images per second, original view alone vs all views (original,
low_r128, high_r128), random-init RetinaNet-R50-FPN at the default test size (800/1333).

The images are the test fixture's photos and synthetic images (tests/coco_fixture.py),
repeated to --images. Both runs go through the real loop (FrequencyDatasetMapper ->
model, views of an image batched -> FrequencyViewsEvaluator), after one warm-up image.
Also times the mapper alone (decode + split + resize), to show the filter's share.
Writes benchmarks/results/eval_<device>.json.

usage: python benchmarks/bench_eval.py [--device cpu|cuda] [--images N] [--min-size 800]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import write_result  # noqa: E402

import torch  # noqa: E402

import hfc_det.compat  # noqa: E402,F401
from detectron2.data import DatasetCatalog  # noqa: E402

from coco_fixture import make_coco_fixture  # noqa: E402
from hfc_det.config import get_cfg, views_from_cfg  # noqa: E402
from hfc_det.data import FrequencyDatasetMapper, register_coco_json  # noqa: E402
from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator  # noqa: E402
from hfc_det.evaluation.run import build_eval_model, run_views_inference  # noqa: E402


def timed_run(cfg, name, dicts, model, sync):
    """Seconds for the real evaluation loop over ``dicts`` (mapping included, workers 0)."""
    views = views_from_cfg(cfg)
    mapper = FrequencyDatasetMapper(cfg)
    loader = [[mapper(d)] for d in dicts[:1]]
    run_views_inference(model, loader, FrequencyViewsEvaluator(name, views, distributed=False), views, progress=False)
    evaluator = FrequencyViewsEvaluator(name, views, distributed=False)
    if sync:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    run_views_inference(model, ([mapper(d)] for d in dicts), evaluator, views, progress=False)
    if sync:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument("--images", type=int, help="images per run (default: 2 on cpu, 60 on cuda)")
    parser.add_argument("--min-size", type=int, default=800, help="INPUT.MIN_SIZE_TEST (default: %(default)s)")
    parser.add_argument("--radius", type=float, default=128, help="mask radius (default: %(default)s)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda asked for, but torch sees no CUDA device")
    n = args.images or (60 if args.device.startswith("cuda") else 2)
    if n < 1:
        sys.exit("error: --images must be at least 1")
    sync = args.device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        json_file, image_root = make_coco_fixture(tmp)
        name = register_coco_json("hfc_bench_eval", json_file, image_root)
        base = DatasetCatalog.get(name)
        photos = [d for d in base if min(d["height"], d["width"]) >= 300]  # real photo sizes
        dicts = [photos[k % len(photos)] for k in range(n)]
        common = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", args.device, "INPUT.MIN_SIZE_TEST", str(args.min_size),
                  "HFC.RADII", f"[{args.radius}]"]
        cfg_orig = get_cfg("retinanet_R50_FPN", common + ["HFC.VIEWS", "['original']"])
        cfg_all = get_cfg("retinanet_R50_FPN", common)
        model = build_eval_model(cfg_all)
        print(f"{n} images, device {args.device}, test size {args.min_size}, threads {torch.get_num_threads()}")
        t_orig = timed_run(cfg_orig, name, dicts, model, sync)
        t_all = timed_run(cfg_all, name, dicts, model, sync)
        mapper = FrequencyDatasetMapper(cfg_all)
        t0 = time.perf_counter()
        for d in dicts:
            mapper(d)
        t_map = time.perf_counter() - t0
    n_views = len(views_from_cfg(cfg_all))
    write_result(f"eval_{args.device.split(':')[0]}", {
        "model": "RetinaNet-R50-FPN, random init",
        "device": args.device,
        "test_size": [args.min_size, cfg_all.INPUT.MAX_SIZE_TEST],
        "images": n,
        "views": n_views,
        "original_only_images_per_s": round(n / t_orig, 3),
        "all_views_images_per_s": round(n / t_all, 3),
        "all_views_cost_vs_original": round(t_all / t_orig, 2),
        "mapper_all_views_s_per_image": round(t_map / n, 4),
        "mapper_share_of_all_views": round(t_map / t_all, 3),
    })


if __name__ == "__main__":
    main()
