"""Fourier basis images and the perturbation of Yin et al. (NeurIPS 2019), "A Fourier
Perspective on Model Robustness": the core of the Fourier heat maps.

For a frequency ``(u, v)`` (``u`` along the height, ``v`` along the width, in frequency bins,
signed), the basis image ``U(u, v)`` is the real ``H x W`` image whose 2-D DFT is non-zero
only at ``(u mod H, v mod W)`` and ``(-u mod H, -v mod W)``, scaled to unit L2 norm: it is
``cos(2 pi (u i / H + v j / W))`` normalised. ``U(u, v) == U(-u, -v)``, so a heat map needs
only half of its grid (:func:`half_grid`) and is completed by symmetry (:func:`full_grid`).

An image ``x`` (``C x H x W``) is perturbed to ``clip(x + eps * r_c * U(u, v), lo, hi)`` per
channel ``c``, ``r_c`` a random sign drawn from a generator seeded by ``seed`` and the image's
own bytes (:func:`perturbation_signs`), so the same image gets the same signs in any process,
any batch and any order.

numpy and torch only: no detectron2, no classification code.
"""
from __future__ import annotations

import functools
import math
import zlib
from typing import Dict, List, Mapping, Tuple

import numpy as np
import torch

__all__ = [
    "fourier_basis",
    "half_grid",
    "grid_frequencies",
    "full_grid",
    "perturbation_signs",
    "perturb",
    "check_grid",
    "check_eps",
]


def check_eps(eps) -> float:
    """``eps`` (the perturbation's L2 norm per channel, pixel units) as a float > 0."""
    e = float(eps)
    if not math.isfinite(e) or e <= 0:
        raise ValueError(f"--eps must be a finite number > 0 (L2 norm of the perturbation), got {eps!r}")
    return e


def check_grid(grid: int, step: int, height: int, width: int) -> None:
    """Refuse a grid that is empty or reaches past the Nyquist frequency of ``height x width``."""
    if isinstance(grid, bool) or int(grid) != grid or grid < 1:
        raise ValueError(f"--grid must be an integer >= 1 (frequencies -K..K), got {grid!r}")
    if isinstance(step, bool) or int(step) != step or step < 1:
        raise ValueError(f"--step must be an integer >= 1 (bins between grid frequencies), got {step!r}")
    top = min(height, width) // 2
    if grid > top:
        raise ValueError(f"--grid {grid} is past the Nyquist frequency of {height}x{width} images: use at most {top}")


def grid_frequencies(grid: int, step: int = 1) -> List[int]:
    """``-K, ..., 0, ..., K`` in steps of ``step`` bins (``0`` always included): one axis of the grid."""
    half = list(range(step, grid + 1, step))
    return [-f for f in reversed(half)] + [0] + half


def half_grid(grid: int, step: int = 1) -> List[Tuple[int, int]]:
    """The cells of the grid to evaluate: one of each pair ``(u, v)``, ``(-u, -v)``, i.e.
    ``u > 0``, or ``u == 0`` and ``v >= 0``, in row-major order of the full grid."""
    axis = grid_frequencies(grid, step)
    return [(u, v) for u in axis for v in axis if u > 0 or (u == 0 and v >= 0)]


def full_grid(values: Mapping[Tuple[int, int], float], grid: int, step: int = 1) -> np.ndarray:
    """``(n, n)`` float64 heat map (``n = len(grid_frequencies(grid, step))``), row ``u``,
    column ``v``, zero frequency in the middle; each ``(-u, -v)`` takes the value of
    ``(u, v)``. Cells without a value are NaN."""
    axis = grid_frequencies(grid, step)
    index = {f: k for k, f in enumerate(axis)}
    out = np.full((len(axis), len(axis)), np.nan)
    for (u, v), value in values.items():
        out[index[u], index[v]] = value
        out[index[-u], index[-v]] = value
    return out


@functools.lru_cache(maxsize=256)
def _basis_np(height: int, width: int, u: int, v: int) -> np.ndarray:
    spectrum = np.zeros((height, width), dtype=np.complex128)
    spectrum[u % height, v % width] = 1.0
    spectrum[-u % height, -v % width] = 1.0  # the same entry when (u, v) is its own mirror
    basis = np.real(np.fft.ifft2(spectrum))
    basis /= np.linalg.norm(basis)
    basis.setflags(write=False)
    return basis


def fourier_basis(height: int, width: int, u: int, v: int) -> np.ndarray:
    """The unit-norm real basis image ``U(u, v)``, ``(height, width)`` float64 (read-only)."""
    if height < 1 or width < 1:
        raise ValueError(f"basis size must be positive, got {height}x{width}")
    return _basis_np(int(height), int(width), int(u), int(v))


def perturbation_signs(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``(N, C)`` signs (+1 / -1, the images' dtype) for ``(N, C, H, W)`` images: per image,
    a generator seeded by ``seed`` and the CRC-32 of the image's float32 bytes."""
    flat = images.detach().to("cpu", torch.float32).contiguous().numpy()
    out = np.empty(flat.shape[:2])
    for n, image in enumerate(flat):
        rng = np.random.default_rng([int(seed), zlib.crc32(image.tobytes())])
        out[n] = rng.integers(0, 2, size=flat.shape[1]) * 2 - 1
    return torch.from_numpy(out).to(images.device, images.dtype)


def perturb(images: torch.Tensor, u: int, v: int, eps: float, lo: float, hi: float,
            seed: int = 0, signs: torch.Tensor = None) -> torch.Tensor:
    """``clip(x + eps * r_c * U(u, v), lo, hi)`` for ``(N, C, H, W)`` float images.

    ``signs``: the ``(N, C)`` signs (default :func:`perturbation_signs` of ``images`` and
    ``seed``; pass them to reuse across the cells of a grid). ``eps`` is in the images' units.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    eps = check_eps(eps)
    h, w = images.shape[-2:]
    if signs is None:
        signs = perturbation_signs(images, seed)
    basis = torch.tensor(fourier_basis(h, w, u, v), dtype=images.dtype, device=images.device)
    return (images + eps * signs[:, :, None, None] * basis).clamp_(lo, hi)


def cells_to_json(values: Dict[Tuple[int, int], float]) -> List[Dict[str, float]]:
    """``[{"u", "v", "value"}]`` of a half grid, for JSON files."""
    return [{"u": u, "v": v, "value": float(x)} for (u, v), x in values.items()]
