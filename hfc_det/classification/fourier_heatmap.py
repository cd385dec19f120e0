"""The Fourier heat map of a classifier (Yin et al. 2019): error rate on the test images
perturbed along each Fourier basis image of a grid (see :mod:`hfc_det.views.fourier_basis`).

Resumable: every finished cell is recorded (:mod:`hfc_det.analysis.heatmap`), and a re-run with
the same settings evaluates only the cells still missing.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Tuple

import torch
from torch import nn

from hfc_det.views.fourier_basis import check_eps, check_grid, half_grid, perturb, perturbation_signs
from hfc_det.analysis.heatmap import Cells, eta_text, load_partial, save_partial
from hfc_det.classification.evaluation import accuracy

__all__ = ["classifier_heatmap", "PIXEL_RANGE"]

#: The classification pipeline's pixels are floats in [0, 1]: perturbed images are clipped to it.
PIXEL_RANGE = (0.0, 1.0)


def classifier_heatmap(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: Mapping[str, Any],
                       out_dir, batch_size: int = 1000, device=None, progress: bool = True,
                       say: Callable[[str], None] = print) -> Tuple[Cells, float]:
    """Error rate (%, 0-100) of ``model`` per cell of the half grid.

    Args:
        images: ``(N, C, H, W)`` float test images in [0, 1]; labels: ``(N,)`` int64.
        settings: ``grid`` (K), ``step`` (bins), ``eps`` (L2 norm per channel, [0, 1] pixel
            units), ``seed`` (of the random signs), and anything else that identifies the
            run (checkpoint hash, dataset, images) for the resume record in ``out_dir``.

    Returns:
        ``(cells, clean_error)``: ``cells[(u, v)] = {"error": %}`` for every cell of
        :func:`~hfc_det.views.fourier_basis.half_grid`, and the error on the clean images (%).
    """
    grid, step, eps, seed = settings["grid"], settings["step"], check_eps(settings["eps"]), settings["seed"]
    check_grid(grid, step, *images.shape[-2:])
    cells = half_grid(grid, step)
    done = load_partial(out_dir, settings)
    todo = [c for c in cells if c not in done]
    signs = perturbation_signs(images, seed)
    clock = time.perf_counter()
    clean_error = 100.0 * (1.0 - accuracy(model, images, labels, batch_size, device, amp=False))
    per_cell = time.perf_counter() - clock  # one pass over the images: the cost of a cell
    say(f"{len(cells)} cells (half of the {len(cells) * 2 - 1}-cell grid by symmetry), {len(todo)} to do, "
        f"x {len(images)} images = {len(todo) * len(images)} forward passes; ETA ~{eta_text(per_cell * len(todo))}")
    from tqdm.auto import tqdm

    for u, v in tqdm(todo, desc="heat-map cells", unit="cell", disable=not progress):
        x = perturb(images, u, v, eps, *PIXEL_RANGE, signs=signs)
        done[(u, v)] = {"error": 100.0 * (1.0 - accuracy(model, x, labels, batch_size, device, amp=False))}
        save_partial(out_dir, settings, done)
    return {c: done[c] for c in cells}, clean_error
