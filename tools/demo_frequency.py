#!/usr/bin/env python
"""The frequency split on real photos bundled with scikit-image/scikit-learn.

For each photo and radius: original | LFC | HFC | log-spectrum with the radius circle, one
PNG per photo, and summary.json with the float ranges of every view (the numbers come from
the float split, not from the pictures).

example: python tools/demo_frequency.py --output output/demo/frequency --radii 8 16 32 64
"""
import argparse
from pathlib import Path

from tqdm import tqdm

from hfc_det.utils.atomic import write_json_atomic
from hfc_det.cli.helpers import exit_on_user_error
from hfc_det.views.display import DISPLAY_SCALINGS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default="output/demo/frequency", help="output folder")
    p.add_argument("--radii", type=float, nargs="+", default=[8, 16, 32, 64], help="mask radii in frequency bins")
    p.add_argument("--photos", nargs="+", default=None, help="subset of the bundled photos (default: all)")
    # --hfc-display, as in visualize_gain_loss.py (eval_lfc.py's --hfc-scaling scales the
    # model's input); --hfc-scaling, its old name here, is still accepted
    p.add_argument("--hfc-display", "--hfc-scaling", dest="hfc_display", choices=list(DISPLAY_SCALINGS),
                   default="symmetric", help="how the zero-mean HFC is mapped to grey levels for display")
    return p.parse_args(argv)


@exit_on_user_error(also=(ImportError,))
def main(argv=None):
    args = parse_args(argv)
    if any(r <= 0 for r in args.radii):
        raise ValueError(f"radii must be > 0, got {args.radii}")
    # after the argument checks: --help and argument errors need neither torch nor matplotlib
    from hfc_det.utils.sample_images import bundled_photos
    from hfc_det.visualization.spectrum import save_frequency_grid

    photos = bundled_photos(args.photos)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, image in tqdm(photos.items(), desc="frequency grids", unit="photo"):
        drawn[name] = save_frequency_grid(image, args.radii, out / f"{name}.png", title=name,
                                          hfc_scaling=args.hfc_display)
    write_json_atomic(out / "summary.json", {"radii": args.radii, "photos": drawn})
    print(f"wrote {len(drawn)} pictures and summary.json to {out}")


if __name__ == "__main__":
    main()
