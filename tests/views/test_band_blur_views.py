"""band_r{a}-{b} and blur_s{sigma} views against numpy FFT formulas and scipy's Gaussian filter."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from hfc_det.views.frequency import frequency_views, view_name
from hfc_det.views.grammar import VIEW_KINDS, canonical_view_name, compute_views, parse_view, view_axis

SHAPES = [(32, 32), (3, 48, 64), (2, 3, 31, 31), (3, 17, 40), (1, 7, 2)]


def numpy_band(img: np.ndarray, a: float, b: float) -> np.ndarray:
    """Full complex FFT, centred 0/1 mask a <= d < b, real part: the paper's formula with a ring."""
    h, w = img.shape[-2:]
    i = np.arange(h)[:, None] - h // 2
    j = np.arange(w)[None, :] - w // 2
    d = np.sqrt(i ** 2 + j ** 2)
    mask = ((d >= a) & (d < b)).astype(np.float64)
    f = np.fft.fftshift(np.fft.fft2(img), axes=(-2, -1))
    return np.real(np.fft.ifft2(np.fft.ifftshift(f * mask, axes=(-2, -1))))


def numpy_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Full complex FFT times the Gaussian's continuous transfer function in cycles per pixel."""
    h, w = img.shape[-2:]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    transfer = np.exp(-2 * np.pi ** 2 * sigma ** 2 * (fy ** 2 + fx ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(img) * transfer))


def scipy_blur(img: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    flat = img.reshape(-1, *img.shape[-2:])
    out = [ndimage.gaussian_filter(c, sigma, mode="wrap", truncate=truncate) for c in flat]
    return np.stack(out).reshape(img.shape)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("band", [(0, 4), (2, 5.5), (4, 8), (8, 16), (3, 100)])
def test_band_matches_numpy_formula(shape, band, rng):
    x = rng.normal(size=shape) * 40 + 110
    views = frequency_views(x, bands=[band])
    np.testing.assert_allclose(views[view_name("band", *band)], numpy_band(x, *band), atol=1e-9)


@pytest.mark.parametrize("shape", SHAPES)
def test_band_identities(shape, rng):
    x = rng.random(shape)
    v = frequency_views(x, [4, 8], bands=[(0, 8), (4, 8)])
    np.testing.assert_allclose(v["band_r0-8"], v["low_r8"], atol=1e-12)
    np.testing.assert_allclose(v["low_r4"] + v["band_r4-8"], v["low_r8"], atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sigma", [0.5, 1, 2.5, 4])
def test_blur_matches_numpy_transfer_function(shape, sigma, rng):
    x = rng.random(shape) * 255
    views = frequency_views(x, sigmas=[sigma])
    np.testing.assert_allclose(views[view_name("blur", sigma)], numpy_blur(x, sigma), atol=1e-9)


@pytest.mark.parametrize("shape", [(32, 32), (3, 48, 64), (2, 3, 31, 33)])
@pytest.mark.parametrize("sigma", [2, 3])
def test_blur_matches_scipy_wrap_filter(shape, sigma, rng):
    # Without truncation the sampled kernel and the continuous transfer function agree to
    # rounding once sigma >= 2 (the sampled kernel's aliasing exp(-2 pi^2 sigma^2 (1-f)^2)
    # is below 1e-15 at the Nyquist frequency).
    x = rng.random(shape)
    np.testing.assert_allclose(frequency_views(x, sigmas=[sigma])[f"blur_s{sigma}"],
                               scipy_blur(x, sigma, truncate=8.0), atol=1e-9)


@pytest.mark.parametrize("sigma,atol", [(1, 3e-3), (2, 3e-5), (4, 3e-5)])
def test_blur_close_to_scipy_default_truncation(sigma, atol, rng):
    # scipy's default kernel stops at 4 sigma, and at sigma = 1 the sampled kernel aliases
    # (its response at the Nyquist frequency is about twice exp(-pi^2 / 2)): small, bounded.
    x = rng.random((3, 40, 36))
    got = frequency_views(x, sigmas=[sigma])[f"blur_s{sigma}"]
    np.testing.assert_allclose(got, scipy_blur(x, sigma, truncate=4.0), atol=atol)


def test_torch_float32_batch_matches_numpy(rng):
    x = rng.random((2, 3, 24, 30)).astype(np.float32)
    views = frequency_views(torch.from_numpy(x), [6], bands=[(3, 9)], sigmas=[1.5])
    assert views["band_r3-9"].dtype == torch.float32 and views["blur_s1.5"].shape == x.shape
    np.testing.assert_allclose(views["band_r3-9"].numpy(), numpy_band(x.astype(np.float64), 3, 9), atol=1e-5)
    np.testing.assert_allclose(views["blur_s1.5"].numpy(), numpy_blur(x.astype(np.float64), 1.5), atol=1e-5)


def test_one_forward_transform_for_every_filter(monkeypatch, rng):
    calls = []
    real_rfft = torch.fft.rfft
    monkeypatch.setattr(torch.fft, "rfft", lambda *a, **k: calls.append(1) or real_rfft(*a, **k))
    x = torch.from_numpy(rng.random((3, 20, 20)))
    views = compute_views(x, ["original", "low_r4", "high_r8", "band_r4-8", "blur_s1", "blur_s2.5"])
    assert len(calls) == 1
    np.testing.assert_allclose(views["blur_s2.5"].numpy(), numpy_blur(x.numpy(), 2.5), atol=1e-9)


def test_names_parse_and_round_trip():
    assert parse_view("band_r8-16") == ("band", (8.0, 16.0))
    assert parse_view("band_r0-2.5") == ("band", (0.0, 2.5))
    assert parse_view("blur_s2") == ("blur", 2.0)
    assert view_name("band", 8, 16) == "band_r8-16" and view_name("blur", 0.5) == "blur_s0.5"
    assert canonical_view_name("band_r8.0-16.0") == "band_r8-16"
    assert view_axis("band_r8-16") == ("radius", 12.0)
    assert view_axis("blur_s3") == ("sigma", 3.0)
    assert view_axis("low_r4") == ("radius", 4.0)
    views = compute_views(np.ones((8, 8)), ["band_r0.0-2", "band_r0-2"])
    assert list(views) == ["band_r0.0-2", "band_r0-2"]
    assert len({k.kind for k in VIEW_KINDS}) == len(VIEW_KINDS)


@pytest.mark.parametrize("name,message", [
    ("band_r8-8", "0 <= a < b"),
    ("band_r16-8", "0 <= a < b"),
    ("blur_s0", "sigma must be > 0"),
    ("blur_s-1", "sigma must be > 0"),
    ("band_r-1-4", "0 <= a < b"),
    ("low_r-2", "radius must be > 0"),
    ("band_r4", "unknown view"),
])
def test_bad_names_give_one_line_errors(name, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_view(name)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_bad_parameters_in_the_array_api():
    with pytest.raises(ValueError, match="0 <= a < b"):
        frequency_views(np.ones((4, 4)), bands=[(3, 2)])
    with pytest.raises(ValueError, match="sigma must be > 0"):
        frequency_views(np.ones((4, 4)), sigmas=[-1.0])
    with pytest.raises(ValueError, match="0 <= a < b"):
        view_name("band", -1, 3)
