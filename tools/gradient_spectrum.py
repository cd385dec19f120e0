#!/usr/bin/env python
"""Gradient spectra: the mean over test images of |FFT2(dL/dx)|^2 (summed over channels),
L the cross-entropy on the true label, one backward pass per batch, the model in eval mode.
Several checkpoints in one call are drawn side by side and on one radial-profile plot,
e.g. a naturally and an adversarially trained model (Section 6 of the paper predicts that
they differ in how much of their sensitivity lies at high frequencies).

  python tools/gradient_spectrum.py --checkpoint runs/natural runs/adversarial \\
      --label natural adversarial --output out/spectra

A detector (--config): L is the sum of detectron2's own training losses for each image's
ground truth (test-time resize, no flip), the model in training mode with every batch-norm
layer in eval mode (nothing about the model changes); one spectrum per --weights file; the
gradient is taken w.r.t. the network's input image in pixel units. Trailing KEY VALUE pairs
override the config:

  python tools/gradient_spectrum.py --config retinanet_R50_FPN --weights a.pkl b.pkl \\
      --label a b --dataset coco_2017_val --max-images 50 --output out/spectra MODEL.DEVICE cpu

Outputs in --output: spectrum.npy ((K, H, W): one mean spectrum per checkpoint, zero
frequency at (H // 2, W // 2)), radial_profile.csv (mean power per ring of integer radius,
one column per checkpoint), spectrum.json (labels, settings, the share of power at radius
>= a quarter of the image side, the power-weighted mean radius) and spectrum.png.
"""
import argparse
import os
import sys

from hfc_det.cli.helpers import UserError, exit_on_user_error

# the models' packages (torch, detectron2) load after parsing: --help answers at once


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", nargs="+", metavar="CKPT",
                       help="tools/train_cifar.py run folders or checkpoint.pth files")
    model.add_argument("--config", metavar="NAME", help="a detector config (name under configs/ or yaml)")
    p.add_argument("--weights", nargs="+", metavar="FILE",
                   help="detector weights, one spectrum each (default: the config's MODEL.WEIGHTS)")
    p.add_argument("--label", nargs="+", metavar="NAME",
                   help="one name per checkpoint or weights file (default: folder or file names)")
    p.add_argument("--dataset", help="test set (default: the checkpoints' / the config's DATASETS.TEST[0])")
    p.add_argument("--dataset-json", metavar="FILE", help="detector: COCO-format annotation file")
    p.add_argument("--image-root", metavar="DIR", help="detector: folder of the --dataset-json images")
    p.add_argument("--data-root", default="data", help="torchvision dataset root (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="use only the first N test images")
    p.add_argument("--batch-size", type=int, default=500, help="images per backward pass (default: %(default)s)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args, opts = p.parse_known_args(argv)
    if opts and not args.config:
        p.error(f"unrecognized arguments: {' '.join(opts)}")
    if args.weights and not args.config:
        p.error("--weights goes with --config (a detector)")
    args.opts = opts
    return args


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.max_images is not None and args.max_images < 1:
        raise UserError(f"--max-images must be >= 1, got {args.max_images}")
    if args.config:
        from hfc_det.evaluation.gradients import weights_spectra

        spectra, labels, extra = weights_spectra(args.config, args.opts, args.weights, args.label, args.dataset,
                                                 args.dataset_json, args.image_root, args.max_images,
                                                 progress=not args.no_progress)
        what = "detectron2 training losses"
    else:
        from hfc_det.classification.gradients import checkpoint_spectra

        spectra, labels, extra = checkpoint_spectra(args.checkpoint, args.label, args.dataset, args.data_root,
                                                    args.max_images, args.batch_size, args.device,
                                                    progress=not args.no_progress)
        what = "cross-entropy"
    from hfc_det.analysis.spectrum_plots import write_spectra

    os.makedirs(args.output, exist_ok=True)
    record = write_spectra(args.output, spectra, labels, what, extra=extra)
    for label in labels:
        print(f"{label}: share of gradient power at radius >= side/4: {record['high_frequency_share'][label]:.3f}, "
              f"power-weighted mean radius {record['mean_radius'][label]:.2f} bins")
    print(f"spectra in {os.path.abspath(args.output)}/spectrum.png (+ spectrum.npy, radial_profile.csv, spectrum.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
