"""The anchor: our evaluation against detectron2's own inference loop, in one run.

On one model (random-init RetinaNet-R50-FPN, seeded), the same images and device, times:

- ``baseline``: detectron2's ``inference_on_dataset`` with its ``DatasetMapper`` and
  ``COCOEvaluator`` (bbox) on the original images, what a detectron2 user runs;
- ``ours_original``: ``run_views_inference`` + ``FrequencyViewsEvaluator`` on the original
  view only (N = 1);
- ``ours_all_views_N{n}``: all views of one radius (original, low_rR, high_rR) for each N
  in ``--batch-sizes``, the best N kept as ``best_n``;
- with ``--amp`` on CUDA, the same in bf16 autocast (refused on CPU, as the tool refuses it).

Every run includes its loader (workers 0, mapping in the loop), after one warm-up image.
Ratios: ours_original / baseline (goal <= 1), all views / baseline (goal <= 3 on CPU),
and on CUDA the throughput per view of all views against the baseline's per image (goal
>= 1.5). The images are the test fixture's photos (tests/coco_fixture.py), repeated.
Writes benchmarks/results/eval_<device>.json (or --output FILE).

usage: python benchmarks/bench_eval.py [--device cpu|cuda] [--images N] [--batch-sizes 1 2 4]
                                       [--min-size 800] [--radius 128] [--amp] [--output FILE]
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
from detectron2.data import DatasetCatalog, build_detection_test_loader  # noqa: E402
from detectron2.evaluation import COCOEvaluator, inference_on_dataset  # noqa: E402

from helpers.coco_fixture import make_coco_fixture  # noqa: E402
from hfc_det.config import get_cfg, views_from_cfg  # noqa: E402
from hfc_det.data import register_coco_json  # noqa: E402
from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator  # noqa: E402
from hfc_det.evaluation.run import build_eval_model, build_views_loader, run_views_inference  # noqa: E402


class _Timer:
    def __init__(self, sync: bool):
        self.sync = sync

    def __enter__(self):
        if self.sync:
            torch.cuda.synchronize()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.sync:
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.t0


def time_baseline(cfg, name, dicts, model, sync):
    """detectron2's loop: DatasetMapper (uint8 path) -> model -> COCOEvaluator."""
    def run(ds):
        evaluator = COCOEvaluator(name, tasks=("bbox",), distributed=False, output_dir=None,
                                  use_fast_impl=hfc_det.compat.HAS_COMPILED_OPS)
        return inference_on_dataset(model, build_detection_test_loader(ds, mapper=_d2_mapper(cfg)), evaluator)

    run(dicts[:1])  # warm-up
    with _Timer(sync) as t:
        results = run(dicts)
    return t.seconds, results.get("bbox", {}).get("AP")


def _d2_mapper(cfg):
    from detectron2.data import DatasetMapper

    return DatasetMapper(cfg, is_train=False)


