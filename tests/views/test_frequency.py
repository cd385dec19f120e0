"""The frequency split against independent numpy formulas and the paper's definitions."""
import math

import numpy as np
import pytest
import torch

from hfc_det.views.grammar import parse_view
from hfc_det.views.frequency import (
    frequency_views,
    max_radius,
    radial_mask,
    split_frequencies,
    view_name,
)


def numpy_split(img: np.ndarray, r: float):
    """The paper's formula, literally: full complex FFT, centred mask, real part."""
    h, w = img.shape[-2:]
    i = np.arange(h)[:, None] - h // 2
    j = np.arange(w)[None, :] - w // 2
    mask = (np.sqrt(i ** 2 + j ** 2) < r).astype(np.float64)
    f = np.fft.fftshift(np.fft.fft2(img.astype(np.float64)), axes=(-2, -1))
    low = np.real(np.fft.ifft2(np.fft.ifftshift(f * mask, axes=(-2, -1))))
    high = np.real(np.fft.ifft2(np.fft.ifftshift(f * (1 - mask), axes=(-2, -1))))
    return low, high


def authors_reference(images_nhwc: np.ndarray, r: float):
    """A faithful re-implementation of the authors' per-image, per-channel loop
    (HaohanWang/HFC utility/frequencyHelper.py, with the 0/1 mask of the paper), which
    measures distances from (rows/2, rows/2): only right for square images."""
    n, rows, cols, c = images_nhwc.shape
    mask = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            mask[i, j] = 1.0 if np.sqrt((i - rows / 2) ** 2 + (j - rows / 2) ** 2) < r else 0.0
    lows, highs = [], []
    for k in range(n):
        lo = np.zeros((rows, cols, c))
        hi = np.zeros((rows, cols, c))
        for ch in range(c):
            fd = np.fft.fftshift(np.fft.fft2(images_nhwc[k, :, :, ch]))
            lo[:, :, ch] = np.real(np.fft.ifft2(np.fft.ifftshift(fd * mask)))
            hi[:, :, ch] = np.real(np.fft.ifft2(np.fft.ifftshift(fd * (1 - mask))))
        lows.append(lo)
        highs.append(hi)
    return np.array(lows), np.array(highs)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(32, 32), (3, 32, 32), (2, 3, 31, 31), (3, 48, 64), (5, 17, 40), (1, 7, 2)])
@pytest.mark.parametrize("r", [1, 2.5, 4, 8, 16])
def test_matches_numpy_formula(shape, r, rng):
    x = rng.normal(size=shape) * 50 + 120
    low, high = split_frequencies(x, r)
    ref_low, ref_high = numpy_split(x, r)
    assert low.shape == x.shape and high.shape == x.shape
    np.testing.assert_allclose(low, ref_low, atol=1e-9)
    np.testing.assert_allclose(high, ref_high, atol=1e-9)


def test_imaginary_part_is_zero(rng):
    # The justification of the real-input transforms: F * M is Hermitian for our masks.
    x = rng.normal(size=(3, 30, 45))
    h, w = x.shape[-2:]
    mask = radial_mask(h, w, 7).numpy()
    f = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    inv = np.fft.ifft2(np.fft.ifftshift(f * mask, axes=(-2, -1)))
    assert np.abs(inv.imag).max() < 1e-10


@pytest.mark.parametrize("r", [4, 8, 12, 16, 20, 24, 28])
def test_matches_authors_code_on_square_cifar_images(r, rng):
    x = rng.integers(0, 256, size=(4, 32, 32, 3)).astype(np.float64)
    ref_low, ref_high = authors_reference(x, r)
    low, high = split_frequencies(x.transpose(0, 3, 1, 2), r)
    np.testing.assert_allclose(low.transpose(0, 2, 3, 1), ref_low, atol=1e-9)
    np.testing.assert_allclose(high.transpose(0, 2, 3, 1), ref_high, atol=1e-9)


