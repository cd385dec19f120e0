#!/usr/bin/env python
"""The controlled version of the paper's claim: does the detector take a high-frequency shortcut?

For every texture amplitude A and texture correlation C (the probability that an object wears
its own class's 4 px plaid texture; hfc_det.data.shapes), train the `make demo` detector
(seeded, cached by the data-spec and config hashes) and evaluate it
  - on its own val split: original, low_rR and high_rR views at every --radius;
  - on the cue-conflict split (every object wears another class's texture) as original and
    low_r{--texture-radius} views, scored against the shape labels and against the texture
    labels: AP/AP50 under each and the texture-reliance index
    AP50_tex / (AP50_shape + AP50_tex) (0: follows shape only, 1: texture only).

--texture-radius (default 24) is the radius whose LFC removes the texture (32 bins from the
centre on the 128 px images) and leaves the shapes nearly intact.

outputs in OUTPUT: results.json (every cell's numbers, written after each cell, so an
interrupted run keeps what finished), results.md (the table), dose_response.png (correlation
on x; the LFC's AP change at the texture radius and the texture-reliance index on y), and
amp<A>_corr<C>/{val,conflict}/ (tools/eval_lfc.py outputs). A copy of results.json and the
picture goes to CACHE/texture_experiment/, where `make demo`'s report finds them.
--skip-untrained evaluates only the cells whose model is already in the cache. A cell already
evaluated with the same model and options is read back from amp<A>_corr<C>/cell.json.
"""
import argparse
import json
import math
import os
import shutil
import time


from hfc_det.cli.helpers import configure_openmp_waiting, exit_on_user_error, take_leading_numbers

configure_openmp_waiting()  # before torch loads OpenMP (hfc_det.cli.helpers.OPENMP_WAITING says why)

from hfc_det.experiments import demo  # noqa: E402  data -> training -> eval_lfc, cached
from hfc_det.utils.atomic import write_json_atomic, write_text_atomic  # noqa: E402

DEFAULT_AMPLITUDES = [0.06, 0.15]
DEFAULT_CORRELATIONS = [0.0, 0.5, 1.0]
TEXTURE_RADIUS = 24


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default="output/texture_experiment", help="output folder (default: %(default)s)")
    p.add_argument("--cache", default="output/demo", help="data and model cache folder (default: %(default)s)")
    p.add_argument("--config", default=demo.DEFAULT_CONFIG, help="config name or yaml (default: %(default)s)")
    p.add_argument("--amplitudes", nargs="+", default=DEFAULT_AMPLITUDES, metavar="A",
                   help="texture amplitudes, [0, 0.5] intensity (default: %(default)s)")
    p.add_argument("--correlations", nargs="+", default=DEFAULT_CORRELATIONS, metavar="C",
                   help="texture correlations, [0, 1] (default: %(default)s)")
    p.add_argument("--radius", nargs="+", default=demo.DEFAULT_RADII, metavar="R",
                   help="mask radii in frequency bins for the val views (default: %(default)s)")
    p.add_argument("--texture-radius", type=float, default=TEXTURE_RADIUS, metavar="R",
                   help="the radius whose LFC removes the texture (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N images of each split")
    p.add_argument("--skip-untrained", action="store_true",
                   help="evaluate only the cells whose model is already cached; train nothing")
    p.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides for every model")
    args = p.parse_args(argv)
    for name in ("amplitudes", "correlations", "radius"):  # numbers, then trailing KEY VALUE overrides
        take_leading_numbers(p, args, name)
    return args


def check_args(args):
    for a in args.amplitudes:
        if not 0.0 <= a <= 0.5:
            raise ValueError(f"--amplitudes must be in [0, 0.5], got {a:g}")
    for c in args.correlations:
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"--correlations must be in [0, 1], got {c:g}")
    if any(r <= 0 for r in args.radius) or args.texture_radius <= 0:
        raise ValueError("--radius and --texture-radius must be positive")
    if args.max_images is not None and args.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {args.max_images}")


def cell_opts(args, amplitude, correlation):
    return list(args.opts) + ["SHAPES.TEXTURE_AMPLITUDE", str(float(amplitude)),
                              "SHAPES.TEXTURE_CORRELATION", str(float(correlation))]


def is_trained(args, opts):
    return os.path.isfile(os.path.join(_model_dir(args, opts), "model_final.pth"))


def _cell_identity(args, model_dir):
    """What a cell's numbers depend on besides the model folder's hash: the evaluation."""
    weights = os.path.join(model_dir, "model_final.pth")
    return {"model_dir": os.path.abspath(model_dir), "weights_mtime_ns": os.stat(weights).st_mtime_ns,
            "radii": [float(r) for r in args.radius], "texture_radius": float(args.texture_radius),
            "max_images": args.max_images}


def _model_dir(args, opts):
    from hfc_det.config import get_cfg
    from hfc_det.engine.training import config_hash

    return os.path.join(args.cache, f"model_{config_hash(get_cfg(args.config, opts))}")


