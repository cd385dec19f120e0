"""``FrequencyDatasetMapper``: decode an image once, give the model all its frequency views.

Test-time only. For each dataset dict it reads the image as detectron2's ``DatasetMapper``
does (``utils.read_image``, which applies the EXIF orientation and converts grayscale,
RGBA and CMYK to ``cfg.INPUT.FORMAT``), applies the test-time ``ResizeShortestEdge`` and
returns every requested view as a float32 ``CHW`` tensor in the 0-255 pixel scale,
without a uint8 round trip: the low-frequency view's overshoot past 0 and 255 and the
high-frequency view's negative values reach the model untouched.

Resizing: every view is resized as float with ``torch.nn.functional.interpolate(...,
antialias=True)``. detectron2's ``ResizeTransform`` resizes uint8 with PIL (antialiased)
but float with plain ``interpolate`` (no antialiasing, so a downscaled image aliases);
resizing all views the same linear way keeps ``resize(low) + resize(high) ==
resize(original)``, and the antialiased filter is PIL's bilinear filter (the original view
differs from detectron2's uint8 path only by PIL's rounding to integers).
"""
from __future__ import annotations

import logging
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T

from hfc_det.config import FILTER_STAGES, HFC_SCALINGS, views_from_cfg
from hfc_det.views.frequency import rescale_by_max
from hfc_det.views.grammar import compute_views, parse_view

__all__ = ["FrequencyDatasetMapper", "scale_high_frequency", "resize_views", "model_inputs"]

logger = logging.getLogger(__name__)

_TORCH_MODE = {Image.BILINEAR: "bilinear", Image.BICUBIC: "bicubic", Image.NEAREST: "nearest"}


def scale_high_frequency(view: torch.Tensor, scaling: str) -> torch.Tensor:
    """Scale a high-frequency image (any shape) before the model.

    ``"none"``: unchanged. ``"max"``: the authors' ``view / view.max() * 255`` (left unchanged
    when the maximum is not positive, where the formula has no meaning). ``"minmax"``:
    ``(view - min) / (max - min) * 255`` (all zeros for a constant image).
    """
    if scaling == "none":
        return view
    if scaling == "max":
        return rescale_by_max(view[None], peak_value=255.0, eps=0.0)[0]
    if scaling == "minmax":
        lo, hi = view.min(), view.max()
        return (view - lo) / (hi - lo) * 255.0 if hi > lo else torch.zeros_like(view)
    raise ValueError(f"unknown HFC scaling {scaling!r}; expected one of {list(HFC_SCALINGS)}")


def resize_views(views: torch.Tensor, height: int, width: int, interp=Image.BILINEAR) -> torch.Tensor:
    """Resize float images ``(N, C, H, W)`` to ``(N, C, height, width)``, antialiased."""
    if tuple(views.shape[-2:]) == (height, width):
        return views
    mode = _TORCH_MODE[interp]
    kwargs = {} if mode == "nearest" else {"align_corners": False, "antialias": True}
    return F.interpolate(views, size=(height, width), mode=mode, **kwargs)


def model_inputs(mapped: dict, views: Sequence[str] = ()) -> List[dict]:
    """The RetinaNet/GeneralizedRCNN inputs for the views of one mapped image, in order.

    Each is ``{"image": CHW float tensor, "height": h, "width": w}`` with the original
    image size, so that the model returns boxes in original-image coordinates.
    """
    names = list(views) or list(mapped["views"])
    return [{"image": mapped["views"][v], "height": mapped["height"], "width": mapped["width"]} for v in names]