def test_non_square_uses_true_centroid():
    h, w = 6, 10
    m = radial_mask(h, w, 1.5).numpy()
    # (H//2, W//2) = (3, 5) is the zero frequency after fftshift: it and its 8 neighbours
    # (distance <= sqrt 2 < 1.5) are in, nothing else.
    expected = np.zeros((h, w), bool)
    expected[2:5, 4:7] = True
    np.testing.assert_array_equal(m, expected)


def test_low_plus_high_is_identity(rng):
    x = torch.from_numpy(rng.normal(size=(2, 3, 40, 33)).astype(np.float32)) * 255
    low, high = split_frequencies(x, 6)
    torch.testing.assert_close(low + high, x, atol=1e-3, rtol=0)


@pytest.mark.parametrize("r", [3, 9.5])
def test_idempotent(r, rng):
    x = rng.normal(size=(3, 37, 29))
    low, _ = split_frequencies(x, r)
    low2, high2 = split_frequencies(low, r)
    np.testing.assert_allclose(low2, low, atol=1e-9)
    np.testing.assert_allclose(high2, 0, atol=1e-9)


def test_parseval_energy_split(rng):
    # Orthogonal projections in frequency space: the energies add up.
    x = rng.normal(size=(3, 24, 36))
    low, high = split_frequencies(x, 5)
    total = np.sum(x ** 2)
    np.testing.assert_allclose(np.sum(low ** 2) + np.sum(high ** 2), total, rtol=1e-10)
    assert abs(np.sum(low * high)) < 1e-8 * total
    # and the low energy is exactly the spectrum energy inside the mask (Parseval)
    f = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    m = radial_mask(24, 36, 5).numpy()
    np.testing.assert_allclose(np.sum(low ** 2), np.sum(np.abs(f) ** 2 * m) / (24 * 36), rtol=1e-10)


def test_radius_beyond_spectrum_keeps_everything(rng):
    x = rng.normal(size=(3, 10, 14)).astype(np.float32)
    r = max_radius(10, 14) + 0.01
    low, high = split_frequencies(x, r)
    np.testing.assert_array_equal(low, x)
    np.testing.assert_array_equal(high, np.zeros_like(x))
    # at exactly the largest distance the corner bin is excluded ("strictly less")
    assert not radial_mask(10, 14, max_radius(10, 14)).numpy().all()


def test_max_radius_formula():
    for h, w in [(1, 1), (2, 3), (5, 8), (32, 32), (480, 640)]:
        i = np.arange(h)[:, None] - h // 2
        j = np.arange(w)[None, :] - w // 2
        assert max_radius(h, w) == pytest.approx(np.sqrt(i ** 2 + j ** 2).max())


@pytest.mark.parametrize(
    "dtype, out",
    [
        (torch.float32, torch.float32),
        (torch.float64, torch.float64),
        (torch.float16, torch.float16),
        (torch.bfloat16, torch.bfloat16),
        (torch.uint8, torch.float32),
        (torch.int64, torch.float32),
    ],
)
def test_dtypes_torch(dtype, out):
    x = (torch.rand(2, 3, 16, 20) * 200).to(dtype)
    low, high = split_frequencies(x, 4)
    assert low.dtype == out and high.dtype == out
    assert low.shape == x.shape and low.device == x.device
    ref_low, _ = numpy_split(x.double().numpy(), 4)
    tol = 1.0 if out in (torch.float16, torch.bfloat16) else 1e-3
    np.testing.assert_allclose(low.double().numpy(), ref_low, atol=tol)


@pytest.mark.parametrize("dtype, out", [(np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float16), (np.uint8, np.float32), (np.bool_, np.float32)])
def test_dtypes_numpy(dtype, out):
    x = (np.random.default_rng(1).random((3, 12, 12)) * 2).astype(dtype)
    low, high = split_frequencies(x, 3)
    assert isinstance(low, np.ndarray) and low.dtype == out and low.shape == x.shape


