"""Decode any image file into the detector's pixel scale: RGB, 8-bit range (0..255).

Pillow's ``convert("RGB")`` clips what is not 8-bit: a 16-bit PNG (mode ``I;16``) becomes all
255 and a float TIFF in [0, 1] all 0, and the model then sees a blank image without a word.
Here every image is scaled from its real range instead:

- 8-bit images (``L``, ``P``, ``RGB``, ``RGBA``, ``CMYK``, ...): Pillow's own conversion to RGB,
  ``uint8`` (alpha dropped), exactly what detectron2's ``read_image`` gives;
- 16 bits per channel (``I;16`` grayscale PNGs, 16-bit RGB/RGBA PNGs, 16-bit TIFFs): ``/ 257``
  (65535 -> 255), ``float32``;
- float pixels (mode ``F`` TIFFs, float RGB TIFFs read with ``tifffile``) with every value in
  [0, 1]: ``x 255``, ``float32``;
- anything else (float values outside [0, 1] or not finite, 32-bit integers, a mode or file
  no reader understands): :class:`UnsupportedImageError`, a one-line reason for the caller's
  list of skipped images. Nothing is clipped.

The EXIF orientation is applied to what Pillow opens (as detectron2 does); 16-bit RGB PNGs
are read with OpenCV (Pillow keeps only their high byte) and multi-channel float TIFFs with
``tifffile`` (Pillow cannot open them), without an orientation tag.

numpy and Pillow (OpenCV and tifffile when installed); layer 1.
"""
from __future__ import annotations

import os

import numpy as np

from hfc_det.utils.atomic import PathLike

__all__ = ["UnsupportedImageError", "EIGHT_BIT_MODES", "read_rgb", "to_eight_bit_range", "needs_rescaling"]

