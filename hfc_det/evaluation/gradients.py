"""Input-gradient spectra of a detector: detectron2's own training losses for each image's
ground truth, differentiated with respect to the input image (see
:mod:`hfc_det.analysis.gradient_spectrum`).

The model runs in training mode, because detectron2 detectors only compute losses there,
with every normalisation layer put back in eval mode: batch statistics are neither used nor
updated, and RetinaNet's running loss normaliser is restored after each image
(:func:`training_losses`): the gradient is that of the model as it is, and nothing about it
changes.
"""
from __future__ import annotations

import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.data import DatasetCatalog, DatasetMapper
from detectron2.data import transforms as T
from detectron2.utils.events import EventStorage

from hfc_det.analysis.gradient_spectrum import power_spectrum

from hfc_det.evaluation.run import build_eval_model

__all__ = ["freeze_norm_layers", "training_losses", "detector_input_gradient", "detector_gradient_spectrum",
           "weights_spectra"]

logger = logging.getLogger("hfc_det")


def freeze_norm_layers(model: nn.Module) -> nn.Module:
    """``model.train()`` with every batch-norm layer (any ``_NormBase``) in eval mode."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase):
            module.eval()
    return model


def _loss_mapper(cfg) -> DatasetMapper:
    # Ground truth with the test-time resize only: no random flip or scale jitter.
    return DatasetMapper(is_train=True, image_format=cfg.INPUT.FORMAT,
                         augmentations=[T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)])


_RUNNING_ATTRIBUTES = ("loss_normalizer",)


def training_losses(model: nn.Module, model_input: dict) -> Dict[str, torch.Tensor]:
    """The model's training losses for one input dict, leaving the model as it was.

    RetinaNet and FCOS keep a running ``loss_normalizer`` (an EMA of the number of foreground
    anchors, created by the first training forward; not saved in checkpoints) that every
    training-mode forward updates: it is put back as it was (removed if it was absent), so
    every image's loss is normalised alike (on a freshly loaded model, as in the first
    training iteration: ``0.9 * 100 + 0.1 * foreground anchors``) and the model does not change.
    """
    missing = object()
    saved = {(m, a): getattr(m, a, missing) for m in model.modules() for a in _RUNNING_ATTRIBUTES}
    try:
        with EventStorage():  # a training-mode forward logs statistics to detectron2's storage
            return model([model_input])
    finally:
        for (module, attribute), value in saved.items():
            if value is missing:
                if attribute in vars(module):
                    delattr(module, attribute)
            else:
                setattr(module, attribute, value)


def detector_input_gradient(model: nn.Module, mapped: dict) -> Tuple[torch.Tensor, Dict[str, float]]:
    """``(dL/dx, losses)`` for one mapped image (``DatasetMapper(is_train=True)`` output):
    ``L`` the sum of the model's training losses; ``x`` the ``(C, H, W)`` float input image
    in pixel units, the gradient the same shape."""
    image = mapped["image"]
    x = (image if image.is_floating_point() else image.to(torch.float32)).detach().requires_grad_(True)
    losses = training_losses(model, {**mapped, "image": x})
    total = sum(losses.values())
    (grad,) = torch.autograd.grad(total, x)
    return grad, {k: float(v.detach()) for k, v in losses.items()}


def detector_gradient_spectrum(cfg, dataset_name: str, max_images: Optional[int] = None,
                               progress: bool = True) -> Tuple[np.ndarray, dict]:
    """Mean channel-summed ``|FFT2(dL/dx)|^2`` over the images of ``dataset_name``.

    Returns ``(spectrum, info)``: ``(H, W)`` float64 with the zero frequency at
    ``(H // 2, W // 2)``, ``H x W`` the first image's network input size; spectra of other
    sizes are resampled (bilinear) to it, i.e. averaged per frequency in cycles per pixel.
    ``info``: images, resampled count, mean losses.
    """
    from tqdm.auto import tqdm

    model = freeze_norm_layers(build_eval_model(cfg))
    mapper = _loss_mapper(cfg)
    dicts = DatasetCatalog.get(dataset_name)
    dicts = dicts if max_images is None else dicts[:max_images]
    total, resampled, loss_sums = None, 0, {}
    for d in tqdm(dicts, desc="gradients", unit="img", disable=not progress):
        mapped = mapper(dict(d))
        grad, losses = detector_input_gradient(model, mapped)
        power = power_spectrum(grad[None])[0]
        if total is not None and power.shape != total.shape:
            resampled += 1
            power = F.interpolate(torch.from_numpy(power)[None, None], size=total.shape, mode="bilinear",
                                  align_corners=False)[0, 0].numpy()
        total = power if total is None else total + power
        for k, v in losses.items():
            loss_sums[k] = loss_sums.get(k, 0.0) + v
    if total is None:
        raise ValueError(f"dataset {dataset_name} has no images")
    n = len(dicts)
    return total / n, {"images": n, "resampled": resampled, "mean_losses": {k: v / n for k, v in loss_sums.items()}}


def weights_spectra(config: str, overrides: Sequence[str] = (), weights: Optional[Sequence[str]] = None,
                    labels: Optional[Sequence[str]] = None, dataset: Optional[str] = None,
                    dataset_json: Optional[str] = None, image_root: Optional[str] = None,
                    max_images: Optional[int] = None, progress: bool = True
                    ) -> Tuple[List[np.ndarray], List[str], dict]:
    """tools/gradient_spectrum.py's detector run: one :func:`detector_gradient_spectrum` per
    weights file (default: the config's MODEL.WEIGHTS) of ``config`` with ``overrides``, on
    ``dataset`` (a registered name, default the config's DATASETS.TEST[0]; or a COCO json
    with ``dataset_json`` and ``image_root``).

    Returns ``(spectra, labels, extra)``: ``labels`` default to the weights files' names;
    ``extra`` (for ``spectrum.json``): dataset, config, per-run info, image count. Raises
    one-line errors for a bad config, override, device, weights file or dataset.
    """
    from hfc_det.cli.helpers import UserError
    from hfc_det.config import check_device, get_cfg
    from hfc_det.data import resolve_dataset

    cfg = get_cfg(config, list(overrides))  # one-line errors for a bad config or override
    check_device(cfg)  # the one CUDA policy: refused in one line without a CUDA device
    weights = list(weights or [cfg.MODEL.WEIGHTS])
    for w in weights:
        if w and "://" not in w and not os.path.isfile(w):
            raise FileNotFoundError(f"weights file not found: {os.path.abspath(w)}")
    labels = list(labels or [os.path.splitext(os.path.basename(w))[0] or "random-init" for w in weights])
    if len(labels) != len(weights):
        raise UserError(f"--label gives {len(labels)} names for {len(weights)} weights files")
    if dataset_json or image_root:
        dataset = resolve_dataset(dataset, dataset_json, image_root)
    else:
        dataset = resolve_dataset(dataset or cfg.DATASETS.TEST[0])
    spectra, infos = [], []
    for label, w in zip(labels, weights):
        cfg.defrost()
        cfg.MODEL.WEIGHTS = w
        print(f"{label}: one backward pass per image of {dataset}", flush=True)
        spectrum, info = detector_gradient_spectrum(cfg, dataset, max_images, progress=progress)
        spectra.append(spectrum)
        infos.append({"label": label, "weights": w, **info})
    return spectra, labels, {"dataset": dataset, "config": config, "runs": infos, "images": infos[0]["images"]}
