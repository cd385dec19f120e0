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
import csv
from pathlib import Path

# Only what the parser and the argument checks need: --help and argument errors answer
# without torch or matplotlib (they load in main(), after the checks).
from hfc_det.classification.catalog import dataset_info
from hfc_det.classification.tool_options import add_data_arguments, check_nonnegative
from hfc_det.cli.helpers import UserError, exit_on_user_error, resolve_device
from hfc_det.utils.atomic import atomic_path, write_json_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, metavar="CKPT",
                   help="checkpoint.pth file or run folder from tools/train_cifar.py")
    p.add_argument("--radius", type=float, nargs="+",
                   help="frequency-split radii in frequency bins, > 0 (default: the dataset's 4 tracked radii, "
                        "4 8 12 16 for CIFAR-10)")
    p.add_argument("--split", choices=["frequency", "svd", "both"], default="frequency",
                   help="which split(s) to search (default: %(default)s)")
    p.add_argument("--k", type=int, nargs="+",
                   help="SVD split: singular values kept in the top part, >= 1 (default: 1/16, 1/8, 1/4 "
                        "and 1/2 of the image size)")
    p.add_argument("--gallery-size", type=int, default=8, help="examples drawn per gallery (default: %(default)s)")
    add_data_arguments(p, what="search", batch_size=500)
    return p.parse_args(argv)


def _parameters(args, image_size: int):
    """[(split, parameter)] to search, validated."""
    out = []
    if args.split in ("frequency", "both"):
        radii = args.radius or list(dataset_info(args.dataset).default_track_radii)
        radii = check_nonnegative("--radius", radii)
        if 0 in radii:
            raise UserError("--radius values must be > 0")
        out += [("frequency", r) for r in radii]
    elif args.radius:
        raise UserError("--radius is for the frequency split; add --split both to search both")
    if args.split in ("svd", "both"):
        ks = args.k or sorted({max(1, image_size // d) for d in (16, 8, 4, 2)})
        if any(k < 1 for k in ks):
            raise UserError(f"--k values must be >= 1, got {ks}")
        out += [("svd", k) for k in dict.fromkeys(ks)]
    elif args.k:
        raise UserError("--k is for the SVD split; add --split svd or --split both")
    return out


def _gallery_name(split: str, parameter: float) -> str:
    return f"gallery_frequency_r{parameter:g}.png" if split == "frequency" else f"gallery_svd_k{parameter:g}.png"


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if args.gallery_size < 0 or args.batch_size < 1:
        raise UserError("--gallery-size must be >= 0 and --batch-size >= 1")
    # torch and matplotlib load only now, after the arguments are checked
    from hfc_det.classification.hfc_examples import (
        CLASS_NAMES,
        CSV_COLUMNS,
        save_hfc_gallery,
        select_hfc_examples,
        view_probabilities,
    )
    from hfc_det.classification.tool_support import load_models, load_test_set
    from hfc_det.views.grammar import split_view_names

    device = resolve_device(args.device)
    (model, config), = load_models([args.checkpoint], device)
    args.dataset, images, labels = load_test_set(args.dataset, [config], [model], args.data_root,
                                                 args.download, args.limit)
    searches = _parameters(args, images.shape[-1])
    names = ["original"] + [n for s, p in searches for n in split_view_names(s, p)]
    probs = view_probabilities(model, images, names, batch_size=args.batch_size, device=device,
                               progress="views")
    class_names = CLASS_NAMES.get(args.dataset)

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    all_rows, counts, galleries = [], {"frequency": {}, "svd": {}}, []
    for split, parameter in searches:
        rows = select_hfc_examples(probs, labels, split, parameter)
        all_rows += rows
        counts[split][f"{parameter:g}"] = len(rows)
        if rows and args.gallery_size:
            path, drawn = save_hfc_gallery(images, rows, out / _gallery_name(split, parameter),
                                           class_names, max_examples=args.gallery_size)
            galleries.append({"split": split, "parameter": parameter, "path": Path(path).name,
                              "indices": [r["index"] for r in rows[:drawn]]})
    with atomic_path(out / "examples.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(all_rows)
    accuracy = {name: float((p.argmax(dim=1) == labels).double().mean()) for name, p in probs.items()}
    write_json_atomic(out / "counts.json", {
        "checkpoint": str(args.checkpoint),
        "dataset": args.dataset,
        "n_samples": len(images),
        "definition": "argmax right on original and on the detail view (HFC / SVD tail), "
                      "wrong on the smooth view (LFC / SVD top)",
        "counts": {k: v for k, v in counts.items() if v},
        "fraction": {split: {p: n / len(images) for p, n in c.items()} for split, c in counts.items() if c},
        "accuracy": accuracy,
        "galleries": galleries,
    })
    for split, c in counts.items():
        if c:
            key = "radius" if split == "frequency" else "k"
            print(f"{split}: " + ", ".join(f"{key} {p}: {n}" for p, n in c.items())
                  + f"  (of {len(images)} samples)")
    print(f"wrote examples.csv, counts.json and {len(galleries)} galleries to {out}")


if __name__ == "__main__":
    main()
