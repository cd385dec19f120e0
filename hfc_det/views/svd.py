"""Truncated-SVD split of images, the alternative to the frequency split in Section 8.

Per channel (each ``H x W`` matrix), ``x = U diag(S) Vh``; the *top-k* part is the
reconstruction from the ``k`` largest singular values, ``U[:, :k] diag(S[:k]) Vh[:k]``,
and the *tail* is the rest, ``x - top`` (the reconstruction from the trailing singular
values, computed as the difference so that ``top + tail == x`` up to one float rounding,
as :mod:`hfc_det.views.frequency` does for ``high``). ``k >= min(H, W)`` keeps everything in
the top part and gives an exactly zero tail. The top part plays the role of the LFC
(dominant, smooth structure), the tail that of the HFC.

Like :mod:`hfc_det.views.frequency`, it takes torch tensors (any device, ``...HW`` layout,
batched through :func:`torch.linalg.svd`) and numpy arrays, and imports no model code.
"""
from __future__ import annotations

import numbers
from typing import Dict, Iterable, Tuple, Union

import torch

from hfc_det.views.frequency import ArrayLike, as_tensor, restore_type, check_image_shape, compute_dtypes

__all__ = ["svd_split", "svd_views", "svd_view_name"]

_KINDS = ("top", "tail")


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be >= 1 (the top part would be empty), got {k}")
    return int(k)


def svd_view_name(kind: str, k: int) -> str:
    """Canonical view name: ``svd_top4``, ``svd_tail4``."""
    if kind not in _KINDS:
        raise ValueError(f"SVD view kind must be 'top' or 'tail', got {kind!r}")
    return f"svd_{kind}{_check_k(k)}"


def _svd_parts(x: torch.Tensor, ks) -> Dict[int, Tuple[torch.Tensor, torch.Tensor]]:
    compute, result = compute_dtypes(x.dtype)
    xc = x.to(compute)
    full_rank = min(x.shape[-2:])
    factors = None  # one decomposition serves every k; none needed if k covers all
    out = {}
    for k in ks:
        if k >= full_rank:
            top, tail = xc.clone(), torch.zeros_like(xc)
        else:
            if factors is None:
                factors = torch.linalg.svd(xc, full_matrices=False)
            u, s, vh = factors
            top = (u[..., :k] * s[..., None, :k]) @ vh[..., :k, :]
            tail = xc - top
        out[k] = (top.to(result), tail.to(result))
    return out


def svd_split(images: ArrayLike, k: int) -> Tuple[ArrayLike, ArrayLike]:
    """Split images into the top-``k`` singular-value reconstruction and the rest.

    Args:
        images: tensor or array whose last two axes are height and width (``HW``,
            ``CHW``, ``NCHW``, ...); each trailing ``H x W`` matrix is decomposed alone.
        k: number of dominant singular values kept in ``top``, >= 1.

    Returns:
        ``(top, tail)``, same type, shape and device as ``images`` (float; half precision
        is computed in float32). ``top + tail == images`` up to float rounding; nothing is
        clipped.
    """
    k = _check_k(k)
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    top, tail = _svd_parts(x, [k])[k]
    return restore_type(top, as_numpy), restore_type(tail, as_numpy)


def svd_views(images: ArrayLike, ks: Union[int, Iterable[int]]) -> Dict[str, ArrayLike]:
    """``svd_top{k}`` and ``svd_tail{k}`` for every ``k``, from one decomposition.

    Returns a dict (names from :func:`svd_view_name`), each entry the same type, shape
    and device as ``images``.
    """
    if isinstance(ks, numbers.Integral):
        ks = [ks]
    ks = list(dict.fromkeys(_check_k(k) for k in ks))
    if not ks:
        raise ValueError("ks must name at least one k")
    x, as_numpy = as_tensor(images)
    check_image_shape(x)
    views = {}
    for k, (top, tail) in _svd_parts(x, ks).items():
        views[svd_view_name("top", k)] = restore_type(top, as_numpy)
        views[svd_view_name("tail", k)] = restore_type(tail, as_numpy)
    return views
