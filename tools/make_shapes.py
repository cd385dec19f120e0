#!/usr/bin/env python
"""Generate the synthetic COCO-format shapes dataset (train, val, cue-conflict) used by `make demo`.

Output: OUTPUT/<spec-hash>/{instances_<split>.json, <split>/ for train, val, conflict; spec.json}.
The same options give the same bytes; an existing folder for the same options is reused.
"""
import argparse


from hfc_det.cli.helpers import exit_on_user_error
from hfc_det.data.shapes import SHAPE_CLASSES, ShapesSpec, make_shapes_dataset


def parse_args(argv=None):
    d = ShapesSpec()
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--output", default="output/demo/shapes", help="cache folder (one sub-folder per option set)")
    p.add_argument("--num-train", type=int, default=d.num_train, help="training images")
    p.add_argument("--num-val", type=int, default=d.num_val, help="validation images")
    p.add_argument("--num-conflict", type=int, default=d.num_conflict,
                   help="cue-conflict images (every object wears another class's texture)")
    p.add_argument("--image-size", type=int, default=d.image_size, help="square image side, px")
    p.add_argument("--min-objects", type=int, default=d.min_objects, help="fewest objects per image")
    p.add_argument("--max-objects", type=int, default=d.max_objects, help="most objects per image")
    p.add_argument("--min-size", type=float, default=d.min_size, help="smallest shape size, px")
    p.add_argument("--max-size", type=float, default=d.max_size, help="largest shape size, px")
    p.add_argument("--classes", nargs="+", default=list(d.classes), choices=SHAPE_CLASSES, help="shape classes")
    p.add_argument(
        "--texture-correlation",
        type=float,
        default=d.texture_correlation,
        help="probability that an object wears its own class's stripe texture (else a uniformly "
        "random class's; 0 makes texture independent of the class)",
    )
    p.add_argument("--texture-amplitude", type=float, default=d.texture_amplitude, help="stripe amplitude, [0, 1] intensity")
    p.add_argument("--texture-period", type=float, default=d.texture_period, help="stripe period, px")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--force", action="store_true", help="regenerate even when a cached copy exists")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    spec = ShapesSpec.from_options(vars(args))
    paths = make_shapes_dataset(spec, args.output, progress=True, force=args.force)
    for split, (json_file, image_root) in paths.items():
        print(f"{split}: {json_file} ({image_root})")


if __name__ == "__main__":
    main()
