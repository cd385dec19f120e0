#!/usr/bin/env python
"""Evaluate a detector on the original images and on their low/high-frequency views.

Section 7 of Wang et al. (CVPR 2020): RetinaNet-R50-FPN on COCO val, original vs LFC vs
HFC at radius R, and the images whose LFC is detected better than the original.

    python tools/eval_lfc.py --config retinanet_R50_FPN --radius 128 --num-gpus 8
    python tools/eval_lfc.py --dataset-json ann.json --image-root imgs/ --max-images 20 \\
        --output out/ MODEL.WEIGHTS model.pkl MODEL.DEVICE cpu

A stopped run is resumed by running the same command again (finished images are kept in
--output/partial/); --fresh starts over. The parser is hfc_det.cli.eval_lfc_parser, the run
hfc_det.evaluation.command; this script parses and launches.
"""
# Only what the parser needs: --help and argument errors answer without torch or detectron2
# (those load in hfc_det.evaluation.command, after parsing).
from hfc_det.cli.helpers import configure_openmp_waiting, exit_on_user_error

configure_openmp_waiting()  # before torch loads OpenMP (hfc_det.cli.helpers.OPENMP_WAITING says why)
if __name__ == "__mp_main__":  # a process --num-gpus spawned: it imports detectron2 right after this
    import hfc_det.compat  # noqa: F401  (Pillow and the compiled-ops stand-in first)

from hfc_det.cli.eval_lfc_parser import EPILOG, build_parser, parse_args  # noqa: E402,F401


def main(args):
    """Evaluate in this process (what launch runs in each one; one-line user errors across
    processes); returns summary.json's ``variants`` on the main process."""
    from hfc_det.evaluation.command import EvalSettings, run_evaluation

    return run_evaluation(EvalSettings.from_args(args))


@exit_on_user_error  # also OSError: e.g. model-zoo weights cannot be downloaded offline
def cli(argv=None):
    args = parse_args(argv)
    from hfc_det.evaluation.command import EvalSettings, launch_evaluation

    launch_evaluation(EvalSettings.from_args(args), args.num_gpus, num_machines=args.num_machines,
                      machine_rank=args.machine_rank, dist_url=args.dist_url)


if __name__ == "__main__":
    cli()
