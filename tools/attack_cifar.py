#!/usr/bin/env python
"""Table 2 of the paper: does smoothing the first layer's kernels (Eq. 3) buy robustness?

For every checkpoint and every rho, the model's first convolution is smoothed (no
retraining), then its accuracy is measured on the clean test set and under white-box FGSM
and L-inf PGD at each epsilon. Rows: model and rho; columns: clean, FGSM at each eps, PGD
at each eps. The paper's own Table 2 is written next to ours.

Units: --eps is an L-inf budget on [0, 1] pixels (0.03 ~ 8/255, 0.09 ~ 23/255). The
paper's epsilons were lost in this project's copy of the text (the arXiv version reads
0.03/0.06/0.09, as far as we know), so compare trends with its numbers, not digits.

Outputs in --output: table2.json (rows, settings, the paper's table) and table2.md.

example:
  python tools/attack_cifar.py --checkpoint runs/natural runs/adversarial \\
      --label natural adversarial --rho 0 0.25 0.5 1.0 --eps 0.03 0.06 0.09 --output out/table2
"""
import argparse
from pathlib import Path

# Only what the parser and the argument checks need: --help and argument errors answer
# without torch (it loads in main(), after the checks).
from hfc_det.classification.tool_options import add_data_arguments, add_smoothed_models_arguments, check_nonnegative
from hfc_det.cli.helpers import UserError, exit_on_user_error, resolve_device
from hfc_det.utils.atomic import write_json_atomic, write_text_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_smoothed_models_arguments(p, "row label", rho_default=[0.0, 0.25, 0.5, 1.0])
    p.add_argument("--eps", type=float, nargs="+", default=[0.03, 0.06, 0.09],
                   help="L-inf attack budgets on [0, 1] pixels (default: %(default)s)")
    p.add_argument("--pgd-steps", type=int, default=10, help="PGD iterations (default: %(default)s)")
    p.add_argument("--pgd-step-fraction", type=float, default=0.25,
                   help="PGD step size as a fraction of eps (default: %(default)s = 2.5 * eps / 10 steps)")
    add_data_arguments(p, what="attack")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    rhos = check_nonnegative("--rho", args.rho)
    eps = check_nonnegative("--eps", args.eps, upper=1.0)
    if args.pgd_steps < 1 or args.batch_size < 1:
        raise UserError("--pgd-steps and --batch-size must be >= 1")
    if not args.pgd_step_fraction > 0:
        raise UserError(f"--pgd-step-fraction must be > 0, got {args.pgd_step_fraction:g}")
    # torch loads only now, after the arguments are checked
    from hfc_det.classification.robustness import PAPER_TABLE2, robustness_table, table_columns, table_markdown
    from hfc_det.classification.tool_support import load_models, load_test_set, model_labels

    device = resolve_device(args.device)
    loaded = load_models(args.checkpoint, device)
    models, configs = [m for m, _ in loaded], [c for _, c in loaded]
    labels = model_labels(args.checkpoint, configs, args.label)
    dataset, images, targets = load_test_set(args.dataset, configs, models, args.data_root,
                                             args.download, args.limit)

    rows = robustness_table(dict(zip(labels, models)), rhos, images, targets, eps,
                            pgd_steps=args.pgd_steps, pgd_step_fraction=args.pgd_step_fraction,
                            batch_size=args.batch_size, device=device)
    out = Path(args.output)
    summary = {
        "dataset": dataset,
        "n_samples": len(images),
        "checkpoints": {label: str(path) for label, path in zip(labels, args.checkpoint)},
        "rhos": rhos,
        "eps": eps,
        "eps_units": "L-inf budget on [0, 1] pixels",
        "attacks": {
            "fgsm": "x + eps * sign(grad CE), clipped to [0, 1]",
            "pgd": {"steps": args.pgd_steps, "step_size": f"{args.pgd_step_fraction:g} * eps",
                    "random_start": False, "norm": "Linf"},
        },
        "columns": table_columns(eps),
        "rows": rows,
        "paper_table2": {
            "note": "CIFAR-10 ResNet-18; eps and rho values lost in extraction (rho 1..4 increasing)",
            "rows": PAPER_TABLE2,
        },
    }
    write_json_atomic(out / "table2.json", summary)
    write_text_atomic(out / "table2.md", table_markdown(rows, eps, len(images)))
    print(table_markdown(rows, eps, len(images)).split("\n## ")[0].rstrip())
    print(f"\nwrote table2.json and table2.md to {out}")


if __name__ == "__main__":
    main()
