"""COCO-C corruption views ``corrupt_{name}_s{severity}`` (Michaelis et al. 2019, "Benchmarking
Robustness in Object Detection"), made by the ``imagecorruptions`` library.

The library is the maintained fork ``imagecorruptions-imaug`` (pinned: :data:`CORRUPTION_LIBRARY`;
same module name ``imagecorruptions``). ``imagecorruptions`` 1.1.2 does not run here: it imports
``pkg_resources`` (gone from setuptools >= 81), and past that, glass_blur and gaussian_blur call
``skimage.filters.gaussian(..., multichannel=True)`` (refused since scikit-image 0.19) and fog uses
``np.float_`` (removed in NumPy 2): with ``pkg_resources`` stubbed, 15 of its 95
corruption/severity pairs fail on ``skimage.data.astronaut()`` (scikit-image 0.26, NumPy 2.4),
against none of the fork's. The fork picks ``channel_axis`` by ``minor >= 19`` alone, so a
scikit-image 1.x would send it back to ``multichannel``.

Each view is the library's own ``corrupt(image, corruption_name=..., severity=...)`` on the uint8
RGB image ``(H, W, 3)`` at the image's own size (at least 32x32 px, the library's minimum), the
uint8 result turned to float. Deterministic: every (image, view) pair gets a seed from a SHA-256 of
the image id (or, without one, of the image's uint8 RGB pixels) and the view name (:func:`corruption_seed`);
the library draws from numpy's global generator, which is seeded with it for the call and restored
after, and glass_blur and impulse_noise, which draw from fresh generators of their own (numba's for
glass_blur, ``default_rng`` for impulse_noise), get it as their ``seed`` keyword.

Detection (:class:`hfc_det.data.mapper.FrequencyDatasetMapper`) corrupts the decoded image before
the test-time resize whatever ``HFC.FILTER_STAGE`` says, as the benchmark does; see
:func:`corrupt_image`. numpy/torch and the library only: no detectron2, and the library is
imported on first use, so ``import hfc_det.views`` stays light.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from hfc_det.views.frequency import ArrayLike, as_tensor, check_image_shape, compute_dtypes, restore_type

__all__ = [
    "CORRUPTION_KIND",
    "CORRUPTION_LIBRARY",
    "BENCHMARK_CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "ALL_CORRUPTIONS",
    "CORRUPTION_FAMILIES",
    "SEVERITIES",
    "DETERMINISTIC_CORRUPTIONS",
    "MIN_CORRUPTION_SIZE",
    "CORRUPTION_PATTERN",
    "check_corruption",
    "parse_corruption_parameter",
    "check_severity",
    "corruption_view_name",
    "corruption_view_names",
    "corruption_seed",
    "seeded_global_rng",
    "corrupt_image",
    "corruption_views",
    "corrupt_decoded",
]

#: The grammar's kind for ``corrupt_{name}_s{severity}``.
CORRUPTION_KIND = "corrupt"
#: The pinned library (``make setup`` installs it with ``--no-deps``: it declares the GUI opencv-python).
CORRUPTION_LIBRARY = "imagecorruptions-imaug==1.1.5"
#: The family of each of the 15 benchmark corruptions, in the benchmark's order.
CORRUPTION_FAMILIES: Dict[str, Tuple[str, ...]] = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
#: The 15 corruptions mPC averages over.
BENCHMARK_CORRUPTIONS: Tuple[str, ...] = tuple(c for family in CORRUPTION_FAMILIES.values() for c in family)
#: The library's 4 held-out ("validation") corruptions: views, but not part of mPC.
EXTRA_CORRUPTIONS: Tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS: Tuple[str, ...] = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
SEVERITIES: Tuple[int, ...] = (1, 2, 3, 4, 5)
#: The library refuses images smaller than this on either side.
MIN_CORRUPTION_SIZE = 32
#: Corruptions that ignore numpy's global generator and take a ``seed`` keyword instead.
_SEED_KEYWORD = frozenset({"glass_blur", "impulse_noise"})
#: Corruptions that draw no random number (tests/views/test_corruptions.py checks it on every
#: severity): they skip the seeding, whose saving and restoring of numpy's global state costs
#: ~0.1 ms, 5-10% of pixelate's or jpeg_compression's time on a 640x480 image.
DETERMINISTIC_CORRUPTIONS: FrozenSet[str] = frozenset({
    "defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate", "jpeg_compression", "gaussian_blur", "saturate"})
_SHORTHANDS = {"benchmark": BENCHMARK_CORRUPTIONS, "all": ALL_CORRUPTIONS}
#: The grammar row's pattern: the name is lower case with underscores, the severity digits
#: (signed, so that ``s-1`` is refused by the severity rule rather than as an unknown form).
CORRUPTION_PATTERN = re.compile(rf"{CORRUPTION_KIND}_([a-z_]+)_s(-?\d+)")


def check_corruption(name: str) -> str:
    """``name`` if it is one of the 19 corruptions, else a one-line ``ValueError``."""
    if name not in ALL_CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}: expected one of {', '.join(ALL_CORRUPTIONS)}")
    return name


def check_severity(severity) -> int:
    """``severity`` (an int, a whole float or a string of digits) as an int in 1..5, else a
    one-line ``ValueError``."""
    s = None
    if isinstance(severity, str) and severity.strip().isdigit():
        s = int(severity)
    elif isinstance(severity, (int, np.integer)) and not isinstance(severity, bool):
        s = int(severity)
    elif isinstance(severity, float) and severity.is_integer():
        s = int(severity)
    if s not in SEVERITIES:
        raise ValueError(f"corruption severity must be an integer 1 to 5, got {severity!r}")
    return s


def parse_corruption_parameter(name: str, severity: str) -> Tuple[str, int]:
    """The grammar row's check: ``("fog", "3")`` -> ``("fog", 3)``, one-line ``ValueError`` otherwise."""
    return check_corruption(name), check_severity(severity)


