#!/usr/bin/env python
"""Evaluate a detector on the original images and on their low/high-frequency views.

Section 7 of Wang et al. (CVPR 2020): RetinaNet-R50-FPN on COCO val, original vs LFC vs
HFC at radius R, and the images whose LFC is detected better than the original.

    python tools/eval_lfc.py --config retinanet_R50_FPN --radius 128 --num-gpus 8
    python tools/eval_lfc.py --dataset-json ann.json --image-root imgs/ --max-images 20 \\
        --output out/ MODEL.WEIGHTS model.pkl MODEL.DEVICE cpu

A stopped run is resumed by running the same command again (finished images are kept in
--output/partial/); --fresh starts over. The logic lives in hfc_det.evaluation; this script
parses, checks and launches.
"""
import argparse
import json
import os
import sys
from pathlib import Path

# Only what the parser needs: --help and argument errors answer without torch or detectron2
# (those load in setup(), after parsing).
from hfc_det.cli.helpers import (
    configure_openmp_waiting,
    drop_options,
    exit_on_user_error,
    take_leading_numbers,
    take_leading_view_names,
    user_errors_across_processes,
)

configure_openmp_waiting()  # before torch loads OpenMP (hfc_det.cli.helpers.OPENMP_WAITING says why)

from hfc_det.cli.options import (  # noqa: E402
    COCO_BACKENDS,
    FILTER_STAGES,
    HFC_SCALINGS,
    available_configs,
    check_overrides,
    launch_argument_parser,
    resolve_config_file,
)

