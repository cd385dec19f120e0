"""``FrequencyDatasetMapper``: decode an image once, give the model all its frequency views.

Test-time only. For each dataset dict it reads the image as detectron2's ``DatasetMapper``
does (``utils.read_image``, which applies the EXIF orientation and converts grayscale,
RGBA and CMYK to ``cfg.INPUT.FORMAT``; 16-bit and float files, which that would clip, are
scaled from their real range instead: :func:`read_image`), applies the test-time ``ResizeShortestEdge`` and
returns every requested view as a float32 ``CHW`` tensor in the 0-255 pixel scale,
without a uint8 round trip: the low-frequency view's overshoot past 0 and 255 and the
high-frequency view's negative values reach the model untouched.

Resizing: every view is resized as float with ``torch.nn.functional.interpolate(...,
antialias=True)``. detectron2's ``ResizeTransform`` resizes uint8 with PIL (antialiased)
but float with plain ``interpolate`` (no antialiasing, so a downscaled image aliases);
resizing all views the same linear way keeps ``resize(low) + resize(high) ==
resize(original)``, and the antialiased filter is PIL's bilinear filter (the original view
differs from detectron2's uint8 path only by PIL's rounding to integers).

Corruption views (``corrupt_{name}_s{severity}``, :mod:`hfc_det.views.corruptions`) are made
from the decoded uint8 image at its own size, before the resize, whatever ``HFC.FILTER_STAGE``
says: that is the benchmark's definition (mmdetection's ``test_robustness`` corrupts the loaded
image), and a corruption's parameters (blur sigmas in pixels, JPEG blocks of 8 px, frost
textures) are meant for the image's own pixels. ``after_resize`` therefore moves only the
Fourier/SVD/noise views; the corrupted image is resized like every view.
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
from hfc_det.utils.image_decoding import UnsupportedImageError, needs_rescaling, read_rgb
from hfc_det.views.corruptions import CORRUPTION_KIND, MIN_CORRUPTION_SIZE, corrupt_decoded
from hfc_det.views.frequency import rescale_by_max
from hfc_det.views.grammar import check_fourier_views, compute_views, parse_view

__all__ = ["FrequencyDatasetMapper", "scale_high_frequency", "resize_views", "model_inputs", "read_image"]

logger = logging.getLogger(__name__)

_TORCH_MODE = {Image.BILINEAR: "bilinear", Image.BICUBIC: "bicubic", Image.NEAREST: "nearest"}


def read_image(file_name: str, format: str = "BGR") -> np.ndarray:  # noqa: A002  (detectron2's name)
    """An image file as ``(H, W, C)`` pixels in the 0..255 range in ``format`` (``RGB``,
    ``BGR`` or ``L``): detectron2's ``read_image`` for 8-bit files (the same array, ``uint8``);
    16-bit and float files scaled from their real range, ``float32``
    (:func:`hfc_det.utils.image_decoding.read_rgb`, which raises a one-line
    ``UnsupportedImageError`` for an image whose range is unknown)."""
    if not needs_rescaling(file_name):
        return utils.read_image(file_name, format=format)
    rgb = read_rgb(file_name)
    if format == "RGB":
        return rgb
    if format == "BGR":
        return np.ascontiguousarray(rgb[:, :, ::-1])
    if format == "L":  # Pillow's luma weights (ITU-R 601-2), as convert("L") uses
        return (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]
    raise UnsupportedImageError(f"INPUT.FORMAT {format!r} is not read for 16-bit or float images "
                                f"(use RGB or BGR)")


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
        parsed = [parse_view(v) for v in self.views]  # a ValueError names a bad view
        self.kinds = [kind for kind, _ in parsed]
        # corruption views come from the decoded uint8 image, before the resize (module doc)
        self.corruptions = [(v, p) for v, (kind, p) in zip(self.views, parsed) if kind == CORRUPTION_KIND]
        self.filtered_views = [v for v, kind in zip(self.views, self.kinds) if kind != CORRUPTION_KIND]
        if self.corruptions and image_format not in ("RGB", "BGR"):
            raise ValueError(f"corruption views need INPUT.FORMAT RGB or BGR, got {image_format!r}")
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

    def _filter_size(self, image: np.ndarray, tfms: List[T.Transform]) -> tuple:
        """``(height, width)`` at which the Fourier views are computed (``HFC.FILTER_STAGE``)."""
        size = tuple(image.shape[:2])
        if self.filter_stage != "before_resize":
            for tfm in tfms:
                if isinstance(tfm, T.ResizeTransform):
                    size = (tfm.new_h, tfm.new_w)
        return size

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
        if self.filtered_views == ["original"]:
            return image[None]
        # one forward FFT for every Fourier view (hfc_det.views.grammar.compute_views)
        return torch.stack(list(compute_views(image, self.filtered_views, seed=image_id).values()))

    def __call__(self, dataset_dict: dict) -> dict:
        out = {k: dataset_dict[k] for k in ("file_name", "image_id", "height", "width") if k in dataset_dict}
        try:
            image = read_image(dataset_dict["file_name"], self.image_format)
            utils.check_image_size(out, image)
            tfms = self._transforms(image)
            check_fourier_views(self.filtered_views, *self._filter_size(image, tfms))
            if self.corruptions and min(image.shape[:2]) < MIN_CORRUPTION_SIZE:
                raise ValueError(f"image of {image.shape[0]}x{image.shape[1]} px is smaller than the "
                                 f"{MIN_CORRUPTION_SIZE}x{MIN_CORRUPTION_SIZE} px corruptions need")
        except Exception as e:  # noqa: BLE001  an image we cannot read or size is skipped, never a crash
            reason = f"{type(e).__name__}: {e}".strip()
            logger.warning("skipping image %s (%s)", dataset_dict.get("file_name"), reason)
            out["skipped"] = reason
            return out
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
        image_id = int(dataset_dict.get("image_id", 0))
        computed: Dict[str, torch.Tensor] = {}
        if self.filtered_views:
            if self.filter_stage == "before_resize":
                stacked = self._apply(self._frequency_views(x, image_id), tfms)
            else:
                stacked = self._frequency_views(self._apply(x[None], tfms)[0], image_id)
            computed.update(zip(self.filtered_views, stacked))
        if self.corruptions:
            # a 16-bit or float image is float32 here, already in 0..255: no clipping in the cast
            decoded = image if image.dtype == np.uint8 else np.rint(image).astype(np.uint8)
            corrupted = corrupt_decoded(decoded, [p for _, p in self.corruptions], image_id, self.image_format)
            computed.update(zip([v for v, _ in self.corruptions], self._apply(corrupted, tfms)))
        views: Dict[str, torch.Tensor] = {}
        for name, kind in zip(self.views, self.kinds):
            v = computed[name]
            if kind == "high":
                v = scale_high_frequency(v, self.hfc_scaling)
            views[name] = v.contiguous()
        out["views"] = views
        return out
