"""The Fourier heat map of a classifier (Yin et al. 2019): error rate on the test images
perturbed along each Fourier basis image of a grid (see :mod:`hfc_det.views.fourier_basis`).

Resumable: every finished cell is recorded (:mod:`hfc_det.analysis.heatmap`), and a re-run with
the same settings evaluates only the cells still missing.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch
from torch import nn

from hfc_det.views.fourier_basis import check_eps, check_grid, half_grid, perturb, perturbation_signs
from hfc_det.analysis.heatmap import Cells, eta_text, load_partial, save_partial
from hfc_det.classification.evaluation import accuracy
from hfc_det.utils.hashing import sha256_file

__all__ = ["classifier_heatmap", "checkpoint_heatmap", "PIXEL_RANGE"]

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


def checkpoint_heatmap(checkpoint, settings: Dict[str, Any], out_dir, *, dataset: Optional[str] = None,
                       data_root: str = "data", max_images: Optional[int] = None, batch_size: int = 1000,
                       device: Optional[str] = "auto", progress: bool = True) -> Dict[str, Any]:
    """tools/fourier_heatmap.py's classifier run: the heat map of a tools/train_cifar.py run
    (folder or ``checkpoint.pth``) on its test set (or ``dataset``), written to ``out_dir``
    as ``heatmap.npy/.json/.png`` (:func:`hfc_det.analysis.heatmap.write_heatmap`, metric
    ``"error"`` in %). ``settings`` as :func:`classifier_heatmap`'s; the checkpoint's hash,
    the dataset and the model name are added to it. Returns the ``heatmap.json`` dict;
    raises one-line errors (:class:`~hfc_det.cli.helpers.UserError`) for bad input."""
    from hfc_det.analysis.heatmap import write_heatmap
    from hfc_det.classification.tool_support import check_classifier_checkpoint, load_models, load_test_set
    from hfc_det.cli.helpers import UserError, resolve_device

    file, state = check_classifier_checkpoint(checkpoint, "for a detector's weights use --config NAME "
                                              "MODEL.WEIGHTS FILE")
    if batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {batch_size}")
    device = resolve_device(device)
    (model, config), = load_models([str(file)], device)
    dataset, x, y = load_test_set(dataset, [config], [model], data_root, False, max_images)
    check_grid(settings["grid"], settings["step"], *x.shape[-2:])
    settings.update(checkpoint_sha256=sha256_file(file), dataset=dataset, model=state["model_name"])
    with torch.no_grad():
        cells, clean = classifier_heatmap(model, x, y, settings, out_dir, batch_size, device, progress=progress)
    return write_heatmap(out_dir, cells, settings, "error", len(x),
                         extra={"clean_error": clean, "checkpoint": str(file), "pixel_range": [0, 1]},
                         title=f"{dataset} {state['model_name']}: error % (clean {clean:.1f}), "
                               f"eps {settings['eps']:g}",
                         label="test error on perturbed images (%)")
