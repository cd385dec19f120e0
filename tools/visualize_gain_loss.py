#!/usr/bin/env python
"""Pictures and a static HTML report for an eval_lfc.py output folder.

Writes OUTPUT_DIR/report/ (or --report-dir): index.html (open it from disk), report.json,
plots/, spectra/, gallery/ (original | LFC | HFC panels of the top-K gain and loss images,
with predicted and ground-truth boxes) and thumbs/.

Example:
    python tools/visualize_gain_loss.py output/eval --top 8 --view low_r128 --score-thresh 0.5
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


from hfc_det.cli.helpers import exit_on_user_error
from hfc_det.views.display import DISPLAY_SCALINGS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Numbers come from the folder's CSV/JSON files; "
        "pictures are recomputed from the images named there.",
        epilog="Outputs: REPORT_DIR/index.html, report.json, plots/*.png, spectra/*.png, "
        "gallery/*.png, thumbs/*.jpg. Existing thumbnails newer than their image are reused.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder written by tools/eval_lfc.py "
                   "(needs per_image_ap.csv; uses summary.json, detections/, gain_loss/ when present)")
    p.add_argument("--top", type=int, default=8, metavar="K", help="images per gallery: the K largest gains and K largest losses (default: %(default)s)")
    p.add_argument("--view", default=None, help="view whose gains and losses the galleries show, e.g. low_r128 "
                   "or high_r8 (default: the low_r view on which the most images gain)")
    p.add_argument("--score-thresh", type=float, default=0.5, metavar="T", help="draw predicted boxes with score >= T (pictures only; default: %(default)s)")
    p.add_argument("--hfc-display", choices=sorted(DISPLAY_SCALINGS), default="symmetric",
                   help="display scaling of the zero-mean HFC: symmetric = 0.5 + h/(2 max|h|) (grey is 0), "
                   "minmax = stretch [min, max] to [0, 1] (default: %(default)s)")
    p.add_argument("--grid-radii", type=float, nargs="+", default=None, metavar="R",
                   help="radii of the LFC/HFC/spectrum grids (default: the evaluated radii plus R/4 and R/2 of --view)")
    p.add_argument("--thumb-size", type=int, default=96, metavar="PX", help="longer side of the table thumbnails (default: %(default)s)")
    p.add_argument("--report-dir", default=None, help="where to write the report (default: OUTPUT_DIR/report)")
    p.add_argument("--workers", type=int, default=None, help="threads for thumbnails, processes for large galleries (default: available CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--extra-figure", nargs=2, action="append", default=[], metavar=("PNG", "CAPTION"),
                   help="another picture to show with the plots (repeatable)")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None) -> int:
    args = parse_args(argv)
    from hfc_det.visualization.report import build_report
    from hfc_det.metrics.results import load_results_folder

    start = time.perf_counter()
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.grid_radii and min(args.grid_radii) <= 0:
        raise ValueError(f"--grid-radii must be > 0, got {args.grid_radii}")
    results = load_results_folder(args.output_dir)
    report_dir = Path(args.report_dir) if args.report_dir else results.output_dir / "report"
    report = build_report(
        results, report_dir, view=args.view, top_k=args.top, score_thresh=args.score_thresh,
        hfc_scaling=args.hfc_display, thumb_size=args.thumb_size, grid_radii=args.grid_radii,
        workers=args.workers, progress=not args.quiet, extra_figures=args.extra_figure,
    )
    galleries = report["galleries"]
    print(f"report: {os.path.join(report_dir, 'index.html')}  ({report['n_images']} images, "
          f"{len(galleries['gain'])} gain and {len(galleries['loss'])} loss panels on {report['view']}, "
          f"{time.perf_counter() - start:.1f} s)")
    for s in report["gallery_skipped"]:
        print(f"warning: {s['gallery']} image {s['image_id']} left out: {s['reason']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
