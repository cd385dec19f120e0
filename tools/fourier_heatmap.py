#!/usr/bin/env python
"""Fourier heat map (Yin et al. 2019, "A Fourier Perspective on Model Robustness") of a
classifier or a detector: the model's error when every image is perturbed along one Fourier
basis image U(u, v), for each (u, v) of a grid.

Each image x becomes clip(x + eps * r_c * U(u, v)) per channel c (r_c a random sign seeded by
--seed and the image itself; U real, unit L2 norm, non-zero only at (u, v) and (-u, -v) of the
spectrum). U(u, v) = U(-u, -v): only half the grid is evaluated and the map completed by
symmetry. Cost: cells x images forward passes, printed with an ETA before starting.

classifier (a tools/train_cifar.py run; pixels in [0, 1], eps in those units):
  python tools/fourier_heatmap.py --checkpoint runs/lenet --grid 4 --eps 1 --output out/heat
detector (through tools/eval_lfc.py: each cell is a view fourier_u<U>_v<V>_e<EPS>, so the run
resumes and spreads over GPUs like eval_lfc; pixels in [0, 255], eps in those units; the
random signs use seed 0; any other option is passed to eval_lfc.py):
  python tools/fourier_heatmap.py --config retinanet_R50_FPN --grid 8 --step 4 --eps 2000 \\
      --max-images 100 --num-gpus 8 --output out/heat MODEL.WEIGHTS model.pkl

Outputs in --output: heatmap.npy (row u, column v, zero frequency in the middle),
heatmap.json (settings, metric, per-cell values, images), heatmap.png;
heatmap_partial.json (classifier) or eval/ (detector) keep finished cells for a resume:
run the same command again to continue, --fresh to start over.
Metrics: classifier "error" (%); detector "100 - AP" (COCO AP on the perturbed images) and,
per cell in the JSON, "ap_drop": the mean over images of per-image AP(original) - AP(cell),
in AP points.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

from hfc_det.cli.helpers import UserError, configure_openmp_waiting, exit_on_user_error

configure_openmp_waiting()  # a detector's heat map evaluates in this process, as eval_lfc.py would
if __name__ == "__mp_main__":  # a process --num-gpus spawned: it imports detectron2 right after this
    import hfc_det.compat  # noqa: F401  (Pillow and the compiled-ops stand-in first)

# the heat maps (hfc_det.classification.fourier_heatmap, hfc_det.evaluation.fourier_heatmap;
# torch) load after parsing: --help answers at once.


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", metavar="DIR", help="a tools/train_cifar.py run folder or checkpoint.pth")
    model.add_argument("--config", metavar="NAME", help="a detector config (name under configs/ or yaml), "
                                                          "evaluated through tools/eval_lfc.py")
    p.add_argument("--eps", type=float, default=4.0,
                   help="L2 norm of the perturbation per channel, in pixel units: [0, 1] for a classifier, "
                        "[0, 255] for a detector (default: %(default)s, Yin et al.'s CIFAR value)")
    p.add_argument("--grid", type=int, default=4, metavar="K", help="frequencies -K..K bins on both axes (default: %(default)s)")
    p.add_argument("--step", type=int, default=1, metavar="S", help="bins between grid frequencies (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="use only the first N test images")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--fresh", action="store_true", help="discard finished cells in --output and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    c = p.add_argument_group("classifier")
    c.add_argument("--seed", type=int, default=0, help="seed of the random signs (default: %(default)s)")
    c.add_argument("--dataset", help="test set (default: the checkpoint's); for a detector, passed to eval_lfc.py")
    c.add_argument("--data-root", default="data", help="torchvision dataset root (default: %(default)s)")
    c.add_argument("--batch-size", type=int, default=1000, help="images per forward pass (default: %(default)s)")
    c.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if available)")
    return p


@exit_on_user_error
def main(argv=None):
    parser = build_parser()
    args, forwarded = parser.parse_known_args(argv)
    if args.checkpoint and forwarded:
        parser.error(f"unrecognized arguments: {' '.join(forwarded)}")
    from hfc_det.views.fourier_basis import check_eps, check_grid
    from hfc_det.analysis.heatmap import PARTIAL_FILE

    check_eps(args.eps)
    check_grid(args.grid, args.step, 2 * args.grid, 2 * args.grid)  # the image size is checked later
    if args.max_images is not None and args.max_images < 1:
        raise UserError(f"--max-images must be >= 1, got {args.max_images}")
    out = Path(args.output)
    if args.fresh:
        (out / PARTIAL_FILE).unlink(missing_ok=True)
        shutil.rmtree(out / "eval", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"grid": args.grid, "step": args.step, "eps": args.eps, "seed": args.seed,
                "max_images": args.max_images}
    if args.checkpoint:
        from hfc_det.classification.fourier_heatmap import checkpoint_heatmap

        record = checkpoint_heatmap(args.checkpoint, settings, out, dataset=args.dataset, data_root=args.data_root,
                                    max_images=args.max_images, batch_size=args.batch_size, device=args.device,
                                    progress=not args.no_progress)
    else:
        from hfc_det.evaluation.fourier_heatmap import detector_heatmap

        record = detector_heatmap(args.config, settings, out, forwarded, max_images=args.max_images,
                                  dataset=args.dataset, progress=not args.no_progress)
    lo, hi = record["range"]
    print(f"heat map ({record['metric']}: {lo:.2f} .. {hi:.2f}) in {os.path.abspath(out)}/heatmap.png "
          "(+ heatmap.npy, heatmap.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
