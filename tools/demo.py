#!/usr/bin/env python
"""`make demo`: the whole LFC/HFC detection experiment on data this machine makes itself.

1. generate the synthetic shapes dataset (cached under OUTPUT/shapes/<spec-hash>/),
2. train the small demo RetinaNet on it from scratch (cached under OUTPUT/model_<config-hash>/),
3. evaluate the val images as tools/eval_lfc.py does: original, low_rR, high_rR and the
   control noise_rR, the bands between the radii and three Gaussian blurs (the report's
   AP-vs-frequency curves),
4. build the HTML report as tools/visualize_gain_loss.py does, with the shortcut
   experiment's picture when tools/texture_experiment.py has left one in the cache.

Re-running with the same options reuses the data and the model. Trailing KEY VALUE pairs
override the config (and so the cache key), e.g. SOLVER.MAX_ITER 300 or
SHAPES.TEXTURE_CORRELATION 0.0.

outputs in OUTPUT: summary.json, per_image_ap.csv, detections/, gain_loss/ (tools/eval_lfc.py),
report/index.html, demo.json (seed, stage timings, load average, model folder, val AP),
shapes/, model_<hash>/.
"""
import argparse
import time

from hfc_det.cli.helpers import configure_openmp_waiting, exit_on_user_error, take_leading_numbers

configure_openmp_waiting()  # before torch loads OpenMP (hfc_det.cli.helpers.OPENMP_WAITING says why)

from hfc_det.experiments.demo import DEFAULT_CONFIG, DEFAULT_RADII, run_demo  # noqa: E402


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


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    demo = run_demo(output=args.output, config=args.config, radii=args.radius, overrides=args.opts,
                    cache=args.cache, max_images=args.max_images, report=not args.no_report)
    ap = (demo["val_bbox"] or {}).get("AP")
    print(f"[demo] done in {(time.time() - t0) / 60:.1f} min; stage seconds {demo['seconds']}")
    if ap is not None:
        print(f"[demo] demo detector val AP (original images): {ap:.1f}")
    print(f"[demo] summary: {demo['summary']}" + (f"; report: {demo['report']}" if demo["report"] else ""))


if __name__ == "__main__":
    main()
