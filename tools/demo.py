#!/usr/bin/env python
"""`make demo`: the whole LFC/HFC detection experiment on data this machine makes itself.

1. generate the synthetic shapes dataset (cached under OUTPUT/shapes/<spec-hash>/),
2. train the small demo RetinaNet on it from scratch (cached under OUTPUT/model_<config-hash>/),
3. run tools/eval_lfc.py on the val images: original, low_rR, high_rR and the control noise_rR,
   the bands between the radii and three Gaussian blurs (the report's AP-vs-frequency curves),
4. build the HTML report with tools/visualize_gain_loss.py (skipped if it is absent), with the
   shortcut experiment's picture when tools/texture_experiment.py has left one in the cache.

Re-running with the same options reuses the data and the model. Trailing KEY VALUE pairs
override the config (and so the cache key), e.g. SOLVER.MAX_ITER 300 or
SHAPES.TEXTURE_CORRELATION 0.0.

outputs in OUTPUT: summary.json, per_image_ap.csv, detections/, gain_loss/ (tools/eval_lfc.py),
report/index.html, demo.json (seed, stage timings, load average, model folder, val AP),
shapes/, model_<hash>/.
"""
import argparse
import json
import os
import subprocess
import sys
import time

# Before torch loads OpenMP: on a busy shared CPU, spinning OpenMP threads slowed training
# about 6x in our measurements (2-core machine, other jobs running).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
TOOLS = os.path.dirname(os.path.abspath(__file__))

from hfc_det.atomic import write_json_atomic  # noqa: E402
from hfc_det.cli import exit_on_user_error, take_leading_numbers  # noqa: E402

DEFAULT_CONFIG = "demo/retinanet_R18_FPN_shapes"
# For the 128 px shapes (max radius ~90): the 4 px texture sits 32 bins from the centre, so
# r = 8, 16, 24 remove it (blurring the shapes more or less), r = 32 keeps part of it and
# r = 48 all of it.
DEFAULT_RADII = [8, 16, 24, 32, 48]
# Gaussian blurs (sigma in px of the 128 px images; half amplitude at ~0.187 / sigma cycles
# per pixel, i.e. ~24, 12, 6 bins: sigma 1 already takes most of the 32-bin texture) for the
# AP-vs-frequency curves of the report.
BLUR_SIGMAS = [1, 2, 4]


def demo_views(radii):
    """original, low, high and the control noise (as strong as the HFC: how many gains any
    change gives) at every radius, the bands between consecutive radii (and from the last to
    twice it), and :data:`BLUR_SIGMAS`: enough views for the report's AP-vs-frequency curves."""
    from hfc_det.frequency import view_name

    edges = sorted(float(r) for r in radii)
    edges.append(2 * edges[-1])
    bands = [view_name("band", a, b) for a, b in zip(edges, edges[1:])]
    return ["original", "low", "high", "noise"] + bands + [view_name("blur", s) for s in BLUR_SIGMAS]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default="output/demo", help="output folder (default: %(default)s)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="config name under configs/ or yaml (default: %(default)s)")
    p.add_argument("--radius", nargs="+", default=DEFAULT_RADII, metavar="R",
                   help="mask radii in frequency bins (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N val images")
    p.add_argument("--cache", metavar="DIR",
                   help="where shapes/ and model_<hash>/ are kept (default: OUTPUT)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE", help="config overrides")
    args = p.parse_args(argv)
    take_leading_numbers(p, args, "radius")
    return args


def _run_tool(script, args, what):
    cmd = [sys.executable, os.path.join(TOOLS, script)] + [str(a) for a in args]
    print(f"[demo] {what}: {' '.join(cmd)}", flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}")


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def evaluate_split(config, opts, weights, json_file, image_root, output, radii, max_images=None,
                   what="evaluate views", views=None):
    """tools/eval_lfc.py on one split of the shapes into ``output``, with the trained ``weights``
    and the same config and overrides; ``views`` as eval_lfc.py's ``--views`` (default: its own,
    original, low_rR and high_rR)."""
    eval_args = ["--config", config, "--dataset-json", json_file, "--image-root", image_root,
                 "--output", output, "--radius", *radii, *(["--views", *views] if views else []),
                 # the views take seconds to evaluate: always recompute them, so a re-run with
                 # other radii or a retrained model never meets the last run's detections
                 "--fresh"]
    if max_images:
        eval_args += ["--max-images", max_images]
    eval_args += [*opts, "MODEL.WEIGHTS", os.path.abspath(weights)]
    _run_tool("eval_lfc.py", eval_args, what)


