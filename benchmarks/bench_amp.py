"""The AP difference under bf16 autocast, on a trained detector: float32 against bf16.

Evaluates the same images twice with ``run_views_inference`` + ``FrequencyViewsEvaluator``
(what tools/eval_lfc.py runs), in float32 and in bf16 autocast (``amp=True``:
``torch.autocast(device.type, dtype=torch.bfloat16)``), on the views original, low_rR and
high_rR. The model is the ``make demo`` detector (RetinaNet-R18-FPN on the synthetic shapes,
config ``demo/retinanet_R18_FPN_shapes``) loaded from ``--weights`` through ``MODEL.WEIGHTS``
and its weight check (a detectron2 checkpoint ``{"model": state_dict, ...}`` or a bare state
dict); the images are the first ``--images`` of the shapes val split
(``make_shapes_dataset(shapes_spec_from_cfg(cfg), root)``: deterministic, cached in ``root``).

tools/eval_lfc.py refuses ``--amp`` on the CPU (bf16 there is a slow path, no speed-up), but
torch's bf16 autocast runs on the CPU, so the AP difference is measurable there too. CPU and
CUDA bf16 kernels differ (accumulation, rounding): the JSON records the device.

Writes benchmarks/results/amp_<device>.json (or ``--output``): per view the COCO AP, AP50 and
AP75 (0-100) of each pass and their difference (bf16 - float32), the mean and max absolute
per-image AP difference (AP points, 0-100), how many images' per-image AP changed, and the
detection counts; the seconds of each pass (loader, model and COCOeval, after one warm-up
image) and of its model forward passes alone; the headline ``max_abs_coco_ap_difference``
(over views, AP points) and ``bf16_vs_float32_time`` (pass seconds ratio). ``--detections DIR``
also writes each pass's detections as COCO results, ``DIR/<float32|bf16>_<view>.json``.

usage: python benchmarks/bench_amp.py [--weights FILE] [--config demo/retinanet_R18_FPN_shapes]
           [--device cuda|cpu] [--images N] [--radius R] [--shapes-root DIR] [--output FILE]
           [--detections DIR] [KEY VALUE ...]   (trailing config overrides, e.g. SHAPES.NUM_VAL 3)
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import write_result  # noqa: E402

from hfc_det.cli.helpers import USER_ERRORS, UserError, configure_openmp_waiting  # noqa: E402

PRECISIONS = ("float32", "bf16")
METRICS = ("AP", "AP50", "AP75")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage + error would be two lines
        raise UserError(message)


def parse_args(argv=None):
    p = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="detector weights (.pth checkpoint or state dict; default: the newest "
                                      "make demo model under ./output/demo, where make demo puts it)")
    p.add_argument("--config", default="demo/retinanet_R18_FPN_shapes", help="config (default: %(default)s)")
    p.add_argument("--device", help="cuda or cpu (default: cuda when torch sees one)")
    p.add_argument("--images", type=int, default=100, help="first N val images (default: %(default)s)")
    p.add_argument("--radius", type=float, default=16, help="mask radius in bins (default: %(default)s)")
    p.add_argument("--shapes-root", help="shapes cache folder to (re)use (default: a temporary folder)")
    p.add_argument("--output", help="result JSON (default: benchmarks/results/amp_<device>.json)")
    p.add_argument("--detections", help="also write each pass's detections (COCO results) into this folder")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.weights is None:  # `make bench` runs every benchmark without arguments
        made = sorted(Path("output/demo").glob("model_*/model_final.pth"), key=os.path.getmtime)
        if not made:
            raise UserError("no --weights and no make demo model in output/demo: run make demo first "
                            "(about 9 minutes on 2 cores) or pass --weights FILE")
        args.weights = str(made[-1])
    if not os.path.isfile(args.weights):
        raise UserError(f"weights file not found: {os.path.abspath(args.weights)}")
    if args.images < 1:
        raise UserError(f"--images must be at least 1, got {args.images}")
    if len(args.opts) % 2:
        raise UserError(f"config overrides come in KEY VALUE pairs, got {' '.join(args.opts)}")
    if not (args.radius > 0 and math.isfinite(args.radius)):
        raise UserError(f"--radius must be a positive number, got {args.radius}")
    return args


def per_image_changes(fp32: dict, bf16: dict) -> dict:
    """``{image_id: AP in [0, 1] or NaN}`` twice -> absolute differences in AP points (0-100)."""
    diffs, changed = [], 0
    for i, a in fp32.items():
        b = bf16[i]
        if math.isnan(a) and math.isnan(b):
            continue  # no ground truth: undefined in both
        changed += a != b  # (defined in one pass only: changed, but no difference to average)
        if not (math.isnan(a) or math.isnan(b)):
            diffs.append(abs(b - a) * 100)
    return {"mean_abs_difference": sum(diffs) / len(diffs) if diffs else None,
            "max_abs_difference": max(diffs, default=None), "images_changed": int(changed)}


def table_rows(per_view):
    """One row per view for RESULTS.md's table (benchmarks/run_all.py renders ``rows``)."""
    return [{"view": v, "AP float32": round(e["float32"]["AP"], 3), "AP bf16": round(e["bf16"]["AP"], 3),
             "AP difference": round(e["difference"]["AP"], 3), "AP50 difference": round(e["difference"]["AP50"], 3),
             "AP75 difference": round(e["difference"]["AP75"], 3),
             "images changed": e["per_image_ap"]["images_changed"],
             "max per-image difference": round(e["per_image_ap"]["max_abs_difference"] or 0, 3)}
            for v, e in per_view.items()]