def corruption_view_name(corruption: str, severity) -> str:
    """``corrupt_fog_s3``: the view of ``corruption`` at ``severity``."""
    return f"{CORRUPTION_KIND}_{check_corruption(corruption)}_s{check_severity(severity)}"


def corruption_view_names(corruptions: Union[str, Sequence[str]] = ("benchmark",),
                          severities: Iterable = SEVERITIES) -> List[str]:
    """Expand shorthands into view names, corruption-major: ``(["fog", "snow"], [1, 3])`` ->
    ``corrupt_fog_s1, corrupt_fog_s3, corrupt_snow_s1, corrupt_snow_s3``.

    ``corruptions``: names, ``"benchmark"`` (the 15 of mPC) or ``"all"`` (the 19); repeats are
    dropped. Unknown names or severities are a one-line ``ValueError``.
    """
    if isinstance(corruptions, str):
        corruptions = [corruptions]
    names: List[str] = []
    for c in corruptions:
        names.extend(_SHORTHANDS.get(c, (c,)))
    for c in names:
        if c not in ALL_CORRUPTIONS:
            raise ValueError(f"unknown corruption {c!r}: expected benchmark, all or one of {', '.join(ALL_CORRUPTIONS)}")
    levels = list(dict.fromkeys(check_severity(s) for s in severities))
    if not names or not levels:
        raise ValueError("ask for at least one corruption and one severity")
    return [corruption_view_name(c, s) for c in dict.fromkeys(names) for s in levels]


