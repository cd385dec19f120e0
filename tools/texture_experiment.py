#!/usr/bin/env python
"""The controlled version of the paper's claim, on the synthetic shapes.

Train the demo detector twice, with SHAPES.TEXTURE_CORRELATION 1.0 (every object wears its
class's faint stripe texture: the label is also in the high frequencies) and 0.0 (textures
independent of the class: only the shape carries the label), evaluate each on its own val
split as original, low_rR and high_rR views, and write the AP table.

Expectation to test, not to force: the texture-tied model loses more on the LFC (which
removes the 6 px stripes for r <= ~40 at 256 px) than the untextured one.

outputs in OUTPUT: results.json, results.md (AP@[.50:.95] x 100 per view and model, and each
view's change from the original), corr_<c>/ (tools/demo.py outputs per model). Data and
models are cached in --cache (default output/demo, shared with `make demo`, so its
correlation-1.0 model is reused).
"""
import argparse
import os
import time

import demo  # tools/demo.py: data -> training -> eval_lfc, cached (sets OMP_WAIT_POLICY first)

from hfc_det.atomic import write_json_atomic, write_text_atomic
from hfc_det.cli import exit_on_user_error, take_leading_numbers


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default="output/texture_experiment", help="output folder (default: %(default)s)")
    p.add_argument("--cache", default="output/demo", help="data and model cache folder (default: %(default)s)")
    p.add_argument("--config", default=demo.DEFAULT_CONFIG, help="config name or yaml (default: %(default)s)")
    p.add_argument("--correlations", nargs="+", default=[1.0, 0.0], metavar="C",
                   help="texture correlations to train with (default: %(default)s)")
    p.add_argument("--radius", nargs="+", default=demo.DEFAULT_RADII, metavar="R",
                   help="mask radii in frequency bins (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N val images")
    p.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides for every model")
    args = p.parse_args(argv)
    for name in ("correlations", "radius"):  # numbers, then trailing KEY VALUE overrides
        take_leading_numbers(p, args, name)
    return args


def ap_table(results, views):
    """Markdown: one row per correlation, AP x 100 per view, then the change from original."""
    changed = [v for v in views if v != "original"]
    head = ["texture correlation", *views, *(f"Δ {v}" for v in changed)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ap = {v: r["views"][v]["AP"] for v in views}
        cells = [f"{r['texture_correlation']:g}"] + [f"{ap[v]:.1f}" for v in views]
        cells += [f"{ap[v] - ap['original']:+.1f}" for v in changed]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@exit_on_user_error(also=(RuntimeError,))  # RuntimeError: a stage's tool failed (it printed why)
def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    results = []
    for c in args.correlations:
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"--correlations must be in [0, 1], got {c}")
    for c in args.correlations:
        run = argparse.Namespace(
            output=os.path.join(args.output, f"corr_{c:g}"),
            cache=args.cache,
            config=args.config,
            radius=args.radius,
            max_images=args.max_images,
            no_report=True,
            opts=list(args.opts) + ["SHAPES.TEXTURE_CORRELATION", str(float(c))],
        )
        print(f"[texture] texture correlation {c:g}", flush=True)
        d = demo.run_demo(run)
        results.append({"texture_correlation": c, "model_dir": d["model_dir"], "views": d["views"],
                        "model_cached": d["model_cached"], "seconds": d["seconds"]})
    views = list(results[0]["views"])
    table = ap_table(results, views)
    payload = {"config": args.config, "overrides": args.opts, "radii": args.radius,
               "max_images": args.max_images, "results": results,
               "minutes": round((time.time() - t0) / 60, 1)}
    write_json_atomic(os.path.join(args.output, "results.json"), payload)
    write_text_atomic(os.path.join(args.output, "results.md"),
                      f"AP@[.50:.95] x 100 on each model's own val split ({args.config}).\n\n" + table)
    print(table)
    print(f"[texture] results in {os.path.abspath(args.output)} (results.json, results.md)")


if __name__ == "__main__":
    main()
