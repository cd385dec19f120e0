"""The `make demo` pipeline (tools/demo.py, tools/texture_experiment.py): synthetic shapes ->
the cached demo RetinaNet -> tools/eval_lfc.py on its views -> the HTML report.

The evaluation and the report run as the repository's own tools (``tools/eval_lfc.py``,
``tools/visualize_gain_loss.py``) in child processes, exactly as a user would run them, so
their one-line errors, progress bars and resumable outputs are the ones the demo shows.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from hfc_det.utils.atomic import write_json_atomic

#: The repository's tools/ folder (the package is installed editable by `make setup`).
TOOLS = str(Path(__file__).resolve().parents[2] / "tools")

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
    from hfc_det.views.frequency import view_name

    edges = sorted(float(r) for r in radii)
    edges.append(2 * edges[-1])
    bands = [view_name("band", a, b) for a, b in zip(edges, edges[1:])]
    return ["original", "low", "high", "noise"] + bands + [view_name("blur", s) for s in BLUR_SIGMAS]


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
    from hfc_det.data.shapes import make_shapes_dataset
    from hfc_det.engine.training import shapes_spec_from_cfg, train_cached

    if args.max_images is not None and args.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {args.max_images}")
    if any(r <= 0 for r in args.radius):
        raise ValueError(f"--radius values must be positive, got {args.radius}")
    cfg = get_cfg(args.config, args.opts)
    cache = args.cache or args.output
    cfg.SHAPES.ROOT = os.path.join(cache, "shapes")
    times = {}
    started = time.time()
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
    times["total_s"] = round(time.time() - started, 1)  # the stages and what lies between them

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