#: Pillow modes with 8 bits per channel: Pillow's ``convert("RGB")`` is exact for them.
EIGHT_BIT_MODES = frozenset({"1", "L", "P", "LA", "PA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
                             "LAB", "HSV"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_TIFF_SUFFIXES = (".tif", ".tiff")

class UnsupportedImageError(ValueError):
    """An image whose pixels cannot be put in the 0..255 range without guessing (one line)."""


def to_eight_bit_range(pixels: np.ndarray, what: str = "image") -> np.ndarray:
    """``pixels`` (any shape) scaled to the 0..255 range as ``float32``: ``uint8`` as is,
    ``uint16`` ``/ 257``, floats in [0, 1] ``x 255``; anything else raises
    :class:`UnsupportedImageError` naming ``what`` and the values found."""
    a = np.asarray(pixels)
    if a.dtype == np.uint8 or a.dtype == np.bool_:
        return a.astype(np.float32) * (255.0 if a.dtype == np.bool_ else 1.0)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 257.0
    if np.issubdtype(a.dtype, np.floating):
        if a.size and not np.isfinite(a).all():
            raise UnsupportedImageError(f"{what} has float pixels that are NaN or infinite")
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if lo < 0.0 or hi > 1.0:
            raise UnsupportedImageError(
                f"{what} has float pixels in [{lo:g}, {hi:g}], not in [0, 1]: its 0..255 scale is unknown")
        return a.astype(np.float32) * 255.0
    raise UnsupportedImageError(f"{what} has {a.dtype} pixels: only 8-bit, 16-bit and [0, 1] float images are read")


def _as_rgb(a: np.ndarray, what: str) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1|2|3|4)`` -> ``(H, W, 3)`` (gray repeated, alpha dropped)."""
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise UnsupportedImageError(f"{what} has pixel array shape {a.shape}: expected gray, RGB or RGBA")
    if a.shape[2] in (1, 2):  # gray (+ alpha)
        return np.repeat(a[:, :, :1], 3, axis=2)
    return a[:, :, :3]


def _is_sixteen_bit_png(image) -> bool:
    """Pillow opens a 16-bit RGB(A) PNG as mode RGB(A), decoding only the high bytes."""
    return image.format == "PNG" and any(";16" in str(getattr(t, "args", t[3] if len(t) > 3 else "")) for t in image.tile)


def _read_with_opencv(path: str) -> np.ndarray:
    try:
        import cv2
    except ImportError:
        raise UnsupportedImageError("16-bit RGB PNGs need OpenCV (pip install opencv-python-headless)") from None
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None:
        raise UnsupportedImageError("OpenCV cannot read it")
    if a.ndim == 3 and a.shape[2] >= 3:
        a = a[:, :, [2, 1, 0] + list(range(3, a.shape[2]))]  # BGR(A) -> RGB(A)
    return a


def _read_with_tifffile(path: str) -> np.ndarray:
    try:
        import tifffile
    except ImportError:
        raise UnsupportedImageError("Pillow cannot read this TIFF; tifffile could (pip install tifffile)") from None
    try:
        a = tifffile.imread(path)
    except Exception as e:  # noqa: BLE001  any reader failure is this image's skip reason
        raise UnsupportedImageError(f"tifffile cannot read it ({type(e).__name__}: {e})") from None
    if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[2] not in (3, 4):  # planar (C, H, W)
        a = np.moveaxis(a, 0, -1)
    return a


def needs_rescaling(path: PathLike) -> bool:
    """Whether ``path`` is an image Pillow's ``convert("RGB")`` would clip or cannot open
    (not 8-bit; a TIFF Pillow cannot identify): then :func:`read_rgb` must read it. ``False``
    for 8-bit images and for files that are no image at all (cheap: reads the header only)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.mode not in EIGHT_BIT_MODES or _is_sixteen_bit_png(image)
    except Exception:  # noqa: BLE001  not Pillow's: only a TIFF has another reader
        return os.fspath(path).lower().endswith(_TIFF_SUFFIXES) and os.path.isfile(path)


def read_rgb(path: PathLike) -> np.ndarray:
    """The image at ``path`` as ``(H, W, 3)`` RGB in the 0..255 range: ``uint8`` for 8-bit
    files, ``float32`` for 16-bit and float ones (module doc). Raises
    :class:`UnsupportedImageError` (one line) for pixels whose range is unknown and files no
    reader understands, ``FileNotFoundError`` for a missing file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fspath(path)
    what = "the image"
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        if path.lower().endswith(_TIFF_SUFFIXES):
            return _as_rgb(to_eight_bit_range(_read_with_tifffile(path), what), what)
        raise UnsupportedImageError("not an image file Pillow can read") from None
    with image:
        if _is_sixteen_bit_png(image):
            return _as_rgb(to_eight_bit_range(_read_with_opencv(path), what), what)
        try:
            image = ImageOps.exif_transpose(image)
        except Exception:  # noqa: BLE001  a broken EXIF block: keep the stored orientation
            pass
        if image.mode in EIGHT_BIT_MODES:
            return np.asarray(image.convert("RGB"))
        if image.mode in _SIXTEEN_BIT_MODES:
            return _as_rgb(to_eight_bit_range(np.asarray(image).astype(np.uint16), what), what)
        if image.mode == "F":
            return _as_rgb(to_eight_bit_range(np.asarray(image), what), what)
        if image.mode == "I" and image.format == "PNG":  # 16-bit gray PNG, as older Pillow opens it
            pixels = np.asarray(image)
            if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
                raise UnsupportedImageError("16-bit PNG with values outside 0..65535")
            return _as_rgb(to_eight_bit_range(pixels.astype(np.uint16), what), what)
        if image.mode in ("I", "I;32", "I;32B", "I;32L"):
            raise UnsupportedImageError(f"{what} has 32-bit integer pixels (mode {image.mode}): their range is unknown")
        raise UnsupportedImageError(f"{what} has Pillow mode {image.mode!r}, which is not read")
