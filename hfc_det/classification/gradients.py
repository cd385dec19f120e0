"""Input gradients of a classifier's cross-entropy, for the gradient spectra
(:mod:`hfc_det.analysis.gradient_spectrum`)."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfc_det.analysis.gradient_spectrum import power_spectrum

__all__ = ["input_gradients", "classifier_gradient_spectrum", "checkpoint_spectra"]


def input_gradients(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``dL_n / dx_n`` for each image, ``L_n`` the cross-entropy on its true label, model in
    eval mode (so that no image's gradient depends on the others in its batch).

    ``images``: ``(N, C, H, W)`` float; returns the same shape, on the images' device.
    """
    was_training = model.training
    model.eval()
    try:
        x = images.detach().clone()
        x = (x if x.is_floating_point() else x.float()).requires_grad_(True)
        # A sum of per-image losses: its gradient w.r.t. x_n is exactly dL_n/dx_n.
        loss = F.cross_entropy(model(x), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    finally:
        model.train(was_training)
    return grad


def classifier_gradient_spectrum(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                                 batch_size: int = 500, device=None, progress: bool = False) -> np.ndarray:
    """Mean over images of the channel-summed ``|FFT2(dL/dx)|^2``: ``(H, W)`` float64,
    zero frequency at ``(H // 2, W // 2)``; one backward pass per batch."""
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else next(model.parameters()).device
    total = None
    for start in tqdm(range(0, len(images), batch_size), desc="gradients", unit="batch", disable=not progress):
        x = images[start:start + batch_size].to(device)
        y = labels[start:start + batch_size].to(device)
        part = power_spectrum(input_gradients(model, x, y)).sum(axis=0)
        total = part if total is None else total + part
    return total / len(images)


def checkpoint_spectra(checkpoints: Sequence[str], labels: Optional[Sequence[str]] = None,
                       dataset: Optional[str] = None, data_root: str = "data", max_images: Optional[int] = None,
                       batch_size: int = 500, device: Optional[str] = "auto", progress: bool = True
                       ) -> Tuple[List[np.ndarray], List[str], dict]:
    """tools/gradient_spectrum.py's classifier run: one :func:`classifier_gradient_spectrum`
    per tools/train_cifar.py run (folder or ``checkpoint.pth``) on their test set (or
    ``dataset``). Returns ``(spectra, labels, extra)``: ``labels`` default to the runs'
    names; ``extra`` (for ``spectrum.json``): dataset, image count, checkpoints. Raises
    one-line errors for a file that is not such a checkpoint."""
    from hfc_det.classification.tool_support import (
        check_classifier_checkpoint,
        load_models,
        load_test_set,
        model_labels,
    )
    from hfc_det.cli.helpers import resolve_device

    device = resolve_device(device)
    for path in checkpoints:
        check_classifier_checkpoint(path, "this tool takes classifiers")
    loaded = load_models(checkpoints, device)
    models, configs = [m for m, _ in loaded], [c for _, c in loaded]
    labels = model_labels(checkpoints, configs, labels)
    dataset, x, y = load_test_set(dataset, configs, models, data_root, False, max_images)
    spectra = []
    for label, model in zip(labels, models):
        print(f"{label}: {len(x)} images, {-(-len(x) // batch_size)} backward passes", flush=True)
        spectra.append(classifier_gradient_spectrum(model, x, y, batch_size, device, progress=progress))
    return spectra, labels, {"dataset": dataset, "images": len(x), "checkpoints": list(checkpoints)}
