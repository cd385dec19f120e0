#!/usr/bin/env python
"""Gradient spectra: the mean over test images of |FFT2(dL/dx)|^2 (summed over channels),
L the cross-entropy on the true label, one backward pass per batch, the model in eval mode.
Several checkpoints in one call are drawn side by side and on one radial-profile plot,
e.g. a naturally and an adversarially trained model (Section 6 of the paper predicts that
they differ in how much of their sensitivity lies at high frequencies).

  python tools/gradient_spectrum.py --checkpoint runs/natural runs/adversarial \\
      --label natural adversarial --output out/spectra

Outputs in --output: spectrum.npy ((K, H, W): one mean spectrum per checkpoint, zero
frequency at (H // 2, W // 2)), radial_profile.csv (mean power per ring of integer radius,
one column per checkpoint), spectrum.json (labels, settings, the share of power at radius
>= a quarter of the image side) and spectrum.png.
"""
import argparse
import os
import sys

from hfc_det.classification.gradients import classifier_gradient_spectrum
from hfc_det.classification.tool_support import (
    UserError,
    check_classifier_checkpoint,
    exit_on_user_error,
    load_models,
    load_test_set,
    model_labels,
    resolve_device,
)
from hfc_det.spectrum_plots import write_spectra


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", nargs="+", required=True, metavar="CKPT",
                   help="tools/train_cifar.py run folders or checkpoint.pth files")
    p.add_argument("--label", nargs="+", metavar="NAME", help="one name per checkpoint (default: run folder names)")
    p.add_argument("--dataset", help="test set (default: the one the checkpoints were trained on)")
    p.add_argument("--data-root", default="data", help="torchvision dataset root (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="use only the first N test images")
    p.add_argument("--batch-size", type=int, default=500, help="images per backward pass (default: %(default)s)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    device = resolve_device(args.device)
    for path in args.checkpoint:
        check_classifier_checkpoint(path, "this tool takes classifiers")
    loaded = load_models(args.checkpoint, device)
    models, configs = [m for m, _ in loaded], [c for _, c in loaded]
    labels = model_labels(args.checkpoint, configs, args.label)
    dataset, x, y = load_test_set(args.dataset, configs, models, args.data_root, False, args.max_images)
    spectra = []
    for label, model in zip(labels, models):
        print(f"{label}: {len(x)} images, {-(-len(x) // args.batch_size)} backward passes", flush=True)
        spectra.append(classifier_gradient_spectrum(model, x, y, args.batch_size, device,
                                                    progress=not args.no_progress))
    os.makedirs(args.output, exist_ok=True)
    record = write_spectra(args.output, spectra, labels, "cross-entropy",
                           extra={"dataset": dataset, "images": len(x), "checkpoints": list(args.checkpoint)})
    for label in labels:
        print(f"{label}: share of gradient power at radius >= side/4: {record['high_frequency_share'][label]:.3f}")
    print(f"spectra in {os.path.abspath(args.output)}/spectrum.png (+ spectrum.npy, radial_profile.csv, spectrum.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
