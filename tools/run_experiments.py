#!/usr/bin/env python
"""Run one of the paper's classification experiments (a suite of runs) and write its table
with the paper's numbers side by side.

Suites (configs/cifar/<suite>/*.yaml): table1, fig3, fig4, fig5, fig6, architectures.
Each run goes to OUTPUT/<suite>/<run>/ (as tools/train_cifar.py writes it); a finished run
with the same config is reused, an interrupted one resumed. The table goes to
OUTPUT/<suite>/table.md, table.csv, table.json, next to curves.png.

Smoke test on the bundled digits (radii are scaled by image size / 32: 4 8 12 16 -> 1 2 3 4):
  python tools/run_experiments.py table1 --dataset digits --model lenet --epochs 5 --lr 1e-3 --batch-size 64
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Only what the parser needs: --help and argument errors answer without torch (it loads in
# main(), after parsing).
from hfc_det.classification.catalog import DATASETS, MODEL_NAMES, list_suites
from hfc_det.classification.errors import TrainingError
from hfc_det.cli.helpers import exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", nargs="?", help=f"one of: {', '.join(list_suites())}")
    p.add_argument("--list", action="store_true", help="list the suites and their runs, then exit")
    p.add_argument("--output", default="output/cifar", metavar="DIR", help="default output/cifar")
    p.add_argument("--only", nargs="+", metavar="RUN", help="run only these runs of the suite (e.g. low_r4)")
    o = p.add_argument_group("overrides for every run (for smoke tests; the configs hold the paper's values)")
    o.add_argument("--dataset", choices=sorted(DATASETS), help="also rescales radii by image size / 32")
    o.add_argument("--model", choices=MODEL_NAMES)
    o.add_argument("--epochs", type=int)
    o.add_argument("--batch-size", type=int)
    o.add_argument("--lr", type=float)
    o.add_argument("--track-train-size", type=int, metavar="N")
    o.add_argument("--data-root", metavar="DIR")
    o.add_argument("--download", action="store_true", default=None)
    o.add_argument("--device")
    o.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


@exit_on_user_error(also=(TrainingError,))
def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        from hfc_det.classification.experiments import load_suite  # torch: the runs' configs are checked

        for suite in list_suites():
            print(f"{suite}: {' '.join(r.name for r in load_suite(suite))}")
        return 0
    if not args.suite:
        parser.error("name a suite (or --list)")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    # torch loads only now, after the arguments are checked
    import torch

    from hfc_det.classification.experiments import load_suite, run_suite, write_suite_outputs

    overrides = {k: v for k, v in vars(args).items()
                 if v is not None and k in ("dataset", "model", "epochs", "batch_size", "lr", "track_train_size",
                                            "data_root", "download", "device", "seed")}
    suite_dir = Path(args.output) / args.suite
    try:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        runs = load_suite(args.suite, overrides)
        if args.only:
            unknown = sorted(set(args.only) - {r.name for r in runs})
            if unknown:
                raise ValueError(f"suite {args.suite} has no run {', '.join(unknown)}; it has {', '.join(r.name for r in runs)}")
            runs = [r for r in runs if r.name in args.only]
        table = write_suite_outputs(args.suite, runs, run_suite(runs, suite_dir, progress=not args.quiet), suite_dir)
    except KeyboardInterrupt:
        sys.exit(f"interrupted; rerun the same command to resume ({suite_dir})")
    print(table.read_text())
    print(f"written: {table}, {table.with_suffix('.csv')}, {table.with_suffix('.json')}, {suite_dir / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
