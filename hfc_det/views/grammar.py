"""One front door for every named view of an image batch, and the view-name grammar.

Names: ``original``; ``low_r{R}`` / ``high_r{R}`` / ``band_r{a}-{b}`` / ``blur_s{sigma}``
(Fourier filters, :mod:`hfc_det.views.frequency`); ``svd_top{k}`` / ``svd_tail{k}``
(truncated-SVD split, :mod:`hfc_det.views.svd`); ``noise_r{R}`` (the control: white noise as strong
as the HFC at R, :mod:`hfc_det.views.noise_control`; needs the image id as ``seed``);
``fourier_u{u}_v{v}_e{eps}`` (the image plus
``eps`` times the Fourier basis image ``U(u, v)`` with a random sign per channel, clipped to
the pixel range [0, 255]: one cell of a Fourier heat map, :mod:`hfc_det.views.fourier_basis`);
``corrupt_{name}_s{severity}`` (a COCO-C corruption, :mod:`hfc_det.views.corruptions`; seeded by
the image id ``seed``, or by the image's bytes without one). All Fourier filters share one forward transform
and all ``k`` one SVD, so asking for many views costs one of each.

The grammar is the table :data:`VIEW_KINDS`: adding a kind of view is one entry there
(its name pattern, how to check its parameters and which shared transform serves it)
plus its computation in :func:`compute_views`.
"""
from __future__ import annotations

import math
import re
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

from hfc_det.views.frequency import (
    ArrayLike,
    as_tensor,
    restore_type,
    _check_radius,
    check_image_shape,
    compute_dtypes,
    check_band,
    check_sigma,
    frequency_views,
    view_name,
)
from hfc_det.views.corruptions import (
    CORRUPTION_KIND,
    CORRUPTION_PATTERN,
    corruption_view_name,
    corruption_views,
    parse_corruption_parameter,
)
from hfc_det.views.fourier_basis import check_eps, perturb
from hfc_det.views.noise_control import NOISE_KIND, noise_view_name, noise_views
from hfc_det.views.svd import _check_k, svd_view_name, svd_views

__all__ = ["parse_view", "canonical_view_name", "fourier_view_name", "check_fourier_views", "compute_views", "split_view_names", "view_axis", "SPLITS", "VIEW_KINDS", "ViewKind"]

#: The two ways of cutting an image into a "smooth" and a "detail" part.
SPLITS = ("frequency", "svd")

_INT = r"(-?\d+)"
_NUM = r"(-?\d+(?:\.\d+)?)"  # a decimal: 8, 2.5 (signed, so that its rule refuses -1 by name)


class ViewKind(NamedTuple):
    """One row of the view-name grammar."""

    kind: str  # what parse_view returns first: "low", "band", "svd_top", ...
    pattern: "re.Pattern[str]"  # full match on the name; one group per parameter
    check: Callable[..., Union[float, Tuple[float, ...]]]  # raises ValueError; returns the parameter
    axis: str  # what the parameter measures, for plots: "radius", "sigma", "k"
    form: str  # the form and an example, for error messages
    prefix: str  # a name starting with it but not matching is refused with this row's form
    name: Callable[..., str]  # parameter -> the canonical name (low_r8.0 -> low_r8)


def _radius(r: str) -> float:
    return _check_radius(float(r))


def _noise_radius(r: str) -> float:
    if not float(r) > 0:
        raise ValueError(f"the radius R of noise_r<R> must be > 0 (the noise is as strong as the HFC at R), got {r}")
    return _radius(r)


def _k(k: str) -> int:
    return _check_k(int(k))