def corruption_seed(image_key, view: str) -> int:
    """A seed in ``[0, 2**32)`` (what ``np.random.seed`` and numba accept) from the image id (or
    any key: the image's digest when there is no id) and the view name: SHA-256, so the same in
    every process, run and platform (Python's ``hash()`` of a str changes per process)."""
    digest = hashlib.sha256(f"{image_key}|{view}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextlib.contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the ``with`` block, then put its state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _library_corrupt():
    try:
        from imagecorruptions import corrupt
    except ImportError:
        raise ImportError(
            f"corruption views need {CORRUPTION_LIBRARY} and numba: pip install numba && "
            f"pip install --no-deps {CORRUPTION_LIBRARY} (make setup does this)"
        ) from None
    return corrupt


def corrupt_image(image: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """The library's ``corrupt`` of one uint8 RGB image ``(H, W, 3)`` under ``seed``.

    Returns the library's uint8 ``(H, W, 3)`` result. ``seed`` seeds numpy's global generator
    (restored after) and is the ``seed`` keyword of glass_blur and impulse_noise.
    """
    check_corruption(corruption)
    severity = check_severity(severity)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"corruptions need a uint8 (H, W, 3) RGB image, got {_describe(image)}")
    if min(image.shape[:2]) < MIN_CORRUPTION_SIZE:
        raise ValueError(f"corruptions need images of at least {MIN_CORRUPTION_SIZE}x{MIN_CORRUPTION_SIZE} px, "
                         f"got {image.shape[0]}x{image.shape[1]}")
    corrupt = _library_corrupt()
    if corruption in DETERMINISTIC_CORRUPTIONS:
        out = corrupt(image, corruption_name=corruption, severity=severity)
    else:
        kwargs = {"seed": seed} if corruption in _SEED_KEYWORD else {}
        with seeded_global_rng(seed):
            out = corrupt(image, corruption_name=corruption, severity=severity, **kwargs)
    if out.shape != image.shape:  # never seen; a library change would otherwise misalign views
        raise RuntimeError(f"{corruption} s{severity} returned shape {out.shape} for an image of {image.shape}")
    return out


def _describe(image) -> str:
    if isinstance(image, np.ndarray):
        return f"{image.dtype} array of shape {image.shape}"
    return type(image).__name__


def _pixel_max(x: torch.Tensor) -> float:
    # The detector's images are 0..255; the classification toolkit's are 0..1 (its loader divides by 255).
    return 1.0 if float(x.max()) <= 1.0 else 255.0


def corruption_views(images: ArrayLike, views: Sequence[Tuple[str, int]], seed=None,
                     pixel_max: Optional[float] = None, channels: str = "RGB") -> Dict[str, ArrayLike]:
    """``{corrupt_{name}_s{severity}: view}`` of float ``(3, H, W)`` or ``(N, 3, H, W)`` images.

    ``views``: ``(corruption, severity)`` pairs. Each image is turned into uint8 RGB
    (``rint(x / pixel_max * 255)``: exact for images that came from uint8), corrupted by
    :func:`corrupt_image`, and returned as float ``x * pixel_max / 255`` with the type, shape,
    device and float dtype of ``images``.

    ``pixel_max``: 255 (the detector) or 1 (the classification toolkit); ``None`` infers it from
    the batch (1 when no value exceeds 1, else 255). ``channels``: the images' channel order,
    ``"RGB"`` or ``"BGR"`` (detectron2's default ``INPUT.FORMAT``); the library wants RGB (frost's
    colours, snow's grey weights). ``seed``: the image id (one image), one id per image, or
    ``None``: then ``"sha256:<hex digest of its uint8 RGB (H, W, 3) pixels>"`` stands in for its id.
    """
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"corruption views need (3, H, W) or (N, 3, H, W) colour images, got shape {tuple(x.shape)}")
    if channels not in ("RGB", "BGR"):
        raise ValueError(f"corruption views need RGB or BGR images, got channel order {channels!r}")
    batch = x.reshape(-1, *x.shape[-3:])
    scale = _pixel_max(batch) if pixel_max is None else float(pixel_max)
    _, result = compute_dtypes(x.dtype)
    order = [2, 1, 0] if channels == "BGR" else [0, 1, 2]
    hwc = (batch.detach().to("cpu", torch.float64) * (255.0 / scale)).round_().clamp_(0, 255)
    hwc = hwc[:, order].permute(0, 2, 3, 1).to(torch.uint8).contiguous().numpy()
    keys = _image_keys(hwc, seed)
    out: Dict[str, ArrayLike] = {}
    for corruption, severity in views:
        name = corruption_view_name(corruption, severity)
        corrupted = np.stack([corrupt_image(im, corruption, severity, corruption_seed(key, name))
                              for im, key in zip(hwc, keys)])
        t = torch.from_numpy(corrupted).permute(0, 3, 1, 2)[:, order].to(result)
        if scale != 255.0:
            t = t * (scale / 255.0)
        out[name] = restore_type(t.reshape(x.shape).to(x.device), as_numpy)
    return out


def corrupt_decoded(image: np.ndarray, views: Sequence[Tuple[str, int]], image_id: int,
                    channels: str = "RGB") -> torch.Tensor:
    """The views of one decoded uint8 ``(H, W, 3)`` image as float32 ``(V, 3, H, W)`` 0..255
    tensors in the image's channel order (``"RGB"`` or ``"BGR"``): the mapper's path, with no
    float round trip. The same pixels as :func:`corruption_views` with ``seed=image_id``."""
    if channels not in ("RGB", "BGR"):
        raise ValueError(f"corruption views need RGB or BGR images, got channel order {channels!r}")
    flip = channels == "BGR"
    rgb = np.ascontiguousarray(image[..., ::-1]) if flip else image
    out = np.empty((len(views), 3) + image.shape[:2], np.float32)
    for k, (corruption, severity) in enumerate(views):
        name = corruption_view_name(corruption, severity)
        corrupted = corrupt_image(rgb, corruption, severity, corruption_seed(int(image_id), name))
        # one pass (strided views, no copies): back to the image's channel order, CHW, float32
        out[k] = (corrupted[..., ::-1] if flip else corrupted).transpose(2, 0, 1)
    return torch.from_numpy(out)


def _image_keys(hwc: np.ndarray, seed) -> List[str]:
    """The seed key of each uint8 RGB ``(H, W, 3)`` image: its id, or without ids the SHA-256 of
    its pixels (so the same picture gets the same corruption in 0..1 or 0..255, RGB or BGR)."""
    n = hwc.shape[0]
    if seed is None:
        return ["sha256:" + hashlib.sha256(im.tobytes()).hexdigest() for im in hwc]
    ids = [seed] if np.ndim(seed) == 0 else list(seed)
    if len(ids) != n:
        raise ValueError(f"corruption views need one image id per image: {n} images, {len(ids)} ids")
    return [str(int(i)) for i in ids]
