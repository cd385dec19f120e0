#!/usr/bin/env python
"""Figure 2 of the paper: test samples the model gets RIGHT on the original image and on
its high-frequency component (HFC) but WRONG on its low-frequency component (LFC), which
looks like the original to a person.

For each radius (and, with --split svd/both, each k of the truncated-SVD split of Section 8,
where the top-k reconstruction plays the LFC and the rest the HFC) the tool counts such
samples and draws the first few as a gallery with the model's predictions and softmax
confidences. Views are fed to the model unclipped; in the pictures the LFC is clipped to
[0, 1] and the HFC shown as 0.5 + h / (2 max|h|).

Outputs in --output: examples.csv (one row per sample and split parameter), counts.json
(counts and per-view accuracies), gallery_frequency_r{R}.png / gallery_svd_k{K}.png.

example:
  python tools/find_hfc_examples.py --checkpoint runs/natural --radius 4 8 12 16 \\
      --split both --k 4 8 16 --output out/fig2
"""
import argparse
from pathlib import Path

# Only what the parser and the argument checks need: --help and argument errors answer
# without torch or matplotlib (they load in find_hfc_examples(), after the checks).
from hfc_det.classification.find_examples import SPLIT_CHOICES
from hfc_det.classification.tool_options import add_data_arguments
from hfc_det.cli.helpers import exit_on_user_error


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, metavar="CKPT",
                   help="checkpoint.pth file or run folder from tools/train_cifar.py")
    p.add_argument("--radius", type=float, nargs="+",
                   help="frequency-split radii in frequency bins, > 0 (default: the dataset's 4 tracked radii, "
                        "4 8 12 16 for CIFAR-10)")
    p.add_argument("--split", choices=list(SPLIT_CHOICES), default="frequency",
                   help="which split(s) to search (default: %(default)s)")
    p.add_argument("--k", type=int, nargs="+",
                   help="SVD split: singular values kept in the top part, >= 1 (default: 1/16, 1/8, 1/4 "
                        "and 1/2 of the image size)")
    p.add_argument("--gallery-size", type=int, default=8, help="examples drawn per gallery (default: %(default)s)")
    add_data_arguments(p, what="search", batch_size=500)
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    from hfc_det.classification.find_examples import find_hfc_examples

    record = find_hfc_examples(args.checkpoint, args.output, split=args.split, radii=args.radius, ks=args.k,
                               gallery_size=args.gallery_size, dataset=args.dataset, data_root=args.data_root,
                               download=args.download, limit=args.limit, batch_size=args.batch_size,
                               device=args.device)
    for split, c in record["counts"].items():
        key = "radius" if split == "frequency" else "k"
        print(f"{split}: " + ", ".join(f"{key} {p}: {n}" for p, n in c.items())
              + f"  (of {record['n_samples']} samples)")
    print(f"wrote examples.csv, counts.json and {len(record['galleries'])} galleries to {Path(args.output)}")


if __name__ == "__main__":
    main()