def time_ours(cfg, name, dicts, model, sync, images_per_batch, amp=False):
    views = views_from_cfg(cfg)

    def run(ds):
        evaluator = FrequencyViewsEvaluator(name, views, distributed=False)
        run_views_inference(model, build_views_loader(cfg, name, dicts=ds), evaluator, views, progress=False,
                            images_per_batch=images_per_batch, amp=amp)
        return evaluator.result

    run(dicts[:1])  # warm-up
    with _Timer(sync) as t:
        result = run(dicts)
    return t.seconds, result.metrics["original"]["AP"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument("--images", type=int, help="images per run (default: 4 on cpu, 64 on cuda)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="N values for all views (default: 1 2 4; cuda 1 2 4 8)")
    parser.add_argument("--min-size", type=int, default=800, help="INPUT.MIN_SIZE_TEST (default: %(default)s)")
    parser.add_argument("--radius", type=float, default=128, help="mask radius (default: %(default)s)")
    parser.add_argument("--amp", action="store_true", help="also time bf16 autocast (CUDA only)")
    parser.add_argument("--output", help="result JSON path (default: benchmarks/results/eval_<device>.json)")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("error: --device cuda asked for, but torch sees no CUDA device")
    if args.amp and not cuda:
        sys.exit("error: --amp is bf16 autocast on CUDA only; --device is cpu")
    n = args.images or (64 if cuda else 4)
    sizes = args.batch_sizes or ([1, 2, 4, 8] if cuda else [1, 2, 4])
    if n < 1 or min(sizes) < 1:
        sys.exit("error: --images and --batch-sizes must be at least 1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        json_file, image_root = make_coco_fixture(tmp)
        name = register_coco_json("hfc_bench_eval", json_file, image_root)
        photos = [d for d in DatasetCatalog.get(name) if min(d["height"], d["width"]) >= 300]  # real photo sizes
        dicts = [photos[k % len(photos)] for k in range(n)]
        common = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", args.device, "INPUT.MIN_SIZE_TEST", str(args.min_size),
                  "HFC.RADII", f"[{args.radius}]", "DATALOADER.NUM_WORKERS", "0"]
        cfg_orig = get_cfg("retinanet_R50_FPN", common + ["HFC.VIEWS", "['original']"])
        cfg_all = get_cfg("retinanet_R50_FPN", common)
        n_views = len(views_from_cfg(cfg_all))
        model = build_eval_model(cfg_all)
        print(f"{n} images, device {args.device}, test size {args.min_size}, threads {torch.get_num_threads()}",
              flush=True)

        def record(run, views, seconds, ap, n_batch=1, amp=False):
            rows.append({"run": run, "views": views, "images_per_batch": n_batch, "amp": amp,
                         "seconds": round(seconds, 3), "images_per_s": round(n / seconds, 4),
                         "views_per_s": round(n * views / seconds, 4), "ap_original": ap})
            print(rows[-1], flush=True)

        record("baseline_detectron2", 1, *time_baseline(cfg_orig, name, dicts, model, cuda))
        record("ours_original", 1, *time_ours(cfg_orig, name, dicts, model, cuda, 1))
        for k in sizes:
            record(f"ours_all_views_N{k}", n_views, *time_ours(cfg_all, name, dicts, model, cuda, k), n_batch=k)
        if args.amp:
            for k in sizes:
                record(f"ours_all_views_N{k}_amp", n_views, *time_ours(cfg_all, name, dicts, model, cuda, k, amp=True),
                       n_batch=k, amp=True)
    by = {r["run"]: r for r in rows}
    base = by["baseline_detectron2"]["seconds"]
    fp32 = [r for r in rows if r["run"].startswith("ours_all_views") and not r["amp"]]
    best = min(fp32, key=lambda r: r["seconds"])
    fastest = min((r for r in rows if r["run"].startswith("ours_all_views")), key=lambda r: r["seconds"])
    result = {
        "model": "RetinaNet-R50-FPN, random init (seeded)",
        "device": args.device,
        "test_size": [args.min_size, cfg_all.INPUT.MAX_SIZE_TEST],
        "images": n,
        "views": views_from_cfg(cfg_all),
        "rows": rows,
        "best_n_float32": best["images_per_batch"],
        "ours_original_vs_baseline_time": round(by["ours_original"]["seconds"] / base, 3),
        "all_views_N1_vs_baseline_time": round(by["ours_all_views_N1"]["seconds"] / base, 3)
        if "ours_all_views_N1" in by else None,
        "all_views_best_vs_baseline_time": round(best["seconds"] / base, 3),
        "views_per_s_fastest_vs_baseline_images_per_s": round(fastest["views_per_s"] / by["baseline_detectron2"]["images_per_s"], 3),
        # bf16 autocast's speed-up on the same views (the AP it costs: bench_amp.py, trained weights)
        "amp_all_views_best_vs_float32_time": round(min(r["seconds"] for r in rows if r["amp"]) / best["seconds"], 3)
        if any(r["amp"] for r in rows) else None,
        "goals": "ours_original_vs_baseline_time <= 1; all views <= 3 on CPU; on CUDA views_per_s / baseline images_per_s >= 1.5",
        "note": "random weights: AP is ~0 and says nothing; COCO AP float32 vs --amp: bench_amp.py on the demo detector",
    }
    write_result(f"eval_{args.device.split(':')[0]}", result, args.output)


if __name__ == "__main__":
    main()
