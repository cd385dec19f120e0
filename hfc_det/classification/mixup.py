"""Mix-up (Zhang et al. 2018): train on convex combinations of pairs of examples."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mixup"]


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, num_classes: int,
          rng: np.random.Generator) -> Tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
    """Mix a batch with a shuffled copy of itself, images and labels with the same weight.

    ``lam ~ Beta(alpha, alpha)`` (one draw per batch, as in the reference implementation);
    ``x' = lam * x + (1 - lam) * x[perm]`` and ``y' = lam * onehot(y) + (1 - lam) * onehot(y[perm])``.

    Args:
        x: ``(N, C, H, W)`` images; y: ``(N,)`` int64 labels.
        alpha: Beta parameter, > 0 (1.0 in the paper).
        rng: numpy generator drawing ``lam`` and the pairing (seeded per epoch by the trainer,
            so a resumed run draws the same).

    Returns:
        ``(x', y', lam, perm)`` with ``y'`` ``(N, num_classes)`` soft targets for
        ``F.cross_entropy``.
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x))).to(x.device)
    onehot = F.one_hot(y, num_classes).to(x.dtype)
    return lam * x + (1 - lam) * x[perm], lam * onehot + (1 - lam) * onehot[perm], lam, perm