def test_no_clipping_or_rounding():
    # A step edge rings: the LFC overshoots [0, 255] and the HFC goes negative.
    x = np.zeros((64, 64), np.float32)
    x[:, 32:] = 255
    low, high = split_frequencies(x, 6)
    assert low.max() > 255 and low.min() < 0 and high.min() < 0
    assert not np.allclose(low, np.round(low))


def test_frequency_views_matches_split(rng):
    x = torch.from_numpy(rng.normal(size=(2, 3, 20, 26)))
    views = frequency_views(x, [4, 8, 2.5, 4])
    assert list(views) == ["original", "low_r4", "high_r4", "low_r8", "high_r8", "low_r2.5", "high_r2.5"]
    assert views["original"] is x or torch.equal(views["original"], x)
    for r in (4, 8, 2.5):
        low, high = split_frequencies(x, r)
        torch.testing.assert_close(views[view_name("low", r)], low)
        torch.testing.assert_close(views[view_name("high", r)], high)


def test_view_names_round_trip():
    assert view_name("low", 128) == "low_r128" and view_name("high", 8.0) == "high_r8"
    assert parse_view("low_r2.5") == ("low", 2.5)
    assert parse_view("high_r128") == ("high", 128.0)
    assert parse_view("original")[0] == "original"
    for bad in ["low", "low_r", "mid_r4", "low_r-3", "low_rabc", "high_r0"]:
        with pytest.raises(ValueError):
            parse_view(bad)


@pytest.mark.parametrize("radius", [0, -1, float("nan"), float("inf"), -float("inf")])
def test_bad_radius(radius):
    with pytest.raises(ValueError, match="radius"):
        split_frequencies(np.zeros((4, 4)), radius)


@pytest.mark.parametrize("radius", ["4", None, True, 3 + 1j])
def test_radius_wrong_type(radius):
    with pytest.raises(TypeError, match="radius"):
        split_frequencies(np.zeros((4, 4)), radius)


def test_bad_images():
    with pytest.raises(ValueError, match="two axes"):
        split_frequencies(np.zeros(5), 2)
    with pytest.raises(ValueError, match="two axes"):
        split_frequencies(torch.tensor(3.0), 2)
    with pytest.raises(ValueError, match="empty"):
        split_frequencies(np.zeros((3, 0, 4)), 2)
    with pytest.raises(ValueError, match="empty"):
        split_frequencies(torch.zeros(0, 3, 4, 4), 2)
    with pytest.raises(TypeError, match="complex"):
        split_frequencies(np.zeros((4, 4), np.complex64), 2)
    with pytest.raises(TypeError, match="complex"):
        split_frequencies(torch.zeros(4, 4, dtype=torch.complex64), 2)
    with pytest.raises(TypeError, match="ndarray"):
        split_frequencies([[1.0, 2.0], [3.0, 4.0]], 2)
    with pytest.raises(ValueError, match="at least one radius"):
        frequency_views(np.zeros((4, 4)), [])


def test_radial_mask_area_grows_like_a_disc():
    m = radial_mask(401, 401, 100)
    assert m.dtype == torch.bool and m.shape == (401, 401)
    assert abs(m.sum().item() - math.pi * 100 ** 2) / (math.pi * 100 ** 2) < 0.01
    with pytest.raises(ValueError):
        radial_mask(0, 5, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    x = torch.rand(4, 3, 64, 48) * 255
    low_cpu, high_cpu = split_frequencies(x, 10)
    low, high = split_frequencies(x.cuda(), 10)
    assert low.device.type == "cuda" and high.device.type == "cuda"
    torch.testing.assert_close(low.cpu(), low_cpu, atol=1e-3, rtol=0)
    torch.testing.assert_close(high.cpu(), high_cpu, atol=1e-3, rtol=0)
    half_low, _ = split_frequencies(x.cuda().half(), 10)
    assert half_low.dtype == torch.float16
