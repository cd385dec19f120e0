"""L-infinity FGSM and PGD on [0, 1] pixels with the cross-entropy loss.

A small implementation rather than ``torchattacks``: its only release (3.5.1) pins
``requests~=2.25.1`` (it would downgrade the environment's requests) and it switches the
model's train/eval mode itself, which adversarial training needs to control.

The attacks never change the model's mode or its parameters' gradients (gradients are
taken with respect to the input only): put the model in ``eval()`` first to attack a
deployed model. They run under whatever autocast context the caller set up.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["fgsm", "pgd"]


def _check(x: torch.Tensor, eps: float) -> float:
    eps = float(eps)
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    if x.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise TypeError(f"images must be floating point in [0, 1], got {x.dtype}")
    return eps


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    # Summed, not averaged, so the gradient's sign never underflows for large batches.
    loss = F.cross_entropy(model(x).float(), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015).

    Args:
        model: maps ``(N, C, H, W)`` images to ``(N, K)`` logits.
        x: ``(N, C, H, W)`` images in [0, 1].
        y: ``(N,)`` int64 labels.
        eps: L-inf budget in pixel units of [0, 1] (e.g. 0.03).

    Returns:
        ``clamp(x + eps * sign(grad_x CE), 0, 1)``, detached, same shape and dtype as ``x``.
    """
    eps = _check(x, eps)
    grad = _input_gradient(model, x, y)
    return (x.detach() + eps * grad.sign()).clamp_(0.0, 1.0)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int = 10,
    step_size: Optional[float] = None,
    random_start: bool = False,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Projected gradient descent, L-inf (Madry et al. 2018), as in the authors' code.

    Each step moves ``step_size * sign(grad)`` and projects back onto the eps-ball around
    ``x`` intersected with [0, 1].

    Args:
        model, x, y, eps: as for :func:`fgsm`.
        steps: number of gradient steps (10 in the paper).
        step_size: per-step size in pixel units; default ``eps / 10`` (the authors' choice).
        random_start: start from a uniform point in the eps-ball (off for the paper's
            adversarial training); uses ``generator`` when given.

    Returns:
        Adversarial images, detached, with ``|adv - x| <= eps`` and values in [0, 1].
    """
    eps = _check(x, eps)
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    alpha = eps / 10.0 if step_size is None else float(step_size)
    x0 = x.detach()
    lower, upper = (x0 - eps).clamp(min=0.0), (x0 + eps).clamp(max=1.0)
    adv = x0.clone()
    if random_start:
        device = x0.device if generator is None else generator.device
        noise = torch.rand(x0.shape, generator=generator, device=device)
        adv = adv + (noise.to(x0.device, x0.dtype) * 2 - 1) * eps
        adv = torch.max(torch.min(adv, upper), lower)
    for _ in range(int(steps)):
        grad = _input_gradient(model, adv, y)
        adv = torch.max(torch.min(adv.detach() + alpha * grad.sign(), upper), lower)
    return adv
