"""Input gradients of a classifier's cross-entropy, for the gradient spectra
(:mod:`hfc_det.analysis.gradient_spectrum`)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfc_det.analysis.gradient_spectrum import power_spectrum

__all__ = ["input_gradients", "classifier_gradient_spectrum"]


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
