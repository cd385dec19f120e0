"""The command line of ``tools/eval_lfc.py``: its parser and the split of trailing overrides.

Standard library only (with :mod:`hfc_det.cli.options` and :mod:`hfc_det.cli.helpers`), so
``eval_lfc.py --help`` and an argument error answer before torch or detectron2 load. What
the parsed options do is :mod:`hfc_det.evaluation.command`.
"""
import argparse

from hfc_det.cli.helpers import drop_options, take_leading_numbers, take_leading_view_names
from hfc_det.cli.options import (
    COCO_BACKENDS,
    FILTER_STAGES,
    HFC_SCALINGS,
    available_configs,
    launch_argument_parser,
)

__all__ = ["EPILOG", "build_parser", "parse_args"]

EPILOG = f"""
outputs in --output DIR:
  detections/<view>.json   COCO results per view (original, low_rR, high_rR, band_rA-B, ...)
  per_image_ap.csv         AP@[.50:.95] of every image for every view: ap_<view> (COCOeval's
                           per-image AP, the paper's) and ap_strict_<view> (--strict-score)
  gain_loss/<view>.csv     images sorted by AP difference to the original, both measures
  corruption_*.json/.png   with corruption views: each corruption's frequency signature and
                           its AP drop against it (mPC/rPC: summary.json["robustness"])
  summary.json             COCO metrics per view, gain/loss/tie/undefined counts and paired
                           statistics (bootstrap CI, sign test, Wilcoxon) under both measures,
                           TIDE error breakdown per view (with tidecv), skipped images,
                           dataset, radii, config (system: yacs or lazy, file),
                           weights (and what they left uninitialised), versions
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
  INPUT.MIN_SIZE_TEST 600 HFC.VIEWS "['original','low','noise']" DATALOADER.NUM_WORKERS 2;
  a LazyConfig (.py) takes key=value overrides instead, as detectron2's lazyconfig_train_net.py:
  train.init_checkpoint=model.pkl train.device=cpu (upper-case keys set the HFC options: HFC.RADII=[8])
views: original, low (low_rR), high (high_rR), noise (noise_rR: the control, the original plus
  white noise with the L2 norm of its HFC at R, per image and channel, seeded by the image id)
"""


def build_parser(prog=None) -> argparse.ArgumentParser:
    """eval_lfc.py's parser; ``prog``: the program name its usage line shows (default: the
    running script's, as argparse does)."""
    parser = launch_argument_parser(epilog=EPILOG)  # detectron2's default_argument_parser
    if prog:
        parser.prog = prog
    drop_options(parser, ("resume", "eval_only"))  # training options: nothing to resume or skip here
    parser.description = (
        "Evaluate a detector on the original images and their low/high-frequency views; "
        "write per-view COCO AP, per-image AP and the images gained/lost by each view."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", default="retinanet_R50_FPN",
                        help="config name under configs/, a yacs .yaml or LazyConfig .py path, or "
                             "zoo:NAME from detectron2's model zoo, e.g. zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x "
                             "(its trained weights unless given) (default: %(default)s); --config-file is the same")
    # nargs="+" would also swallow trailing KEY VALUE overrides: split them off in parse_args
    parser.add_argument("--radius", nargs="+", metavar="R",
                        help="mask radii in frequency bins (default: the config's HFC.RADII, 128)")
    parser.add_argument("--views", nargs="+", metavar="NAME",
                        help="views to evaluate (HFC.VIEWS): the kinds original, low, high (at every "
                             "--radius) and view names band_rA-B (frequencies A <= d < B), blur_sSIGMA "
                             "(Gaussian blur, SIGMA px), low_rR, ... (default: the config's, "
                             "original low high)")
    parser.add_argument("--corruptions", nargs="+", metavar="NAME",
                        help="add COCO-C corruption views corrupt_NAME_sSEVERITY (HFC.CORRUPTIONS): benchmark "
                             "(the 15 of mPC), all (19) or names such as gaussian_noise fog jpeg_compression; "
                             "summary.json then has mPC/rPC and each corruption's frequency signature")
    parser.add_argument("--severities", nargs="+", metavar="S",
                        help="severities 1-5 of --corruptions (HFC.SEVERITIES, default all five)")
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
    parser.add_argument("--allow-partial-weights", action="store_true",
                        help="evaluate weights that leave some of the model's tensors uninitialised (missing or "
                             "of another shape; refused by default); their keys go into summary.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def parse_args(argv=None, prog=None):
    """Parse; ``--radius 8 16 MODEL.DEVICE cpu`` gives radii 8, 16 and the override."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    take_leading_numbers(parser, args, "radius")
    take_leading_view_names(parser, args, "views")
    take_leading_view_names(parser, args, "corruptions")
    take_leading_numbers(parser, args, "severities")
    return args