#: The view-name grammar: one entry per kind of view. It is the only parser of view names:
#: adding a kind of view is one row here (and its computation in :func:`compute_views`).
VIEW_KINDS: Tuple[ViewKind, ...] = (
    ViewKind("low", re.compile(rf"low_r{_NUM}"), _radius, "radius", "low_r<R> (e.g. low_r8)", "low_",
             lambda r: view_name("low", r)),
    ViewKind("high", re.compile(rf"high_r{_NUM}"), _radius, "radius", "high_r<R>", "high_",
             lambda r: view_name("high", r)),
    ViewKind("band", re.compile(rf"band_r{_NUM}-{_NUM}"), lambda a, b: check_band(float(a), float(b)),
             "radius", "band_r<A>-<B> with 0 <= A < B (e.g. band_r8-16)", "band_", lambda ab: view_name("band", *ab)),
    ViewKind("blur", re.compile(rf"blur_s{_NUM}"), lambda s: check_sigma(float(s)), "sigma",
             "blur_s<SIGMA> with SIGMA > 0 px (e.g. blur_s2)", "blur_", lambda s: view_name("blur", s)),
    ViewKind(NOISE_KIND, re.compile(rf"{NOISE_KIND}_r{_NUM}"), _noise_radius, "radius",
             "noise_r<R>, white noise as strong as the HFC at radius R (e.g. noise_r16)", f"{NOISE_KIND}_",
             noise_view_name),
    ViewKind("svd_top", re.compile(r"svd_top([1-9]\d*)"), _k, "k", "svd_top<K> with K >= 1 (e.g. svd_top4)",
             "svd_top", lambda k: svd_view_name("top", k)),
    ViewKind("svd_tail", re.compile(r"svd_tail([1-9]\d*)"), _k, "k", "svd_tail<K> with K >= 1 (e.g. svd_tail4)",
             "svd_tail", lambda k: svd_view_name("tail", k)),
    ViewKind("fourier", re.compile(rf"fourier_u{_INT}_v{_INT}_e{_NUM}"),
             lambda u, v, e: (int(u), int(v), check_eps(float(e))), "frequency",
             "fourier_u<U>_v<V>_e<EPS> with EPS > 0 (e.g. fourier_u2_v-3_e500)", "fourier_",
             lambda uve: fourier_view_name(*uve)),
    ViewKind(CORRUPTION_KIND, CORRUPTION_PATTERN, parse_corruption_parameter, "severity",
             "corrupt_<CORRUPTION>_s<SEVERITY> with SEVERITY 1 to 5 (e.g. corrupt_fog_s3)", f"{CORRUPTION_KIND}_",
             lambda cs: corruption_view_name(*cs)),
)

#: Pixel range a ``fourier_*`` view is clipped to: the detector's 0..255 pixels.
FOURIER_VIEW_RANGE = (0.0, 255.0)
#: Seed of the ``fourier_*`` views' random signs (with each image's bytes: see perturbation_signs).
FOURIER_VIEW_SEED = 0
_BY_KIND = {k.kind: k for k in VIEW_KINDS}


def parse_view(name: str) -> Tuple[str, Union[float, Tuple[float, float]]]:
    """``(kind, parameter)`` of a view name.

    ``kind`` is ``original`` (parameter ``nan``) or a :data:`VIEW_KINDS` kind: ``low``,
    ``high`` (radius, bins), ``band`` (``(a, b)``, bins), ``blur`` (sigma, pixels),
    ``svd_top``, ``svd_tail`` (``k``). Raises a one-line ``ValueError`` with the accepted
    forms for anything else, or naming the rule a parameter breaks (``a >= b``, ...).
    """
    if name == "original":
        return "original", float("nan")
    name = str(name)
    for entry in VIEW_KINDS:
        match = entry.pattern.fullmatch(name)
        if match is not None:
            try:
                return entry.kind, entry.check(*match.groups())
            except ValueError as e:
                raise ValueError(f"view {name!r}: {e}") from None
    for entry in VIEW_KINDS:  # the kind is clear, its parameter is not: say that kind's form
        if name.startswith(entry.prefix):
            raise ValueError(f"unknown view {name!r}: expected {entry.form}")
    forms = ", ".join(k.form for k in VIEW_KINDS)
    raise ValueError(f"unknown view {name!r}: expected 'original', {forms}")


def canonical_view_name(name: str) -> str:
    """The name :func:`compute_views` files a view under: ``low_r8.0`` -> ``low_r8``."""
    kind, parameter = parse_view(name)
    return kind if kind == "original" else _BY_KIND[kind].name(parameter)


def fourier_view_name(u: int, v: int, eps: float) -> str:
    """``fourier_u2_v-3_e500``: the image perturbed along the Fourier basis ``U(u, v)``."""
    e = check_eps(eps)
    return f"fourier_u{int(u)}_v{int(v)}_e{int(e) if e.is_integer() else repr(e)}"