def experiment_figure(cache):
    """``--extra-figure`` arguments for the shortcut experiment's picture, when the
    texture experiment (tools/texture_experiment.py) has left one in the cache (else none)."""
    png = os.path.join(cache, "texture_experiment", "dose_response.png")
    if not os.path.isfile(png):
        return []
    return ["--extra-figure", png, "Controlled shortcut experiment (tools/texture_experiment.py): texture "
            "correlation against the AP change on the LFC that removes the texture and the texture-reliance "
            "index on cue-conflict images"]


def run_demo(args):
    """Returns the ``demo.json`` dict; raises ValueError/FileNotFoundError for user mistakes."""
    from hfc_det.config import get_cfg
    from hfc_det.engine import shapes_spec_from_cfg, train_cached
    from hfc_det.data.shapes import make_shapes_dataset

    if args.max_images is not None and args.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {args.max_images}")
    if any(r <= 0 for r in args.radius):
        raise ValueError(f"--radius values must be positive, got {args.radius}")
    cfg = get_cfg(args.config, args.opts)
    cache = args.cache or args.output
    cfg.SHAPES.ROOT = os.path.join(cache, "shapes")
    times = {}
    load_at_start = os.getloadavg()[0]  # timings on a shared machine mean little without it

    t = time.time()
    paths = make_shapes_dataset(shapes_spec_from_cfg(cfg), cfg.SHAPES.ROOT, progress=True)
    times["data_s"] = round(time.time() - t, 1)

    t = time.time()
    trained = train_cached(cfg, cache)
    times["train_s"] = round(time.time() - t, 1)
    print(f"[demo] model: {trained['weights']} ({'cached' if trained['cached'] else 'trained'})", flush=True)

    # tools/eval_lfc.py reads the same config and overrides (get_cfg knows every key),
    # with the trained weights.
    t = time.time()
    val_json, val_root = paths["val"]
    evaluate_split(args.config, args.opts, trained["weights"], val_json, val_root, args.output, args.radius,
                   args.max_images, views=demo_views(args.radius))
    times["eval_s"] = round(time.time() - t, 1)

    report = None
    t = time.time()
    if args.no_report:
        print("[demo] report skipped (--no-report)")
    elif not os.path.isfile(os.path.join(TOOLS, "visualize_gain_loss.py")):
        print("[demo] report skipped: tools/visualize_gain_loss.py is not in this checkout")
    else:
        _run_tool("visualize_gain_loss.py", [args.output, *experiment_figure(cache)], "report")
        report = os.path.join(args.output, "report", "index.html")
    times["report_s"] = round(time.time() - t, 1)

    demo = {
        "config": args.config,
        "overrides": list(args.opts),
        "radii": list(args.radius),
        "dataset": {"train": paths["train"][0], "val": val_json,
                    "conflict": paths["conflict"][0], "conflict_images": paths["conflict"][1]},
        "weights": os.path.abspath(trained["weights"]),
        "model_dir": trained["model_dir"],
        "model_cached": trained["cached"],
        "val_bbox": (trained["metrics"] or {}).get("bbox"),
        "summary": os.path.join(args.output, "summary.json"),
        "views": _read_json(os.path.join(args.output, "summary.json"))["variants"],
        "report": report,
        "seconds": times,
        "seed": cfg.SEED,
        "load_average": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
        "cpu_count": os.cpu_count(),
    }
    write_json_atomic(os.path.join(args.output, "demo.json"), demo)
    return demo


@exit_on_user_error(also=(RuntimeError,))  # RuntimeError: a stage's tool failed (it printed why)
def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    demo = run_demo(args)
    ap = (demo["val_bbox"] or {}).get("AP")
    print(f"[demo] done in {(time.time() - t0) / 60:.1f} min; stage seconds {demo['seconds']}")
    if ap is not None:
        print(f"[demo] demo detector val AP (original images): {ap:.1f}")
    print(f"[demo] summary: {demo['summary']}" + (f"; report: {demo['report']}" if demo["report"] else ""))


if __name__ == "__main__":
    main()
