#!/usr/bin/env python
"""Train (or evaluate) a detectron2 model with one of this project's configs.

detectron2's usual entry point (default_argument_parser, launch, and hfc_det.engine.run_logging.setup_run in
place of default_setup: no config dump on the terminal, config.yaml has it) with the
project's config keys (HFC.*, SHAPES.*) and datasets: the synthetic `shapes_train` /
`shapes_val` (generated on first use under SHAPES.ROOT), detectron2's builtin names
(coco_2017_train, ... under $DETECTRON2_DATASETS), and any COCO-format json given with
--register NAME JSON IMAGE_ROOT. Outputs (checkpoints, metrics.json, TensorBoard events,
inference/) go to OUTPUT_DIR.

examples:
  tools/train_net.py --config-file demo/retinanet_R18_FPN_shapes OUTPUT_DIR output/shapes_r18
  tools/train_net.py --config-file demo/retinanet_R18_FPN_shapes SHAPES.TEXTURE_CORRELATION 0.0
  tools/train_net.py --config-file retinanet_R50_FPN --num-gpus 8 \\
      --register mytrain train.json images/ DATASETS.TRAIN "('mytrain',)"
  tools/train_net.py --config-file CONFIG --eval-only MODEL.WEIGHTS output/model_final.pth
"""
import argparse
import logging
import os

# Only what the parser needs, so --help and argument errors answer without torch or
# detectron2; those load in cli()/main() (main may run in a new process per GPU).
from hfc_det.cli.helpers import configure_openmp_waiting, exit_on_user_error, user_errors_across_processes  # noqa: E402

configure_openmp_waiting()  # before torch loads OpenMP (hfc_det.cli.helpers.OPENMP_WAITING says why)
if __name__ == "__mp_main__":  # a process --num-gpus spawned: it imports detectron2 right after this
    import hfc_det.compat  # noqa: F401  (Pillow and the compiled-ops stand-in first)

from hfc_det.cli.options import launch_argument_parser, resolve_config_file  # noqa: E402


def parse_args(argv=None):
    parser = launch_argument_parser(epilog=__doc__)  # detectron2's default_argument_parser
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--register",
        nargs=3,
        action="append",
        default=[],
        metavar=("NAME", "JSON", "IMAGE_ROOT"),
        help="register a COCO-format dataset under NAME (repeatable)",
    )
    return parser.parse_args(argv)


def setup(args):
    from hfc_det.config import get_cfg
    from hfc_det.engine.run_logging import setup_run

    cfg = get_cfg(args.config_file, args.opts)
    cfg.freeze()
    # detectron2's default_setup, without the colour-coded config dump (config.yaml has it);
    # training progress is detectron2's own information lines, so they stay on the terminal
    setup_run(cfg, args, terminal_level=logging.INFO)
    return cfg


def register_datasets(cfg, args):
    from hfc_det.data.datasets import register_coco_json
    from hfc_det.engine.training import register_project_datasets

    for name, json_file, image_root in args.register:
        register_coco_json(name, json_file, image_root)
    register_project_datasets(cfg, progress=True)


@user_errors_across_processes  # with several GPUs main runs in worker processes
def main(args):
    import hfc_det.compat  # noqa: F401  (before detectron2)

    from hfc_det.engine.training import Trainer, detector_with_weights, train_detector

    cfg = setup(args)
    if args.eval_only:
        model = detector_with_weights(cfg, resume=args.resume)  # a wrong file fails before data is made
        register_datasets(cfg, args)
        return Trainer.test(cfg, model)
    register_datasets(cfg, args)
    return train_detector(cfg, resume=args.resume)


@exit_on_user_error
def cli(argv=None):
    args = parse_args(argv)
    if not args.config_file:
        raise ValueError("--config-file is required (a yaml path or a name under configs/)")
    # Check the config and the extra datasets here, where a mistake is the user's
    # (missing file, unknown key, no CUDA device), before workers start.
    # A config name (demo/retinanet_R18_FPN_shapes) becomes its path here: the workers and
    # detectron2 open args.config_file as a file.
    args.config_file = resolve_config_file(args.config_file)
    from hfc_det.config import check_device, get_cfg  # imports detectron2 (after hfc_det.compat)
    from hfc_det.metrics.annotations import check_coco_annotations
    from hfc_det.utils.launch_guard import check_num_gpus

    cfg = get_cfg(args.config_file, args.opts)
    check_device(cfg)
    check_num_gpus(args.num_gpus, cfg.MODEL.DEVICE)
    for name, json_file, image_root in args.register:
        for path in (json_file, image_root):
            if not os.path.exists(path):
                raise FileNotFoundError(f"--register {name}: {path} does not exist")
        check_coco_annotations(json_file)
    from detectron2.engine import launch

    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    cli()
