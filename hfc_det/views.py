"""One front door for every named view of an image batch.

Names: ``original``; ``low_r{R}`` / ``high_r{R}`` (frequency split, :mod:`hfc_det.frequency`);
``svd_top{k}`` / ``svd_tail{k}`` (truncated-SVD split, :mod:`hfc_det.svd`); ``noise_r{R}``
(the control: white noise as strong as the HFC at R, :mod:`hfc_det.noise_control`; needs the
image id as ``seed``). All radii share one Fourier transform and all ``k`` one SVD, so
asking for many views costs one of each.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

from .frequency import (
    ArrayLike,
    as_tensor,
    restore_type,
    check_image_shape,
    compute_dtypes,
    frequency_views,
    parse_view_name,
    view_name,
)
from .noise_control import NOISE_KIND, noise_view_name, noise_views, parse_noise_view_name
from .svd import parse_svd_view_name, svd_view_name, svd_views

__all__ = ["parse_view", "compute_views", "split_view_names", "SPLITS"]

#: The two ways of cutting an image into a "smooth" and a "detail" part.
SPLITS = ("frequency", "svd")


def parse_view(name: str) -> Tuple[str, float]:
    """``(kind, parameter)`` of a view name.

    ``kind`` is one of ``original``, ``low``, ``high``, ``noise`` (parameter: radius) or
    ``svd_top``, ``svd_tail`` (parameter: ``k``); ``original`` has parameter ``nan``. Raises
    ``ValueError`` with the accepted forms for anything else.
    """
    if name.startswith(f"{NOISE_KIND}_"):
        return NOISE_KIND, parse_noise_view_name(name)  # its own message: the radius is missing
    if name.startswith("svd_"):
        try:
            kind, k = parse_svd_view_name(name)
        except ValueError:
            pass
        else:
            return f"svd_{kind}", k
    else:
        try:
            return parse_view_name(name)
        except ValueError:
            pass
    raise ValueError(
        f"unknown view {name!r}: expected 'original', 'low_r<R>', 'high_r<R>', 'noise_r<R>', "
        "'svd_top<K>' or 'svd_tail<K>' (e.g. low_r8, svd_tail4)"
    )


def split_view_names(split: str, parameter: float) -> Tuple[str, str]:
    """The ``(smooth, detail)`` view names of one split: ``("low_r8", "high_r8")`` for
    ``("frequency", 8)``, ``("svd_top4", "svd_tail4")`` for ``("svd", 4)``."""
    if split == "frequency":
        return view_name("low", parameter), view_name("high", parameter)
    if split == "svd":
        if float(parameter) != int(parameter):
            raise ValueError(f"the SVD split needs an integer k, got {parameter!r}")
        k = int(parameter)
        return svd_view_name("top", k), svd_view_name("tail", k)
    raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")


def compute_views(images: ArrayLike, names: Iterable[str], seed: Optional[int] = None) -> Dict[str, ArrayLike]:
    """The named views of ``images`` (``...HW`` tensor or array), in the order asked.

    Each view has the type, shape and device of ``images`` (float); see
    :func:`hfc_det.frequency.frequency_views`, :func:`hfc_det.svd.svd_views` and
    :func:`hfc_det.noise_control.noise_views` (``noise_r<R>`` views need ``seed``, the image id).
    """
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("ask for at least one view")
    canonical: Dict[str, str] = {}  # "low_r8.0" is served by frequency_views' "low_r8"
    radii: List[float] = []
    ks: List[int] = []
    noise: List[float] = []
    for name in names:
        kind, parameter = parse_view(name)
        if kind == NOISE_KIND:
            if seed is None:
                raise ValueError(f"view {name!r} needs a seed (the image id) for its noise")
            radii.append(parameter)
            noise.append(parameter)
            canonical[name] = noise_view_name(parameter)
        elif kind in ("low", "high"):
            radii.append(parameter)
            canonical[name] = view_name(kind, parameter)
        elif kind.startswith("svd_"):
            ks.append(int(parameter))
            canonical[name] = svd_view_name(kind[len("svd_"):], int(parameter))
        else:
            canonical[name] = name
    available: Dict[str, ArrayLike] = {}
    if radii:
        available.update(frequency_views(images, radii))
    if noise:
        available.update(noise_views(images, {r: available[view_name("high", r)] for r in noise}, seed))
    if ks:
        available.update(svd_views(images, ks))
    if "original" in names and "original" not in available:
        x, as_numpy = as_tensor(images)
        check_image_shape(x)
        available["original"] = restore_type(x.to(compute_dtypes(x.dtype)[1]), as_numpy)
    return {name: available[canonical[name]] for name in names}