class FrequencyDatasetMapper(DatasetMapper):
    """A test-time ``DatasetMapper`` whose output carries every frequency view of an image.

    Returns ``{"file_name", "image_id", "height", "width", "views": {view: (C, H', W') float32}}``
    (``H', W'`` the test-time size), or, for an image that cannot be read or that the
    test-time resize would shrink to zero rows or columns (e.g. 3x2000 px), the same keys
    without ``"views"`` and with ``"skipped": "<reason>"`` (logged as a warning).
    Use it with ``build_detection_test_loader(cfg, name, mapper=FrequencyDatasetMapper(cfg))``.
    """

    @configurable
    def __init__(
        self,
        is_train: bool = False,
        *,
        augmentations,
        image_format: str,
        views: Sequence[str],
        filter_stage: str = "before_resize",
        hfc_scaling: str = "none",
        **kwargs,
    ):
        if is_train:
            raise ValueError("FrequencyDatasetMapper is for evaluation only (is_train=False)")
        super().__init__(is_train=False, augmentations=augmentations, image_format=image_format, **kwargs)
        if filter_stage not in FILTER_STAGES:
            raise ValueError(f"filter_stage must be one of {list(FILTER_STAGES)}, got {filter_stage!r}")
        if hfc_scaling not in HFC_SCALINGS:
            raise ValueError(f"hfc_scaling must be one of {list(HFC_SCALINGS)}, got {hfc_scaling!r}")
        self.views = list(views)
        self.kinds = [parse_view(v)[0] for v in self.views]  # a ValueError names a bad view
        self.filter_stage = filter_stage
        self.hfc_scaling = hfc_scaling

    @classmethod
    def from_config(cls, cfg, is_train: bool = False):
        ret = super().from_config(cfg, is_train=False)
        ret.update(
            views=views_from_cfg(cfg),
            filter_stage=cfg.HFC.FILTER_STAGE,
            hfc_scaling=cfg.HFC.HFC_SCALING,
        )
        return ret

    def _transforms(self, image: np.ndarray) -> List[T.Transform]:
        # Only the geometry of each test-time augmentation is needed here (the image itself
        # is resized later, as float): ask each for its transform on a same-shape stand-in.
        tfms, shape = [], image.shape
        for aug in self.augmentations.augs:
            tfm = aug.get_transform(np.broadcast_to(np.zeros((), image.dtype), shape))
            tfms.append(tfm)
            if isinstance(tfm, T.ResizeTransform):
                shape = (tfm.new_h, tfm.new_w) + tuple(shape[2:])
        if min(shape[:2]) < 1:
            # A 3x2000 image at a 160 px longest edge rounds to 0 rows: no size to evaluate at.
            raise ValueError(
                f"image of {image.shape[0]}x{image.shape[1]} px is too thin for the test-time resize "
                f"(it would become {shape[0]}x{shape[1]} px)"
            )
        return tfms

    def _apply(self, views: torch.Tensor, tfms: List[T.Transform]) -> torch.Tensor:
        """Apply the test-time transforms to float images ``(N, C, H, W)``."""
        for tfm in tfms:
            if isinstance(tfm, T.NoOpTransform):
                continue
            if isinstance(tfm, T.ResizeTransform):
                views = resize_views(views, tfm.new_h, tfm.new_w, tfm.interp)
            else:  # any other transform: detectron2's own float path, image by image (HWC)
                views = torch.stack([
                    torch.from_numpy(np.ascontiguousarray(tfm.apply_image(v.permute(1, 2, 0).numpy()))).permute(2, 0, 1)
                    for v in views
                ])
        return views

    def _frequency_views(self, image: torch.Tensor, image_id: int) -> torch.Tensor:
        """``(C, H, W)`` float -> the requested views stacked ``(V, C, H, W)``, in order.

        ``image_id`` seeds the noise of the control views (the same in every process and run).
        """
        if self.views == ["original"]:
            return image[None]
        # one forward FFT for every Fourier view (hfc_det.views.grammar.compute_views)
        return torch.stack(list(compute_views(image, self.views, seed=image_id).values()))

    def __call__(self, dataset_dict: dict) -> dict:
        out = {k: dataset_dict[k] for k in ("file_name", "image_id", "height", "width") if k in dataset_dict}
        try:
            image = utils.read_image(dataset_dict["file_name"], format=self.image_format)
            utils.check_image_size(out, image)
            tfms = self._transforms(image)
        except Exception as e:  # noqa: BLE001  an image we cannot read or size is skipped, never a crash
            reason = f"{type(e).__name__}: {e}".strip()
            logger.warning("skipping image %s (%s)", dataset_dict.get("file_name"), reason)
            out["skipped"] = reason
            return out
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
        image_id = int(dataset_dict.get("image_id", 0))
        if self.filter_stage == "before_resize":
            stacked = self._apply(self._frequency_views(x, image_id), tfms)
        else:
            stacked = self._frequency_views(self._apply(x[None], tfms)[0], image_id)
        views: Dict[str, torch.Tensor] = {}
        for name, kind, v in zip(self.views, self.kinds, stacked):
            if kind == "high":
                v = scale_high_frequency(v, self.hfc_scaling)
            views[name] = v.contiguous()
        out["views"] = views
        return out
