"""Fourier basis images, the perturbation and the half grid, against numpy's FFT and cosines."""
import numpy as np
import pytest
import torch

from hfc_det.views.fourier_basis import (
    check_grid,
    fourier_basis,
    full_grid,
    grid_frequencies,
    half_grid,
    perturb,
    perturbation_signs,
)
from hfc_det.views.grammar import compute_views, parse_view


@pytest.mark.parametrize("shape", [(8, 8), (32, 32), (15, 20), (9, 7)])
def test_basis_is_real_unit_norm_with_one_frequency_pair(shape):
    h, w = shape
    for u, v in [(0, 0), (1, 0), (0, 2), (2, -3), (-1, 1), (h // 2, 0), (h // 2, w // 2)]:
        b = fourier_basis(h, w, u, v)
        assert b.dtype == np.float64 and b.shape == (h, w)
        assert np.linalg.norm(b) == pytest.approx(1.0, abs=1e-12)
        f = np.fft.fft2(b)
        nonzero = {tuple(ix) for ix in np.argwhere(np.abs(f) > 1e-9)}
        assert nonzero == {(u % h, v % w), (-u % h, -v % w)}
        # and it is the normalised cosine
        i, j = np.ogrid[:h, :w]
        c = np.cos(2 * np.pi * (u * i / h + v * j / w))
        np.testing.assert_allclose(b, c / np.linalg.norm(c), atol=1e-12)
        np.testing.assert_allclose(fourier_basis(h, w, -u, -v), b, atol=1e-12)


def test_half_grid_covers_every_pair_once():
    for grid, step in [(1, 1), (4, 1), (6, 2), (5, 3)]:
        axis = grid_frequencies(grid, step)
        assert axis == sorted(axis) and 0 in axis and max(axis) <= grid and axis == [-a for a in reversed(axis)]
        cells = half_grid(grid, step)
        full = {(u, v) for u in axis for v in axis}
        covered = set(cells) | {(-u, -v) for u, v in cells}
        assert covered == full and len(cells) == (len(full) + 1) // 2
    values = {cell: float(k) for k, cell in enumerate(half_grid(2))}
    m = full_grid(values, 2)
    assert m.shape == (5, 5) and not np.isnan(m).any()
    np.testing.assert_array_equal(m, m[::-1, ::-1])  # centred, point-symmetric
    assert m[2, 2] == values[(0, 0)] and m[3, 4] == values[(1, 2)] and m[1, 0] == values[(1, 2)]


def test_perturbation_and_clipping_against_a_direct_loop():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.random((4, 3, 12, 10)))
    eps, u, v = 2.0, 2, -1
    signs = perturbation_signs(x, seed=5)
    assert set(signs.unique().tolist()) <= {-1.0, 1.0} and signs.shape == (4, 3)
    torch.testing.assert_close(perturbation_signs(x[2:3], seed=5), signs[2:3])  # per image, any batch
    got = perturb(x, u, v, eps, 0.0, 1.0, seed=5)
    i, j = np.ogrid[:12, :10]
    c = np.cos(2 * np.pi * (u * i / 12 + v * j / 10))
    c /= np.linalg.norm(c)
    for n in range(4):
        for ch in range(3):
            want = np.clip(x[n, ch].numpy() + eps * signs[n, ch].item() * c, 0.0, 1.0)
            np.testing.assert_allclose(got[n, ch].numpy(), want, atol=1e-12)
    assert got.min() == 0.0 and got.max() == 1.0  # eps 2 on [0, 1] pixels clips both ends
    # unclipped, each channel moves by exactly eps in L2
    free = perturb(x, u, v, eps, -np.inf, np.inf, signs=signs)
    norms = torch.linalg.vector_norm(free - x, dim=(-2, -1))
    torch.testing.assert_close(norms, torch.full_like(norms, eps))


def test_fourier_views_in_the_grammar_match_perturb():
    rng = np.random.default_rng(4)
    x = rng.random((3, 16, 20)) * 255
    assert parse_view("fourier_u2_v-3_e500") == ("fourier", (2, -3, 500.0))
    views = compute_views(x, ["original", "fourier_u2_v-3_e500"])
    want = perturb(torch.from_numpy(x)[None], 2, -3, 500.0, 0.0, 255.0, seed=0)[0].numpy()
    np.testing.assert_allclose(views["fourier_u2_v-3_e500"], want, atol=1e-12)
    with pytest.raises(ValueError, match="EPS > 0|must be a finite number > 0"):
        parse_view("fourier_u1_v1_e0")


@pytest.mark.parametrize("grid,step,message", [(0, 1, "--grid must be"), (5, 1, "past the Nyquist"),
                                               (2, 0, "--step must be")])
def test_bad_grids(grid, step, message):
    with pytest.raises(ValueError, match=message):
        check_grid(grid, step, 8, 8)