EPILOG = f"""
outputs in --output DIR:
  detections/<view>.json   COCO results per view (original, low_rR, high_rR, band_rA-B, ...)
  per_image_ap.csv         AP@[.50:.95] of every image for every view: ap_<view> (COCOeval's
                           per-image AP, the paper's) and ap_strict_<view> (--strict-score)
  gain_loss/<view>.csv     images sorted by AP difference to the original, both measures
  summary.json             COCO metrics per view, gain/loss/tie/undefined counts and paired
                           statistics (bootstrap CI, sign test, Wilcoxon) under both measures,
                           TIDE error breakdown per view (with tidecv), skipped images,
                           dataset, radii, config, weights, versions
  config.yaml, log.txt     the full config, and the log (environment, arguments, every message)
  run_fingerprint.json     hashes of the config, weights and dataset the detections belong to
  partial/*.npz            finished images' detections, saved every --save-every images

resuming: a run stopped in any way (Ctrl-C, SIGKILL, a lost machine) is continued by running
  the same command again: images already evaluated are not evaluated again, the summaries
  are recomputed from all of them. A different config, weights or dataset into the same
  --output is refused; --fresh starts over. --max-images may grow between runs.
multi-GPU / multi-machine (detectron2's launch; the --output folder must be one that all
  machines see, e.g. on NFS):
  one machine, 8 GPUs:  eval_lfc.py --num-gpus 8 ...
  two machines (8 GPUs each), first machine HOST0, then the second one:
    eval_lfc.py --num-gpus 8 --num-machines 2 --machine-rank 0 --dist-url tcp://HOST0:29500 ...
    eval_lfc.py --num-gpus 8 --num-machines 2 --machine-rank 1 --dist-url tcp://HOST0:29500 ...

configs (--config NAME): {', '.join(available_configs()) or '(none found)'}
datasets: detectron2's builtin names (coco_2017_val, ...) under $DETECTRON2_DATASETS
  (default ./datasets), or any COCO-format json with --dataset-json and --image-root.
trailing KEY VALUE pairs override the config, e.g. MODEL.WEIGHTS model.pkl MODEL.DEVICE cpu
  INPUT.MIN_SIZE_TEST 600 HFC.VIEWS "['original','low','noise']" DATALOADER.NUM_WORKERS 2
views: original, low (low_rR), high (high_rR), noise (noise_rR: the control, the original plus
  white noise with the L2 norm of its HFC at R, per image and channel, seeded by the image id)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = launch_argument_parser(epilog=EPILOG)  # detectron2's default_argument_parser
    drop_options(parser, ("resume", "eval_only"))  # training options: nothing to resume or skip here
    parser.description = (
        "Evaluate a detector on the original images and their low/high-frequency views; "
        "write per-view COCO AP, per-image AP and the images gained/lost by each view."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", default="retinanet_R50_FPN",
                        help="config name under configs/ or a yaml path (default: %(default)s); "
                             "--config-file is the same")
    # nargs="+" would also swallow trailing KEY VALUE overrides: split them off in parse_args
    parser.add_argument("--radius", nargs="+", metavar="R",
                        help="mask radii in frequency bins (default: the config's HFC.RADII, 128)")
    parser.add_argument("--views", nargs="+", metavar="NAME",
                        help="views to evaluate (HFC.VIEWS): the kinds original, low, high (at every "
                             "--radius) and view names band_rA-B (frequencies A <= d < B), blur_sSIGMA "
                             "(Gaussian blur, SIGMA px), low_rR, ... (default: the config's, "
                             "original low high)")
    parser.add_argument("--dataset", metavar="NAME",
                        help="registered dataset name (default: the config's DATASETS.TEST[0])")
    parser.add_argument("--dataset-json", metavar="FILE", help="COCO-format annotation file")
    parser.add_argument("--image-root", metavar="DIR", help="folder of the --dataset-json images")
    parser.add_argument("--output", default="output/eval_lfc", metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N images")
    parser.add_argument("--filter-stage", choices=FILTER_STAGES,
                        help="filter before the test-time resize (the paper) or after it")
    parser.add_argument("--hfc-scaling", choices=HFC_SCALINGS,
                        help="scale high-frequency images: none, max (authors: x/max*255), minmax")
    parser.add_argument("--smooth-rho", type=float, metavar="RHO",
                        help="smooth the model's first convolution with kernel-smoothing weight RHO "
                             "(Eq. 3 of the paper; HFC.SMOOTH_RHO, default 0 = off)")
    parser.add_argument("--strict-score", type=float, metavar="T",
                        help="score threshold of the strict per-image AP: a category absent from an image "
                             "but detected there with score >= T counts AP 0 (HFC.STRICT_SCORE, default 0.5; "
                             "in [0, 1])")
    parser.add_argument("--save-every", type=int, default=20, metavar="N",
                        help="save finished images' detections every N images per process, for a "
                             "resume (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true",
                        help="discard earlier results in --output and start over (default: resume)")
    parser.add_argument("--coco-backend", choices=COCO_BACKENDS,
                        help="COCOeval implementation for the metrics and per-image AP: faster-coco-eval "
                             "(default: C++, same numbers) or pycocotools (the default where "
                             "faster-coco-eval is not installed)")
    parser.add_argument("--no-error-breakdown", action="store_true",
                        help="skip TIDE's error breakdown per view (classification, localisation, both, "
                             "duplicate, background, missed), which runs when tidecv is installed")
    parser.add_argument("--images-per-batch", type=int, metavar="N",
                        help="put the views of N images of the same padded size through the model "
                             "together (HFC.IMAGES_PER_BATCH; default by device: 1 on CPU, 4 on CUDA); "
                             "the detections are those of N = 1")
    parser.add_argument("--amp", action="store_true",
                        help="bf16 autocast of the model (HFC.AMP; CUDA only, refused on CPU); "
                             "AP differs from float32 slightly")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def parse_args(argv=None):
    """Parse; ``--radius 8 16 MODEL.DEVICE cpu`` gives radii 8, 16 and the override."""
    parser = build_parser()
    args = parser.parse_args(argv)
    take_leading_numbers(parser, args, "radius")
    take_leading_view_names(parser, args, "views")
    return args


def setup(args):
    """Config and dataset from the arguments; raises one-line errors for user mistakes."""
    from hfc_det.config import check_device, get_cfg
    from hfc_det.data import resolve_dataset
    from hfc_det.metrics.coco_backends import check_backend

    if args.max_images is not None and args.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {args.max_images}")
    if args.save_every < 1:
        raise ValueError(f"--save-every must be at least 1, got {args.save_every}")
    if args.images_per_batch is not None and args.images_per_batch < 1:
        raise ValueError(f"--images-per-batch must be at least 1, got {args.images_per_batch}")
    args.coco_backend = check_backend(args.coco_backend)
    config_file = resolve_config_file(args.config_file or args.config)
    check_overrides(args.opts)  # the user's own, before this tool appends its pairs
    opts = list(args.opts)
    if args.radius:
        opts += ["HFC.RADII", [float(r) if not float(r).is_integer() else int(r) for r in args.radius]]
    if args.views:
        opts += ["HFC.VIEWS", list(args.views)]
    if args.filter_stage:
        opts += ["HFC.FILTER_STAGE", args.filter_stage]
    if args.hfc_scaling:
        opts += ["HFC.HFC_SCALING", args.hfc_scaling]
    if args.smooth_rho is not None:
        opts += ["HFC.SMOOTH_RHO", float(args.smooth_rho)]
    if args.strict_score is not None:
        from hfc_det.metrics.strict_ap import check_strict_score

        opts += ["HFC.STRICT_SCORE", check_strict_score(args.strict_score)]
    if args.images_per_batch is not None:
        opts += ["HFC.IMAGES_PER_BATCH", args.images_per_batch]
    if args.amp:
        opts += ["HFC.AMP", True]
    opts += ["OUTPUT_DIR", args.output]
    cfg = get_cfg(config_file, opts)
    check_device(cfg)
    weights = cfg.MODEL.WEIGHTS
    if weights and "://" not in weights and not os.path.isfile(weights):
        raise FileNotFoundError(f"weights file not found: {os.path.abspath(weights)}")
    name = args.dataset if (args.dataset or args.dataset_json or args.image_root) else cfg.DATASETS.TEST[0]
    dataset = resolve_dataset(name if not (args.dataset_json or args.image_root) else args.dataset,
                              args.dataset_json, args.image_root)
    from hfc_det.evaluation.run import check_num_classes

    check_num_classes(cfg, dataset)
    cfg.freeze()
    return cfg, config_file, dataset


@user_errors_across_processes  # with several GPUs main runs in worker processes
def main(args):
    import hfc_det.compat  # noqa: F401  (before any detectron2 import; main may run in a new process)
    from detectron2.utils import comm

    from hfc_det.evaluation.outputs import format_table, write_outputs
    from hfc_det.evaluation.run import evaluate_views, run_metadata
    from hfc_det.evaluation.store import FINGERPRINT_FILE
    from hfc_det.engine.run_logging import setup_run

    cfg, config_file, dataset = setup(args)
    args.config_file = config_file
    setup_run(cfg, args)  # config.yaml and log.txt; the terminal keeps warnings, progress, table
    result = evaluate_views(cfg, dataset, max_images=args.max_images, progress=not args.no_progress,
                            output_dir=cfg.OUTPUT_DIR, save_every=args.save_every, fresh=args.fresh,
                            coco_backend=args.coco_backend, error_breakdown=not args.no_error_breakdown)
    if not comm.is_main_process():
        return None
    extra = run_metadata(cfg, dataset, config_file, args.max_images)
    extra["coco_backend"] = args.coco_backend
    extra["fingerprint"] = json.loads((Path(cfg.OUTPUT_DIR) / FINGERPRINT_FILE).read_text())
    paths = write_outputs(cfg.OUTPUT_DIR, result, extra)
    print(format_table(result))
    for s in result.skipped:
        print(f"skipped: {s['file_name']} ({s['reason']})", file=sys.stderr)
    print(f"results in {os.path.abspath(cfg.OUTPUT_DIR)} (summary: {paths['summary']})")
    return json.loads(open(paths["summary"]).read())["variants"]


@exit_on_user_error  # also OSError: e.g. model-zoo weights cannot be downloaded offline
def cli(argv=None):
    args = parse_args(argv)
    import hfc_det.compat  # noqa: F401  (before any detectron2 import)
    from detectron2.engine import launch

    from hfc_det.evaluation.run import dataset_files
    from hfc_det.evaluation.store import prepare_output, run_fingerprint

    cfg, _, dataset = setup(args)  # check every user input once, before any process starts
    if not args.fresh:  # a folder of another run: say so now, not from inside a worker
        prepare_output(cfg.OUTPUT_DIR, run_fingerprint(cfg, *dataset_files(dataset)), write=False)
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))


if __name__ == "__main__":
    cli()
