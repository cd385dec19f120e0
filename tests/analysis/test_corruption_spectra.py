"""Corruption spectra against a direct numpy computation of the same definitions."""
import json

import numpy as np
import pytest

from hfc_det.analysis.corruption_spectra import (
    CorruptionSpectra,
    corruption_spectra,
    plot_spectral_link,
    spectral_link,
    write_corruption_spectra,
)


def direct(d):
    """(C, H, W) perturbation -> (channel-mean amplitude, channel-summed power, distance in bins,
    radius in cycles/pixel), all centred, written out with numpy's FFT."""
    c, h, w = d.shape
    f = np.fft.fftshift(np.fft.fft2(d), axes=(-2, -1)) / np.sqrt(h * w)
    i = np.arange(h)[:, None] - h // 2
    j = np.arange(w)[None, :] - w // 2
    return np.abs(f).mean(0), (np.abs(f) ** 2).sum(0), np.hypot(i, j), np.hypot(i / h, j / w)


@pytest.fixture
def pairs():
    rng = np.random.default_rng(0)
    out = []
    for _ in range(3):
        original = rng.uniform(0, 255, size=(3, 64, 64))
        out.append((original, original + rng.normal(0, 5, size=original.shape) * rng.uniform(0.5, 2)))
    return out


def test_same_size_images_match_numpy(pairs):
    acc = CorruptionSpectra(radii=[4, 10.5], bands=[(4, 16)], grid=64, rings=16)
    for o, c in pairs:
        acc.add("v", o, c)
    got = acc.summary()["views"]["v"]
    parts = [direct(c - o) for o, c in pairs]
    np.testing.assert_allclose(acc.mean_spectrum("v"), np.mean([p[0] for p in parts], axis=0), rtol=1e-10)
    energy = sum(p[1].sum() for p in parts)
    assert energy == pytest.approx(sum(((c - o) ** 2).sum() for o, c in pairs), rel=1e-10)  # Parseval
    for r in (4, 10.5):
        key = "4" if r == 4 else "10.5"
        assert got["energy_below_radius"][key] == pytest.approx(sum(p[1][p[2] < r].sum() for p in parts) / energy)
    band = sum(p[1][(p[2] >= 4) & (p[2] < 16)].sum() for p in parts) / energy
    assert got["energy_in_band"]["4-16"] == pytest.approx(band)
    assert got["mean_radius_bins"] == pytest.approx(sum((p[1] * p[2]).sum() for p in parts) / energy)
    assert got["mean_radius_cycles"] == pytest.approx(sum((p[1] * p[3]).sum() for p in parts) / energy)
    rings = np.zeros(len(got["radial_energy"]))
    for p in parts:
        np.add.at(rings, np.minimum((p[3] / (0.5 / 16)).astype(int), len(rings) - 1), p[1])
    np.testing.assert_allclose(got["radial_energy"], rings / energy, rtol=1e-9, atol=1e-15)
    assert got["images"] == 3 and got["rms"] == pytest.approx(np.sqrt(energy / (3 * 3 * 64 * 64)))