def check_fourier_views(names: Iterable[str], height: int, width: int) -> None:
    """Refuse (one-line ``ValueError``) a ``fourier_u{u}_v{v}`` view past the Nyquist frequency
    of ``height x width`` images: ``|u| <= height // 2`` and ``|v| <= width // 2`` (``u`` along
    the height). Beyond it the basis image would wrap (``u mod H``) into another frequency."""
    for name in names:
        kind, parameter = parse_view(name)
        if kind != "fourier":
            continue
        u, v, _ = parameter
        for axis, f, size in (("u", u, int(height)), ("v", v, int(width))):
            if abs(f) > size // 2:
                raise ValueError(f"view {name!r}: |{axis}| = {abs(f)} is past the Nyquist frequency of "
                                 f"{int(height)}x{int(width)} px images (|{axis}| <= {size // 2})")


def _fourier_views(images: ArrayLike, cells) -> Dict[str, ArrayLike]:
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    check_fourier_views([fourier_view_name(*c) for c in cells], *x.shape[-2:])
    _, result = compute_dtypes(x.dtype)
    x = x.to(result)
    shape = x.shape
    batch = x.reshape(-1, *(shape[-3:] if x.dim() >= 3 else (1,) + tuple(shape)))
    out = {}
    for u, v, eps in cells:
        out[fourier_view_name(u, v, eps)] = restore_type(
            perturb(batch, u, v, eps, *FOURIER_VIEW_RANGE, seed=FOURIER_VIEW_SEED).reshape(shape), as_numpy)
    return out


def view_axis(name: str) -> Tuple[str, float]:
    """Where a view sits on a plot's x axis: ``("radius", 8.0)`` for ``low_r8``, ``("radius",
    12.0)`` (the band's middle) for ``band_r8-16``, ``("sigma", 2.0)`` for ``blur_s2``,
    ``("k", 4.0)`` for ``svd_top4``; ``("", nan)`` for ``original``."""
    kind, parameter = parse_view(name)
    if kind == "original":
        return "", float("nan")
    if kind == "band":
        return "radius", (parameter[0] + parameter[1]) / 2
    if kind == "fourier":
        return "frequency", math.hypot(parameter[0], parameter[1])
    if kind == CORRUPTION_KIND:
        return "severity", float(parameter[1])
    return _BY_KIND[kind].axis, float(parameter)


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
    :func:`hfc_det.views.frequency.frequency_views`, :func:`hfc_det.views.svd.svd_views` and
    :func:`hfc_det.views.noise_control.noise_views` (``noise_r<R>`` views need ``seed``, the image id)
    and :func:`hfc_det.views.corruptions.corruption_views` (``corrupt_*``: ``(3, H, W)`` or
    ``(N, 3, H, W)`` RGB images of at least 32x32 px in 0..255, or in 0..1 when no value exceeds 1;
    ``seed`` the image id, or one per image, or ``None`` to seed each image by its bytes).
    """
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("ask for at least one view")
    canonical: Dict[str, str] = {}  # "low_r8.0" is served by frequency_views' "low_r8"
    radii: List[float] = []
    bands: List[Tuple[float, float]] = []
    sigmas: List[float] = []
    ks: List[int] = []
    cells: List[Tuple[int, int, float]] = []
    noise: List[float] = []
    corruptions: List[Tuple[str, int]] = []
    for name in names:
        kind, parameter = parse_view(name)
        canonical[name] = canonical_view_name(name)
        if kind == NOISE_KIND:
            if seed is None:
                raise ValueError(f"view {name!r} needs a seed (the image id) for its noise")
            radii.append(parameter)
            noise.append(parameter)
        elif kind in ("low", "high"):
            radii.append(parameter)
        elif kind == "band":
            bands.append(parameter)
        elif kind == "blur":
            sigmas.append(parameter)
        elif kind.startswith("svd_"):
            ks.append(int(parameter))
        elif kind == "fourier":
            cells.append(parameter)
        elif kind == CORRUPTION_KIND:
            corruptions.append(parameter)
    available: Dict[str, ArrayLike] = {}
    if radii or bands or sigmas:
        available.update(frequency_views(images, radii, bands=bands, sigmas=sigmas))
    if noise:
        available.update(noise_views(images, {r: available[view_name("high", r)] for r in noise}, seed))
    if ks:
        available.update(svd_views(images, ks))
    if cells:
        available.update(_fourier_views(images, cells))
    if corruptions:  # seed None: each image's bytes stand in for its id
        available.update(corruption_views(images, corruptions, seed))
    if "original" in names and "original" not in available:
        x, as_numpy = as_tensor(images)
        check_image_shape(x)
        available["original"] = restore_type(x.to(compute_dtypes(x.dtype)[1]), as_numpy)
    return {name: available[canonical[name]] for name in names}