def main(args) -> None:
    import torch

    import hfc_det.compat  # noqa: F401  (before detectron2)
    from detectron2.data import DatasetCatalog
    from hfc_det.cli.helpers import resolve_device
    from hfc_det.config import check_device, get_cfg, views_from_cfg
    from hfc_det.data import register_coco_json
    from hfc_det.data.shapes import make_shapes_dataset
    from hfc_det.engine.training import shapes_spec_from_cfg
    from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator
    from hfc_det.evaluation.run import build_eval_model, build_views_loader, run_views_inference

    # the weight check (load_detector_weights) refuses misfitting weights in one line: fvcore's
    # key-by-key listing of them (a warning per tensor group) would only bury it
    logging.getLogger("fvcore.common.checkpoint").setLevel(logging.ERROR)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.shapes_root or tmp
        cfg = get_cfg(args.config, ["MODEL.WEIGHTS", os.path.abspath(args.weights), "MODEL.DEVICE", str(device),
                                    "HFC.RADII", f"[{args.radius}]", "HFC.VIEWS", "['original', 'low', 'high']",
                                    "DATALOADER.NUM_WORKERS", "0", "SHAPES.ROOT", root, *args.opts])
        check_device(cfg)
        views = views_from_cfg(cfg)
        model = build_eval_model(cfg)  # first: weights that do not fit fail before the data is made
        print(f"[amp] shapes val split in {root}", flush=True)
        val_json, val_root = make_shapes_dataset(shapes_spec_from_cfg(cfg), root, progress=True)["val"]
        name = register_coco_json("hfc_bench_amp_val", val_json, val_root)
        dicts = DatasetCatalog.get(name)[:args.images]
        if len(dicts) < args.images:
            print(f"[amp] the val split has {len(dicts)} images: evaluating all of them", flush=True)
        sync = device.type == "cuda"
        forward = [0.0]  # seconds inside model(...), summed over the batches of a pass

        def before(*_):
            if sync:
                torch.cuda.synchronize()
            forward.append(time.perf_counter())

        def after(*_):
            if sync:
                torch.cuda.synchronize()
            forward[0] += time.perf_counter() - forward.pop()

        model.register_forward_pre_hook(before)
        model.register_forward_hook(after)

        def evaluate(ds, amp, progress=False):
            evaluator = FrequencyViewsEvaluator(name, views, distributed=False)
            run_views_inference(model, build_views_loader(cfg, name, dicts=ds), evaluator, views,
                                progress=progress, amp=amp)
            return evaluator.result

        print(f"[amp] {len(dicts)} images x {len(views)} views {views}, device {device}, "
              f"threads {torch.get_num_threads()}", flush=True)
        results, seconds, model_seconds = {}, {}, {}
        for precision in PRECISIONS:
            amp = precision == "bf16"
            evaluate(dicts[:1], amp)  # warm-up: allocator, cuDNN's kernel choice, lazy inits
            print(f"[amp] {precision} pass", flush=True)
            forward[0] = 0.0
            t0 = time.perf_counter()
            results[precision] = evaluate(dicts, amp, progress=True)
            seconds[precision] = time.perf_counter() - t0
            model_seconds[precision] = forward[0]
    if args.detections:
        os.makedirs(args.detections, exist_ok=True)
        for precision, r in results.items():
            for v in views:
                with open(os.path.join(args.detections, f"{precision}_{v}.json"), "w") as f:
                    json.dump(r.coco_results(v), f)

    per_view = {}
    for v in views:
        entry = {p: {**{m: results[p].metrics[v][m] for m in METRICS},
                     "detections": int(sum(len(d) for d in results[p].detections[v].values()))} for p in PRECISIONS}
        entry["difference"] = {m: entry["bf16"][m] - entry["float32"][m] for m in METRICS}
        entry["per_image_ap"] = per_image_changes(results["float32"].per_image_ap[v], results["bf16"].per_image_ap[v])
        per_view[v] = entry
    print(f"\n{'view':<12}{'AP fp32':>9}{'AP bf16':>9}{'diff':>9}{'AP50 d':>9}{'AP75 d':>9}"
          f"{'img mean|d|':>12}{'img max|d|':>11}{'changed':>9}{'dets fp32/bf16':>16}")
    for v, e in per_view.items():
        d, pi = e["difference"], e["per_image_ap"]
        print(f"{v:<12}{e['float32']['AP']:9.3f}{e['bf16']['AP']:9.3f}{d['AP']:+9.3f}{d['AP50']:+9.3f}{d['AP75']:+9.3f}"
              f"{pi['mean_abs_difference'] or 0:12.3f}{pi['max_abs_difference'] or 0:11.3f}"
              f"{pi['images_changed']:>5}/{len(dicts):<3}{e['float32']['detections']:>9}/{e['bf16']['detections']}")
    print(f"seconds: float32 {seconds['float32']:.1f} (model {model_seconds['float32']:.1f}), "
          f"bf16 {seconds['bf16']:.1f} (model {model_seconds['bf16']:.1f})\n", flush=True)
    result = {
        "config": args.config,
        "weights": os.path.abspath(args.weights),
        "overrides": list(args.opts),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "autocast": "torch.autocast(device.type, dtype=torch.bfloat16)",
        "n_images": len(dicts),
        "rows": table_rows(per_view),
        "views": per_view,
        # microseconds, so that the ratios below follow from the stored seconds even for passes
        # of a fraction of a second (at 3 decimals a pass of under 0.3 s moved the ratio by 0.011)
        "seconds": {p: round(s, 6) for p, s in seconds.items()},
        "model_seconds": {p: round(s, 6) for p, s in model_seconds.items()},
        "max_abs_coco_ap_difference": max(abs(e["difference"]["AP"]) for e in per_view.values()),
        "bf16_vs_float32_time": round(seconds["bf16"] / seconds["float32"], 3),
        "bf16_vs_float32_model_time": round(model_seconds["bf16"] / model_seconds["float32"], 3),
        "units": "AP, AP50, AP75 and per-image differences in AP points (0-100); seconds after one warm-up image",
    }
    write_result(f"amp_{device.type}", result, args.output)


if __name__ == "__main__":
    configure_openmp_waiting()  # before torch loads OpenMP: the project's measured policy
    try:
        main(parse_args())
    except USER_ERRORS as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