def test_images_of_different_sizes_share_the_grid():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 32, 64)), rng.normal(size=(3, 128, 64))
    acc = CorruptionSpectra(grid=16)
    acc.add("v", np.zeros_like(a), a)
    acc.add("v", np.zeros_like(b), b)
    edges = np.linspace(-0.5, 0.5, 17)
    cells = []
    for d in (a, b):
        amp = direct(d)[0]
        h, w = amp.shape
        gy = np.digitize((np.arange(h) - h // 2) / h, edges) - 1
        gx = np.digitize((np.arange(w) - w // 2) / w, edges) - 1
        grid = np.zeros((16, 16))
        count = np.zeros((16, 16))
        np.add.at(grid, (gy[:, None].repeat(w, 1), gx[None, :].repeat(h, 0)), amp)
        np.add.at(count, (gy[:, None].repeat(w, 1), gx[None, :].repeat(h, 0)), 1)
        cells.append(grid / count)
    np.testing.assert_allclose(acc.mean_spectrum("v"), (cells[0] + cells[1]) / 2, rtol=1e-10)


def test_a_single_frequency_lands_where_it_should():
    """A cosine at (3, 4) bins: all its energy at distance 5 bins, 0.078 cycles/pixel on 64x64."""
    y, x = np.mgrid[:64, :64]
    wave = 10 * np.cos(2 * np.pi * (3 * y + 4 * x) / 64)
    acc = CorruptionSpectra(radii=[5, 5.01])
    acc.add("w", np.zeros((1, 64, 64)), wave[None])
    got = acc.summary()["views"]["w"]
    assert got["mean_radius_bins"] == pytest.approx(5.0)
    assert got["mean_radius_cycles"] == pytest.approx(5 / 64)
    assert got["energy_below_radius"] == {"5": pytest.approx(0, abs=1e-20), "5.01": pytest.approx(1.0)}


def test_noise_is_high_and_fog_low_on_a_photo(tmp_path):
    pytest.importorskip("imagecorruptions")
    from skimage.data import astronaut

    images = [(1, np.ascontiguousarray(astronaut()[::8, ::8])), (2, np.ascontiguousarray(astronaut()[100:164, :96]))]
    views = ["corrupt_gaussian_noise_s3", "corrupt_fog_s3", "corrupt_fog_s1"]
    acc = corruption_spectra(images, views, radii=[8], bands=[(0, 8), (8, 64)])
    s = acc.summary()["views"]
    assert s["corrupt_gaussian_noise_s3"]["mean_radius_cycles"] > 0.3 > 0.1 > s["corrupt_fog_s3"]["mean_radius_cycles"]
    assert s["corrupt_fog_s3"]["energy_below_radius"]["8"] > 0.8 > s["corrupt_gaussian_noise_s3"]["energy_below_radius"]["8"]
    assert s["corrupt_fog_s3"]["corruption"] == "fog" and s["corrupt_fog_s3"]["severity"] == 3
    record = write_corruption_spectra(tmp_path, acc, severity=3)
    assert {p.name for p in tmp_path.iterdir()} == {"corruption_spectra.json", "corruption_spectra.npz",
                                                     "corruption_spectra.png", "corruption_radial_energy.png"}
    on_disk = json.loads((tmp_path / "corruption_spectra.json").read_text())
    assert on_disk["views"]["corrupt_fog_s1"]["images"] == 2 and record["files"]["grid"] == "corruption_spectra.png"
    assert np.load(tmp_path / "corruption_spectra.npz")["corrupt_fog_s3"].shape == (64, 64)
    with pytest.raises(ValueError, match="for corrupt_\\* views"):
        corruption_spectra(images, ["low_r8"])


def ranks(x):
    order = np.argsort(x)
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    return r


def test_spectral_link(tmp_path):
    summary = {"views": {
        f"corrupt_{c}_s3": {"mean_radius_cycles": m, "mean_radius_bins": 64 * m,
                            "energy_in_band": {"0-8": lo, "8-64": 1 - lo}}
        for c, m, lo in [("fog", 0.02, 0.9), ("gaussian_noise", 0.4, 0.05), ("contrast", 0.01, 0.95),
                         ("pixelate", 0.2, 0.3)]}}
    aps = {"corrupt_fog_s3": 20.0, "corrupt_gaussian_noise_s3": 30.0, "corrupt_contrast_s3": 10.0,
           "corrupt_pixelate_s3": 35.0, "band_r0-8": 25.0, "band_r8-64": 5.0}
    link = spectral_link(summary, aps, 40.0, band_views={(0, 8): "band_r0-8", (8, 64): "band_r8-64"})
    by_view = {p["view"]: p for p in link["points"]}
    assert by_view["corrupt_fog_s3"]["drop"] == 20.0
    assert by_view["corrupt_fog_s3"]["predicted_drop"] == pytest.approx(0.9 * 15 + 0.1 * 35)
    views = list(summary["views"])
    drop = np.array([40.0 - aps[v] for v in views])
    radius = np.array([summary["views"][v]["mean_radius_cycles"] for v in views])
    want = np.corrcoef(ranks(radius), ranks(drop))[0, 1]  # no ties: Pearson of the ranks
    assert link["spearman_drop_vs_mean_radius"] == pytest.approx(want)
    predicted = np.array([by_view[v]["predicted_drop"] for v in views])
    assert link["spearman_predicted_vs_measured_drop"] == pytest.approx(np.corrcoef(ranks(predicted), ranks(drop))[0, 1])
    assert spectral_link(summary, {"corrupt_fog_s3": 1.0}, 40.0)["spearman_drop_vs_mean_radius"] is None
    assert plot_spectral_link(link, tmp_path / "link.png").exists()