def run_cell(args, amplitude, correlation):
    """One cell's numbers; reused from ``<cell>/cell.json`` when the same model was evaluated
    the same way (the evaluation takes minutes on a CPU)."""
    from hfc_det.experiments.texture import cell_key

    folder = os.path.join(args.output, cell_key(amplitude, correlation))
    cell_file = os.path.join(folder, "cell.json")
    model_dir = _model_dir(args, cell_opts(args, amplitude, correlation))
    if os.path.isfile(cell_file) and os.path.isfile(os.path.join(model_dir, "model_final.pth")):
        with open(cell_file) as f:
            saved = json.load(f)
        if saved.get("identity") == _cell_identity(args, model_dir):
            print(f"[texture] reusing {cell_file}", flush=True)
            return saved["cell"]
    cell = _evaluate_cell(args, amplitude, correlation, folder)
    write_json_atomic(cell_file, {"identity": _cell_identity(args, cell["model_dir"]), "cell": _json_safe(cell)})
    return cell


def _evaluate_cell(args, amplitude, correlation, folder):
    from hfc_det.experiments.cue_conflict import cue_conflict_metrics
    from hfc_det.experiments.texture import cell_summary

    run = argparse.Namespace(output=os.path.join(folder, "val"), cache=args.cache, config=args.config,
                             radius=args.radius, max_images=args.max_images, no_report=True,
                             opts=cell_opts(args, amplitude, correlation))
    d = demo.run_demo(run)
    conflict_dir = os.path.join(folder, "conflict")
    demo.evaluate_split(args.config, run.opts, d["weights"], d["dataset"]["conflict"], d["dataset"]["conflict_images"],
                        conflict_dir, [args.texture_radius], args.max_images, what="evaluate cue-conflict views")
    views = ["original", f"low_r{args.texture_radius:g}"]
    conflict = {v: cue_conflict_metrics(d["dataset"]["conflict"], os.path.join(conflict_dir, "detections", f"{v}.json"))
                for v in views}
    cell = cell_summary(amplitude, correlation, d["views"], args.radius, args.texture_radius, conflict)
    cell.update(model_dir=d["model_dir"], model_cached=d["model_cached"], seconds=d["seconds"])
    return cell


def _json_safe(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


def write_results(args, cells, skipped, t0):
    from hfc_det.experiments.texture import results_table
    from hfc_det.visualization.plots import plot_texture_experiment

    os.makedirs(args.output, exist_ok=True)
    plot = os.path.join(args.output, "dose_response.png")
    drawn = plot_texture_experiment(cells, plot) if cells else None
    payload = {"config": args.config, "overrides": args.opts, "radii": args.radius,
               "texture_radius": args.texture_radius, "max_images": args.max_images,
               "cells": cells, "not_run": skipped, "plot": drawn,
               "minutes": round((time.time() - t0) / 60, 1)}
    table = results_table(cells)
    write_json_atomic(os.path.join(args.output, "results.json"), _json_safe(payload))
    write_text_atomic(os.path.join(args.output, "results.md"),
                      f"Shortcut experiment ({args.config}): AP x 100 on each model's own val split; "
                      f"cue-conflict AP50 against shape and texture labels; reliance = AP50_tex / "
                      f"(AP50_shape + AP50_tex). Not run: {skipped or 'none'}.\n\n" + table)
    if cells:  # where `make demo`'s report looks
        shared = os.path.join(args.cache, "texture_experiment")
        os.makedirs(shared, exist_ok=True)
        shutil.copyfile(plot, os.path.join(shared, ".dose_response.png.tmp"))
        os.replace(os.path.join(shared, ".dose_response.png.tmp"), os.path.join(shared, "dose_response.png"))
        write_json_atomic(os.path.join(shared, "results.json"), _json_safe(payload))
    return table


@exit_on_user_error(also=(RuntimeError,))  # RuntimeError: a stage's tool failed (it printed why)
def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    cells, skipped = [], []
    check_args(args)
    grid = [(a, c) for a in args.amplitudes for c in args.correlations]
    for i, (a, c) in enumerate(grid, 1):
        if args.skip_untrained and not is_trained(args, cell_opts(args, a, c)):
            print(f"[texture] cell {i}/{len(grid)}: amplitude {a:g}, correlation {c:g}: not trained, skipped",
                  flush=True)
            skipped.append({"texture_amplitude": a, "texture_correlation": c})
            continue
        print(f"[texture] cell {i}/{len(grid)}: amplitude {a:g}, correlation {c:g}", flush=True)
        cells.append(run_cell(args, a, c))
        write_results(args, cells, skipped, t0)
    table = write_results(args, cells, skipped, t0)
    print(table)
    print(f"[texture] {len(cells)} cells in {(time.time() - t0) / 60:.1f} min; results in "
          f"{os.path.abspath(args.output)} (results.json, results.md, dose_response.png)")


if __name__ == "__main__":
    main()
