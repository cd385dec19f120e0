"""Tests of hfc_det.visualization: drawing functions against independent numpy/scipy maths."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.fft
from PIL import Image

from hfc_det.visualization import display, spectrum
from hfc_det.visualization.atomic import write_json_atomic


def reference_split(hwc: np.ndarray, radius: float):
    """The paper's recipe written out per channel with scipy: mask distance < r from (H//2, W//2)."""
    h, w = hwc.shape[:2]
    ii, jj = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    mask = np.sqrt(ii**2 + jj**2) < radius
    low = np.empty(hwc.shape, np.float64)
    for c in range(hwc.shape[2]):
        f = scipy.fft.fftshift(scipy.fft.fft2(hwc[:, :, c].astype(np.float64)))
        low[:, :, c] = np.real(scipy.fft.ifft2(scipy.fft.ifftshift(f * mask)))
    return low, hwc - low


@pytest.fixture(scope="module")
def photo():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()[::4, ::3]  # 128x171x3: not square, odd width


# ---------------------------------------------------------------- display scalings


def test_clip_for_display_matches_numpy_clip():
    x = np.array([[-20.0, 0.4, 127.6, 300.0]], np.float32)
    assert display.clip_for_display(x).tolist() == [[0, 0, 128, 255]]


def test_symmetric_hfc_scaling_keeps_zero_at_mid_grey():
    h = np.array([[-4.0, 0.0, 2.0, 4.0]])
    got = display.scale_hfc_for_display(h, "symmetric")
    expected = np.rint((0.5 + h / 8.0) * 255).astype(np.uint8)
    assert got.tolist() == expected.tolist()
    assert got[0, 1] == 128  # zero -> grey (127.5 rounds to even 128)


def test_minmax_hfc_scaling_stretches_range():
    h = np.array([[-1.0, 0.0, 3.0]])
    assert display.scale_hfc_for_display(h, "minmax").tolist() == [[0, 64, 255]]


def test_flat_hfc_does_not_divide_by_zero():
    z = np.zeros((3, 3))
    assert (display.scale_hfc_for_display(z, "symmetric") == 128).all()
    assert (display.scale_hfc_for_display(z, "minmax") == 0).all()


def test_unknown_scaling_names_choices():
    with pytest.raises(ValueError, match="minmax"):
        display.scale_hfc_for_display(np.zeros((2, 2)), "log")


def test_split_views_hwc_matches_reference(photo):
    views = display.split_views_hwc(photo, [10])
    low, high = reference_split(photo.astype(np.float64), 10)
    np.testing.assert_allclose(views["low_r10"], low, atol=1e-3)
    np.testing.assert_allclose(views["high_r10"], high, atol=1e-3)
    assert views["original"].shape == photo.shape


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2)), np.zeros((2, 3, 4, 5)), np.zeros((0, 4))])
def test_as_float_hwc_rejects_bad_layouts(bad):
    with pytest.raises(ValueError):
        display.as_float_hwc(bad)


# ---------------------------------------------------------------- spectrum


def test_log_spectrum_matches_scipy_per_channel_mean(photo):
    expected = np.mean(
        [np.log1p(np.abs(scipy.fft.fftshift(scipy.fft.fft2(photo[:, :, c].astype(float))))) for c in range(3)],
        axis=0,
    )
    got = spectrum.log_spectrum(photo)
    assert got.shape == photo.shape[:2]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-9)


def test_log_spectrum_puts_cosine_peaks_around_center():
    h, w, fy, fx = 32, 48, 3, 5
    yy, xx = np.mgrid[:h, :w]
    img = 100 + 50 * np.cos(2 * np.pi * (fy * yy / h + fx * xx / w))
    s = spectrum.log_spectrum(img)
    cx, cy = spectrum.spectrum_center(h, w)
    top3 = {tuple(p) for p in np.argwhere(s >= np.sort(s.ravel())[-3])}
    assert top3 == {(cy, cx), (cy + fy, cx + fx), (cy - fy, cx - fx)}


def test_frequency_grid_writes_png_and_describes_it(tmp_path, photo):
    out = tmp_path / "grid.png"
    info = spectrum.save_frequency_grid(photo, [4, 16], out, title="astronaut", hfc_scaling="minmax")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 200
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left
    assert info["circle_center_xy"] == [photo.shape[1] // 2, photo.shape[0] // 2]
    assert info["radii"] == [4.0, 16.0] and info["hfc_display"] == "minmax"
    for row in info["rows"]:
        low, high = reference_split(photo.astype(np.float64), row["radius"])
        np.testing.assert_allclose(row["lfc_range"], [low.min(), low.max()], atol=1e-2)
        np.testing.assert_allclose(row["hfc_abs_max"], np.abs(high).max(), atol=1e-2)
        assert row["lfc_clipped_fraction"] == pytest.approx(np.mean((low < 0) | (low > 255)), abs=1e-3)
    json.dumps(info)  # JSON-able as promised


def test_frequency_grid_radius_beyond_spectrum_keeps_everything_low(tmp_path):
    img = np.random.default_rng(0).uniform(0, 255, (20, 30))
    info = spectrum.save_frequency_grid(img, [math.hypot(10, 15) + 1], tmp_path / "g.png")
    row = info["rows"][0]
    assert row["keeps_whole_spectrum"] and row["hfc_abs_max"] < 1e-3


def test_write_json_atomic_writes_nan_as_null(tmp_path):
    p = write_json_atomic(tmp_path / "a.json", {"x": float("nan"), "y": np.float32(1.5)})
    assert json.loads(p.read_text()) == {"x": None, "y": 1.5}
