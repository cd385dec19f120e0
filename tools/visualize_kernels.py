#!/usr/bin/env python
"""Figure 7 of the paper: first-layer convolution kernels, before and after smoothing.

One column per checkpoint (e.g. a naturally and an adversarially trained model), one row
per rho (rho 0 = the kernels as trained; rho > 0 = smoothed with Eq. 3). Kernels with three
input channels are drawn as RGB tiles, others one grey tile per input channel. Each panel
is scaled on its own, 0.5 + w / (2 max|w|) (zero = mid-grey), because smoothing without
renormalisation also scales the weights up.

Each panel's title gives its roughness: mean |difference of 8-neighbouring weights| / mean
|w| (scale-free; lower = smoother), the number behind the paper's "adversarially trained
kernels look smoother".

Outputs in --output: kernels.png and kernels.json (per panel: checkpoint, rho, layer,
shape, weight range, display scale, roughness).

example:
  python tools/visualize_kernels.py --checkpoint runs/natural runs/adversarial \\
      --label natural adversarial --rho 0 1.0 --output out/fig7
"""
import argparse
from pathlib import Path

# Only what the parser and the argument checks need: --help and argument errors answer
# without torch or matplotlib (they load in main(), after the checks).
from hfc_det.classification.tool_options import add_smoothed_models_arguments, check_nonnegative
from hfc_det.cli.helpers import UserError, exit_on_user_error
from hfc_det.utils.atomic import write_json_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_smoothed_models_arguments(p, "column title", rho_default=[0.0, 1.0])
    p.add_argument("--layer", help="dotted name of the convolution to draw (default: the first one)")
    p.add_argument("--max-kernels", type=int, default=64,
                   help="tiles drawn per panel, in channel order (default: %(default)s)")
    p.add_argument("--output", required=True, help="output folder")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    rhos = check_nonnegative("--rho", args.rho)
    if args.max_kernels < 1:
        raise UserError(f"--max-kernels must be >= 1, got {args.max_kernels}")
    # torch and matplotlib load only now, after the arguments are checked
    from hfc_det.classification.kernel_pictures import save_kernel_figure
    from hfc_det.classification.tool_support import load_models, model_labels
    from hfc_det.analysis.smoothing import first_conv, smooth_kernels

    loaded = load_models(args.checkpoint, "cpu")
    labels = model_labels(args.checkpoint, [c for _, c in loaded], args.label)
    rows = [f"rho={rho:g}" for rho in rhos]
    panels = []
    for label, path, (model, _) in zip(labels, args.checkpoint, loaded):
        layer, conv = first_conv(model, args.layer)
        for rho, row in zip(rhos, rows):
            panels.append({"column": label, "row": row, "checkpoint": str(path), "rho": rho,
                           "layer": layer, "weight": smooth_kernels(conv.weight, rho)})
    out = Path(args.output)
    drawn = save_kernel_figure(panels, out / "kernels.png", columns=labels, rows=rows,
                               max_tiles=args.max_kernels)
    write_json_atomic(out / "kernels.json", {
        "picture": "kernels.png",
        "display": "per panel: 0.5 + w / (2 max|w|), zero = mid-grey",
        "roughness": "mean |w - 8-neighbour| / mean |w| per panel (scale-free, lower = smoother)",
        "panels": drawn,
    })
    for d in drawn:
        print(f"{d['column']:>16} {d['row']:>10}  layer {d['layer']} {tuple(d['shape'])}  "
              f"roughness {d['roughness']:.3f}")
    print(f"wrote kernels.png and kernels.json to {out}")


if __name__ == "__main__":
    main()
