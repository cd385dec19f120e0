"""Each corruption's frequency signature (Yin et al. 2019, "A Fourier perspective on model
robustness", Fig. 1): where in frequency the perturbation ``corrupted - original`` puts its energy.

Per image and view, ``D = fftshift(fft2(corrupted - original, norm="ortho"))`` per channel (the
orthonormal transform, so that a bin's amplitude does not grow with the image's size and the
energy ``sum |D|^2`` is the perturbation's ``sum d^2``, Parseval). Images differ in size, so:

- the mean amplitude spectrum lives on a common ``grid x grid`` lattice of normalised frequency
  (cycles per pixel, ``[-0.5, 0.5)`` on both axes): each image's bin ``(i, j)`` at ``(i / H,
  j / W)`` falls into one cell; a cell holds the mean of the channel-mean amplitudes ``|D|`` that
  fall into it, and the spectrum is the mean of those over the images (over the images that
  reach the cell: a small image leaves some cells of a fine grid empty). An image of ``grid x
  grid`` px maps bin for bin;
- the radial energy profile is in normalised frequency ``rho = sqrt((i/H)^2 + (j/W)^2)``, rings of
  width ``0.5 / rings`` out to the corner (``rho`` up to ``sqrt(0.5)``): the share of the
  energy, pooled over images, in each ring;
- "energy below a radius" uses the run's radii in frequency bins of each image's own spectrum,
  the distance ``sqrt(i^2 + j^2)`` from ``(H // 2, W // 2)`` that ``low_r{R}`` keeps (``< R``), so
  it says how much of the perturbation the model's ``low_r{R}`` view would keep; bands
  ``a <= d < b`` likewise. Pooled over images: ``sum E(< R) / sum E``;
- the energy-weighted mean radius, pooled, in bins and in cycles per pixel.

The zero frequency counts (brightness and contrast shift the mean). numpy and matplotlib only.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hfc_det.analysis.gradient_spectrum import centred_distance
from hfc_det.utils.atomic import save_figure_atomic, write_atomic, write_json_atomic
from hfc_det.views.corruptions import (
    ALL_CORRUPTIONS,
    CORRUPTION_FAMILIES,
    CORRUPTION_KIND,
    corrupt_image,
    corruption_seed,
)
from hfc_det.views.grammar import parse_view

__all__ = ["CorruptionSpectra", "corruption_spectra", "write_corruption_spectra", "spectral_link",
           "plot_spectral_link"]


def _normalised_frequencies(n: int) -> np.ndarray:
    """Cycles per pixel of the bins of a centred axis of ``n``: ``(k - n // 2) / n``."""
    return (np.arange(n) - n // 2) / n


class _Sums:
    """Running sums of one view over the images added."""

    def __init__(self, grid: int, n_rings: int, n_radii: int, n_bands: int):
        self.images = 0
        self.pixels = 0
        self.energy = 0.0
        self.weighted_bins = 0.0
        self.weighted_cycles = 0.0
        self.rings = np.zeros(n_rings)
        self.below = np.zeros(n_radii)
        self.bands = np.zeros(n_bands)
        self.cell_sum = np.zeros((grid, grid))
        self.cell_images = np.zeros((grid, grid))


class CorruptionSpectra:
    """Accumulate the perturbation spectra of views over images (see the module doc).

    ``radii``: the run's radii (bins); ``bands``: ``(a, b)`` bin bands; ``grid``: the common
    lattice's size; ``rings``: rings per 0.5 cycles/pixel in the radial profile.
    """

    def __init__(self, radii: Sequence[float] = (), bands: Sequence[Tuple[float, float]] = (),
                 grid: int = 64, rings: int = 32):
        if int(grid) < 2 or int(rings) < 1:
            raise ValueError(f"the spectrum grid needs >= 2 cells and >= 1 ring, got grid={grid}, rings={rings}")
        self.radii = [float(r) for r in radii]
        self.bands = [(float(a), float(b)) for a, b in bands]
        self.grid = int(grid)
        self.ring_width = 0.5 / int(rings)
        self.n_rings = int(math.ceil(math.sqrt(0.5) / self.ring_width)) + 1
        self._sums: Dict[str, _Sums] = {}

    def add(self, view: str, original: np.ndarray, corrupted: np.ndarray) -> None:
        """Add one image's perturbation: ``original`` and ``corrupted`` ``(C, H, W)`` or ``(H, W)``
        arrays of one shape, in pixel units (their difference is what is measured)."""
        d = np.asarray(corrupted, np.float64) - np.asarray(original, np.float64)
        if np.shape(original) != np.shape(corrupted) or d.ndim not in (2, 3):
            raise ValueError(f"original and corrupted must be (C, H, W) or (H, W) of one shape, "
                             f"got {np.shape(original)} and {np.shape(corrupted)}")
        d = d.reshape((-1,) + d.shape[-2:])
        h, w = d.shape[-2:]
        f = np.fft.fftshift(np.fft.fft2(d, norm="ortho"), axes=(-2, -1))
        amplitude = np.abs(f).mean(axis=0)
        power = (f.real ** 2 + f.imag ** 2).sum(axis=0)
        bins = centred_distance(h, w)
        fy, fx = _normalised_frequencies(h)[:, None], _normalised_frequencies(w)[None, :]
        rho = np.sqrt(fy * fy + fx * fx)
        s = self._sums.setdefault(view, _Sums(self.grid, self.n_rings, len(self.radii), len(self.bands)))
        s.images += 1
        s.pixels += d.size
        s.energy += power.sum()
        s.weighted_bins += (power * bins).sum()
        s.weighted_cycles += (power * rho).sum()
        ring = np.minimum((rho / self.ring_width).astype(np.int64), self.n_rings - 1)
        s.rings += np.bincount(ring.ravel(), weights=power.ravel(), minlength=self.n_rings)
        for k, r in enumerate(self.radii):
            s.below[k] += power[bins < r].sum()
        for k, (a, b) in enumerate(self.bands):
            s.bands[k] += power[(bins >= a) & (bins < b)].sum()
        cell = (self._cells(h)[:, None] * self.grid + self._cells(w)[None, :]).ravel()
        sums = np.bincount(cell, weights=amplitude.ravel(), minlength=self.grid ** 2)
        counts = np.bincount(cell, minlength=self.grid ** 2)
        reached = counts > 0
        mean = np.zeros(self.grid ** 2)
        mean[reached] = sums[reached] / counts[reached]
        s.cell_sum += mean.reshape(self.grid, self.grid)
        s.cell_images += reached.reshape(self.grid, self.grid)

    def _cells(self, n: int) -> np.ndarray:
        """Grid cell of each bin of a centred axis of ``n``: ``floor((k / n - n // 2 / n + 0.5) * grid)``
        in integers (floats would put a bin on a cell edge into the cell below)."""
        k = np.arange(n, dtype=np.int64)
        return np.minimum((2 * k - 2 * (n // 2) + n) * self.grid // (2 * n), self.grid - 1)

    @property
    def views(self) -> List[str]:
        return list(self._sums)

    def mean_spectrum(self, view: str) -> np.ndarray:
        """``(grid, grid)`` mean amplitude spectrum of ``view``, zero frequency at ``(grid // 2,
        grid // 2)``; ``nan`` in cells no image reached."""
        s = self._sums[view]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(s.cell_images > 0, s.cell_sum / np.maximum(s.cell_images, 1), np.nan)

    def ring_centres(self) -> np.ndarray:
        """Cycles per pixel at the middle of each radial ring."""
        return (np.arange(self.n_rings) + 0.5) * self.ring_width

    def summary(self) -> dict:
        """The numbers, JSON-ready: settings and ``{"views": {view: {...}}}`` (see the module doc)."""
        views = {}
        for view, s in self._sums.items():
            e = s.energy
            share = (lambda x: float(x / e)) if e > 0 else (lambda x: None)
            record = {"images": s.images, "rms": math.sqrt(e / s.pixels) if s.pixels else None,
                      "energy_below_radius": {_key(r): share(v) for r, v in zip(self.radii, s.below)},
                      "energy_in_band": {f"{_key(a)}-{_key(b)}": share(v) for (a, b), v in zip(self.bands, s.bands)},
                      "mean_radius_bins": share(s.weighted_bins), "mean_radius_cycles": share(s.weighted_cycles),
                      "radial_energy": [share(v) for v in s.rings]}
            if view.startswith(CORRUPTION_KIND + "_"):
                _, (corruption, severity) = parse_view(view)
                record.update(corruption=corruption, severity=severity)
            views[view] = record
        return {"radii_bins": self.radii, "bands_bins": [list(b) for b in self.bands], "grid": self.grid,
                "ring_width_cycles": self.ring_width, "ring_centres_cycles": self.ring_centres().tolist(),
                "amplitude": "mean over channels of |fft2(corrupted - original, norm='ortho')|, pixel units",
                "views": views}


def _key(r: float) -> str:
    return str(int(r)) if float(r).is_integer() else repr(float(r))


def corruption_spectra(images: Iterable[Tuple[int, np.ndarray]], views: Sequence[str], radii: Sequence[float] = (),
                       bands: Sequence[Tuple[float, float]] = (), grid: int = 64, rings: int = 32) -> CorruptionSpectra:
    """The spectra of the corruption ``views`` over ``(image_id, uint8 RGB (H, W, 3))`` pairs,
    each view made as the evaluation makes it (the same seed, so the same pixels)."""
    acc = CorruptionSpectra(radii, bands, grid, rings)
    parsed = [(v, parse_view(v)) for v in views]
    for v, (kind, _) in parsed:
        if kind != CORRUPTION_KIND:
            raise ValueError(f"corruption spectra are for corrupt_* views, got {v!r}")
    for image_id, image in images:
        original = np.asarray(image).transpose(2, 0, 1)
        for v, (_, (corruption, severity)) in parsed:
            out = corrupt_image(image, corruption, severity, corruption_seed(int(image_id), v))
            acc.add(v, original, out.transpose(2, 0, 1))
    return acc


def _family_colours() -> Dict[str, str]:
    palette = {"noise": "tab:red", "blur": "tab:blue", "weather": "tab:green", "digital": "tab:purple"}
    colours = {c: palette[f] for f, names in CORRUPTION_FAMILIES.items() for c in names}
    colours.update({c: "tab:gray" for c in ALL_CORRUPTIONS if c not in colours})
    return colours


def _at_severity(summary: dict, severity: int) -> List[str]:
    return [v for v, r in summary["views"].items() if r.get("severity") == severity]


def write_corruption_spectra(out_dir, acc: CorruptionSpectra, severity: int = 3) -> dict:
    """Write ``corruption_spectra.json`` (the numbers), ``corruption_spectra.npz`` (each view's
    mean spectrum), ``corruption_spectra.png`` (the log spectra at ``severity``, one panel per
    corruption, one colour scale) and ``corruption_radial_energy.png`` (the radial energy
    profiles at ``severity``) in ``out_dir``. Returns the JSON dict (with the file names)."""
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    summary = acc.summary()
    spectra = {v: acc.mean_spectrum(v) for v in acc.views}
    write_atomic(out_dir / "corruption_spectra.npz", lambda f: np.savez_compressed(f, **spectra))
    chosen = _at_severity(summary, severity) or acc.views
    files = {"json": "corruption_spectra.json", "spectra": "corruption_spectra.npz"}
    if chosen:
        cols = min(5, len(chosen))
        rows = math.ceil(len(chosen) / cols)
        fig = Figure(figsize=(2.3 * cols + 1.0, 2.3 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        logs = {v: np.log10(np.maximum(spectra[v], 1e-6)) for v in chosen}
        finite = np.concatenate([x[np.isfinite(x)] for x in logs.values()])
        vmin, vmax = np.percentile(finite, [1, 99.9]) if finite.size else (0, 1)
        image = None
        for ax, v in zip(axes.ravel(), chosen):
            image = ax.imshow(logs[v], cmap="magma", vmin=vmin, vmax=vmax, extent=(-0.5, 0.5, 0.5, -0.5),
                              interpolation="nearest")
            ax.set_title(summary["views"][v].get("corruption", v), fontsize=8)
            ax.set_xticks([-0.5, 0, 0.5])
            ax.set_yticks([-0.5, 0, 0.5])
            ax.tick_params(labelsize=6)
        for ax in axes.ravel()[len(chosen):]:
            ax.axis("off")
        fig.colorbar(image, ax=axes, label="log10 mean |DFT(corrupted - original)|", shrink=0.8)
        fig.suptitle(f"perturbation spectra at severity {severity} (cycles/pixel, zero frequency centred)",
                     fontsize=9)
        save_figure_atomic(fig, out_dir / "corruption_spectra.png", dpi=110)

        colours = _family_colours()
        fig = Figure(figsize=(7.5, 4.5), layout="constrained")
        ax = fig.subplots()
        x = acc.ring_centres()
        for v in chosen:
            r = summary["views"][v]
            y = np.array([np.nan if e is None else e for e in r["radial_energy"]], float)
            ax.semilogy(x, np.where(y > 0, y, np.nan), "-", lw=1.2, label=r.get("corruption", v),
                        color=colours.get(r.get("corruption"), None))
        ax.set_xlabel("radius (cycles/pixel)")
        ax.set_ylabel("share of the perturbation's energy per ring")
        ax.set_title(f"radial energy of (corrupted - original) at severity {severity}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
        save_figure_atomic(fig, out_dir / "corruption_radial_energy.png", dpi=110)
        files.update(grid="corruption_spectra.png", radial="corruption_radial_energy.png")
    summary["files"] = files
    summary["pictured_severity"] = severity
    write_json_atomic(out_dir / "corruption_spectra.json", summary)
    return summary


def spectral_link(summary: dict, ap_by_view: Mapping[str, float], clean_ap: float,
                  band_views: Optional[Mapping[Tuple[float, float], str]] = None) -> dict:
    """Per corruption view: the AP drop ``clean_ap - AP`` against its energy-weighted mean radius,
    and their Spearman correlation over the views (``None`` with fewer than 3 views or a
    constant column).

    ``band_views``: ``{(a, b): band view name}`` the run evaluated; then each view also gets the
    drop predicted by weighting the band views' drops (``clean_ap - AP(band)``) with the view's
    energy shares in those bands (normalised to sum 1 over them), and its Spearman correlation
    with the measured drop. Only views in both ``summary`` and ``ap_by_view`` count.
    """
    from scipy.stats import spearmanr

    points = []
    bands = [(tuple(b), _band_key(b)) for b in (band_views or {})]
    for view, record in summary["views"].items():
        if view not in ap_by_view or record["mean_radius_cycles"] is None:
            continue
        point = {"view": view, "drop": float(clean_ap) - float(ap_by_view[view]),
                 "mean_radius_cycles": record["mean_radius_cycles"], "mean_radius_bins": record["mean_radius_bins"]}
        if bands:
            shares = [record["energy_in_band"].get(key) for _, key in bands]
            drops = [float(clean_ap) - float(ap_by_view[band_views[b]]) if band_views[b] in ap_by_view else None
                     for b, _ in bands]
            usable = [(s, d) for s, d in zip(shares, drops) if s is not None and d is not None]
            total = sum(s for s, _ in usable)
            point["predicted_drop"] = sum(s * d for s, d in usable) / total if total > 0 else None
        points.append(point)

    def rho(x, y):
        pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
        if len(pairs) < 3 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
            return None
        return float(spearmanr(*zip(*pairs)).statistic)

    out = {"points": points, "spearman_drop_vs_mean_radius":
           rho([p["mean_radius_cycles"] for p in points], [p["drop"] for p in points])}
    if bands:
        out["spearman_predicted_vs_measured_drop"] = rho([p["predicted_drop"] for p in points],
                                                         [p["drop"] for p in points])
    return out


def _band_key(band) -> str:
    return f"{_key(band[0])}-{_key(band[1])}"


def plot_spectral_link(link: dict, path) -> Path:
    """Scatter of the AP drop against the mean radius (left) and, when there are band views,
    against the band-predicted drop (right), with the Spearman correlations in the titles."""
    from matplotlib.figure import Figure

    points = link["points"]
    predicted = "spearman_predicted_vs_measured_drop" in link
    fig = Figure(figsize=(10 if predicted else 5.5, 4.2), layout="constrained")
    axes = fig.subplots(1, 2 if predicted else 1, squeeze=False)[0]
    colours = _family_colours()

    def draw(ax, xkey, xlabel, title_key):
        for p in points:
            if p.get(xkey) is None:
                continue
            kind, parameter = parse_view(p["view"])
            corruption = parameter[0] if kind == CORRUPTION_KIND else p["view"]
            ax.scatter(p[xkey], p["drop"], s=14, color=colours.get(corruption, "k"))
            ax.annotate(p["view"][len(CORRUPTION_KIND) + 1:], (p[xkey], p["drop"]), fontsize=5)
        r = link.get(title_key)
        ax.set_title(f"Spearman {'-' if r is None else f'{r:.2f}'} over {len(points)} views", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("AP drop (clean - corrupted)")
        ax.grid(alpha=0.3)

    draw(axes[0], "mean_radius_cycles", "energy-weighted mean radius (cycles/pixel)", "spearman_drop_vs_mean_radius")
    if predicted:
        draw(axes[1], "predicted_drop", "AP drop predicted from the band views", "spearman_predicted_vs_measured_drop")
    return save_figure_atomic(fig, path, dpi=110)
