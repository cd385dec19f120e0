"""Batched accuracy of a classifier on several views of the same images."""
from __future__ import annotations

import contextlib
from typing import Dict, Mapping

import torch
from torch import nn

__all__ = ["accuracy_per_view", "accuracy", "autocast_for"]


def autocast_for(device: torch.device, enabled: bool = True):
    """bfloat16 autocast on CUDA (no loss scaling needed); a no-op context elsewhere."""
    if enabled and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _prepare(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True).float()
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 1000, device=None, amp: bool = True) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``(N, C, H, W)`` images and ``(N,)`` labels."""
    return accuracy_per_view(model, {"x": images}, labels, batch_size, device, amp)["x"]


@torch.no_grad()
def accuracy_per_view(model: nn.Module, views: Mapping[str, torch.Tensor], labels: torch.Tensor,
                      batch_size: int = 1000, device=None, amp: bool = True) -> Dict[str, float]:
    """Top-1 accuracy of ``model`` on each view, in eval mode, in batches.

    Args:
        model: classifier returning ``(N, K)`` logits; it is put in ``eval()`` and its
            previous mode restored afterwards.
        views: view name -> ``(N, C, H, W)`` float images (any device, any float dtype),
            all for the same ``N`` images.
        labels: ``(N,)`` int64 labels shared by every view.
        batch_size: images per forward pass.
        device: where to run; default the model's device.
        amp: bfloat16 autocast on CUDA.

    Returns:
        ``{name: accuracy in [0, 1]}`` in the order of ``views``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    labels_dev = labels.to(device)
    result: Dict[str, float] = {}
    try:
        for name, images in views.items():
            if len(images) != len(labels):
                raise ValueError(f"view {name!r} has {len(images)} images but there are {len(labels)} labels")
            # Counts stay on the device: one synchronisation per view, not per batch.
            correct = torch.zeros((), dtype=torch.int64, device=device)
            for start in range(0, len(images), batch_size):
                x = _prepare(images[start:start + batch_size], device)
                with autocast_for(device, amp):
                    pred = model(x).argmax(dim=1)
                correct += (pred == labels_dev[start:start + batch_size]).sum()
            result[name] = correct.item() / max(len(labels), 1)
    finally:
        model.train(was_training)
    return result
