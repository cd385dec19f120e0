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
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from hfc_det.cli.helpers import UserError, exit_on_user_error, resolve_device

# hfc_det.views.fourier_basis and hfc_det.analysis.heatmap (torch) load after parsing: --help answers at once.

TOOLS = Path(__file__).resolve().parent


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _classifier(args, settings, out: Path):
    import torch

    from hfc_det.classification.fourier_heatmap import classifier_heatmap
    from hfc_det.classification.tool_support import check_classifier_checkpoint, load_models, load_test_set
    from hfc_det.views.fourier_basis import check_grid
    from hfc_det.analysis.heatmap import write_heatmap

    file, state = check_classifier_checkpoint(args.checkpoint, "for a detector's weights use --config NAME "
                                              "MODEL.WEIGHTS FILE")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    device = resolve_device(args.device)
    (model, config), = load_models([str(file)], device)
    dataset, x, y = load_test_set(args.dataset, [config], [model], args.data_root, False, args.max_images)
    check_grid(args.grid, args.step, *x.shape[-2:])
    settings.update(checkpoint_sha256=_sha256(file), dataset=dataset, model=state["model_name"])
    with torch.no_grad():
        cells, clean = classifier_heatmap(model, x, y, settings, out, args.batch_size, device,
                                          progress=not args.no_progress)
    return write_heatmap(out, cells, settings, "error", len(x),
                         extra={"clean_error": clean, "checkpoint": str(file), "pixel_range": [0, 1]},
                         title=f"{dataset} {state['model_name']}: error % (clean {clean:.1f}), eps {args.eps:g}",
                         label="test error on perturbed images (%)")


def _detector(args, settings, out: Path, forwarded):
    from hfc_det.views.fourier_basis import half_grid
    from hfc_det.analysis.heatmap import write_heatmap
    from hfc_det.metrics.results import load_results_folder as load_results
    from hfc_det.views.grammar import fourier_view_name

    if args.seed != 0:
        raise UserError("--seed: a detector's heat map uses the fourier views' fixed seed 0")
    cells = half_grid(args.grid, args.step)
    names = [fourier_view_name(u, v, args.eps) for u, v in cells]
    eval_dir = out / "eval"
    cmd = [sys.executable, str(TOOLS / "eval_lfc.py"), "--config", args.config, "--output", str(eval_dir),
           "--views", "original", *names]
    if args.max_images:
        cmd += ["--max-images", str(args.max_images)]
    if args.dataset:
        cmd += ["--dataset", args.dataset]
    if args.no_progress:
        cmd += ["--no-progress"]
    cmd += list(forwarded)
    print(f"{len(cells)} cells (half of the {2 * len(cells) - 1}-cell grid by symmetry) + the original, "
          f"x {args.max_images or 'every'} image(s): that many detector passes per image; "
          "progress and ETA from eval_lfc.py below", flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        # eval_lfc.py has printed its one-line error: a second line would only repeat it
        raise SystemExit(done.returncode)
    results = load_results(eval_dir)
    original = results.ap["original"]
    values = {}
    for (u, v), name in zip(cells, names):
        ap = results.variants[name].get("AP")
        drop = original - results.ap[name]
        defined = drop[~np.isnan(drop)]
        values[(u, v)] = {"100 - AP": float("nan") if ap is None else 100.0 - ap,
                          "AP": float("nan") if ap is None else float(ap),
                          "ap_drop": float(100.0 * defined.mean()) if defined.size else float("nan")}
    clean = results.variants["original"].get("AP")
    settings.update(config=args.config, eval_output=str(eval_dir))
    return write_heatmap(out, values, settings, "100 - AP", int(results.image_ids.size),
                         extra={"clean_AP": clean, "pixel_range": [0, 255]},
                         title=f"detector {Path(args.config).stem}: 100 - AP (clean AP {clean or float('nan'):.1f}), "
                               f"eps {args.eps:g}", label="100 - COCO AP on perturbed images")


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
    record = _classifier(args, settings, out) if args.checkpoint else _detector(args, settings, out, forwarded)
    lo, hi = record["range"]
    print(f"heat map ({record['metric']}: {lo:.2f} .. {hi:.2f}) in {os.path.abspath(out)}/heatmap.png "
          "(+ heatmap.npy, heatmap.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
