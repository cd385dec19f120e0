#!/usr/bin/env python
"""Compare eval_lfc.py runs on the same images: detectors, training recipes, settings.

Writes OUTPUT/comparison.json, OUTPUT/ap_vs_frequency.png (+ .csv) and OUTPUT/index.html
(open it from disk): per run and view the AP and the relative AP (AP / clean AP), every
run's AP-vs-frequency curves in one figure, the frequency-reliance summary, for every pair
of runs and every view the paired statistics of the per-image AP changes, and TIDE side by
side.

Example:
    python tools/compare_runs.py output/cmp/plain output/cmp/smoothed --labels plain smoothed --output output/cmp/compare
"""
from __future__ import annotations

import argparse
import os
import sys

from hfc_det.cli.helpers import exit_on_user_error


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Runs on different datasets or images are refused; views that only some runs have are "
        "listed, and left out of the paired statistics. Labels default to the config name each "
        "summary.json records (with the folder's path where two runs share a config).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="eval_lfc.py output folders (summary.json, per_image_ap.csv)")
    p.add_argument("--output", required=True, metavar="DIR", help="where to write the comparison")
    p.add_argument("--labels", nargs="+", metavar="NAME", help="one name per RUN, in order (default: config names)")
    p.add_argument("--bootstrap-resamples", type=int, default=None, metavar="N",
                   help="resamples of the bootstrap intervals (default: 10000, as eval_lfc.py)")
    p.add_argument("--seed", type=int, default=None, help="seed of the bootstrap (default: 0, as eval_lfc.py)")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> int:
    args = parse_args(argv)
    from hfc_det.metrics.paired_stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
    from hfc_det.visualization.compare import write_comparison

    resamples = BOOTSTRAP_RESAMPLES if args.bootstrap_resamples is None else args.bootstrap_resamples
    if resamples < 1:
        raise ValueError(f"--bootstrap-resamples must be >= 1, got {resamples}")
    c = write_comparison(args.runs, args.output, args.labels, n_resamples=resamples,
                         seed=BOOTSTRAP_SEED if args.seed is None else args.seed)
    width = max(len("run"), *map(len, c["labels"]))
    print(f"{'run':<{width}} {'clean AP':>8} {'LFC half radius':>16} {'HFC AP':>8}")
    for label in c["labels"]:
        r = c["reliance"][label]
        half = "-" if r["lfc_half_radius"] is None else f"{r['lfc_half_radius']:.1f}"
        print(f"{label:<{width}} {_fmt(r['clean_AP']):>8} {half:>16} {_fmt(r['hfc_AP']):>8}")
    for view, have in c["partial_views"].items():
        print(f"note: view {view} only in {', '.join(have)} (not in the paired statistics)", file=sys.stderr)
    print(f"comparison: {os.path.join(args.output, 'index.html')} ({len(c['labels'])} runs, {c['num_images']} images, "
          f"{len(c['common_views'])} common views; numbers in comparison.json)")
    return 0


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
