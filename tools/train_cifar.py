#!/usr/bin/env python
"""Train a classifier on CIFAR-10 / MNIST / FashionMNIST / digits, tracking what it learns
from the low- and high-frequency components (Wang et al., CVPR 2020, Sections 4-5).

Defaults are the paper's vanilla set-up: ResNet-18, Adam, lr 1e-4, batch 100, 100 epochs,
no BatchNorm. Every epoch records train and test accuracy on the original images and on
their LFC/HFC at every tracked radius. Outputs in --output: metrics.json, metrics.csv,
curves.png, checkpoint.pth (every epoch; --resume continues it).

Quick offline check (under a minute on a CPU; --threads 1 helps on a busy machine):
  python tools/train_cifar.py --dataset digits --model lenet --train-on low --radius 3 --epochs 40 --batch-size 64 --lr 1e-3 --seed 0 --output output/digits_low_r3
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Only what the parser needs: --help and argument errors answer without torch (it loads in
# main(), after parsing).
from hfc_det.classification.catalog import DATASETS, MODEL_NAMES
from hfc_det.classification.errors import TrainingError
from hfc_det.cli.helpers import exit_on_user_error

S = argparse.SUPPRESS  # unset flags stay absent, so a --config file or checkpoint keeps its values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="YAML", help="run config (configs/cifar/...); flags given here override it")
    p.add_argument("--output", metavar="DIR", required=True, help="run folder for metrics, plots and checkpoint")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint "
                   "(its config is kept; only --epochs, --device, --data-root may change)")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", choices=sorted(DATASETS), default=S, help="default cifar10")
    d.add_argument("--data-root", metavar="DIR", default=S, help="torchvision dataset root (default ./data)")
    d.add_argument("--download", action="store_true", default=S, help="let torchvision download a missing dataset")
    d.add_argument("--train-on", choices=("original", "low", "high"), default=S,
                   help="train on the images or their LFC/HFC at --radius, each image divided by its max (default original)")
    d.add_argument("--radius", type=float, default=S, help="radius (frequency bins) for --train-on low/high")
    d.add_argument("--track-radii", type=float, nargs="+", default=S, metavar="R",
                   help="radii whose LFC/HFC accuracy is recorded every epoch (default 4 8 12 16; digits 1 2 3 4)")
    d.add_argument("--track-views", nargs="+", default=S, metavar="NAME",
                   help="more views whose accuracy is recorded every epoch: band_rA-B (frequencies "
                        "A <= d < B), blur_sSIGMA (Gaussian blur, SIGMA px), ... (default none)")
    d.add_argument("--track-train-size", type=int, default=S, metavar="N",
                   help="training images whose views are tracked (default 10000; 0 = all)")
    d.add_argument("--shuffle-labels", action="store_true", default=S, help="train on one seeded permutation of the labels")
    d.add_argument("--label-seed", type=int, default=S, help="seed of the label shuffle (default 0)")
    m = p.add_argument_group("model and optimisation")
    m.add_argument("--model", choices=MODEL_NAMES, default=S, help="default resnet18")
    m.add_argument("--bn", action=argparse.BooleanOptionalAction, default=S, help="BatchNorm after each conv (default off, the paper's vanilla)")
    m.add_argument("--dropout", type=float, default=S, help="dropout before the FC layers (default 0; paper 0.5)")
    m.add_argument("--batch-size", type=int, default=S, help="default 100")
    m.add_argument("--lr", type=float, default=S, help="Adam learning rate (default 1e-4)")
    m.add_argument("--weight-decay", type=float, default=S, help="L2 weight decay (default 0)")
    m.add_argument("--epochs", type=int, default=S, help="default 100")
    m.add_argument("--mixup-alpha", type=float, default=S, help="mix-up Beta(alpha, alpha); 0 = off (paper 1.0)")
    m.add_argument("--adv-train", action="store_true", default=S, help="PGD adversarial training (L-inf, eps 0.03, 10 steps of eps/10)")
    m.add_argument("--adv-eps", type=float, default=S, help="PGD epsilon on [0, 1] pixels (default 0.03)")
    m.add_argument("--adv-steps", type=int, default=S, help="PGD steps (default 10)")
    r = p.add_argument_group("run")
    r.add_argument("--seed", type=int, default=S, help="default 0")
    r.add_argument("--device", default=S, help="auto (default), cpu, cuda, cuda:1 ...")
    r.add_argument("--eval-batch-size", type=int, default=S, help="default 1000")
    r.add_argument("--amp", action=argparse.BooleanOptionalAction, default=S, help="bf16 autocast + channels-last on CUDA (default on)")
    r.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's choice); "
                   "1 is often fastest for small images on a busy machine")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


@exit_on_user_error(also=(TrainingError,))
def main(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    output, resume, config_file, quiet = args.pop("output"), args.pop("resume"), args.pop("config"), args.pop("quiet")
    threads = args.pop("threads")
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    # torch loads only now, after the arguments are checked
    import torch

    from hfc_det.classification.checkpoint import CHECKPOINT_NAME, read_checkpoint
    from hfc_det.classification.config import TrainConfig, load_yaml_config
    from hfc_det.classification.training import train

    try:
        if threads is not None:
            torch.set_num_threads(threads)
        values = {}
        if resume and not (Path(output) / CHECKPOINT_NAME).exists():
            print(f"warning: --resume: no {CHECKPOINT_NAME} in {output}; starting a new run", file=sys.stderr)
        if resume and (Path(output) / CHECKPOINT_NAME).exists():
            values.update(read_checkpoint(Path(output) / CHECKPOINT_NAME)["config"])
        elif config_file:
            if not Path(config_file).is_file():
                raise FileNotFoundError(f"config file {config_file} not found")
            values.update(load_yaml_config(config_file))
        values.update(args)
        cfg = TrainConfig.from_dict(values).validate()
        metrics = train(cfg, output, resume=resume, progress=not quiet)
    except KeyboardInterrupt:
        sys.exit(f"interrupted; continue with --resume --output {output}")
    final = metrics["final"]
    print(f"done: {output}/metrics.json  final test accuracy on original images "
          f"{final['test_acc']['original']:.4f} (train {final['train_acc']['original']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
