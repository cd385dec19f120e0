"""Pictures and tables of gradient spectra (:mod:`hfc_det.analysis.gradient_spectrum`): the 2-D log
spectra side by side and all radial profiles on one plot; the profiles as CSV."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from hfc_det.utils.atomic import save_figure_atomic, write_atomic, write_json_atomic, write_text_atomic
from hfc_det.analysis.gradient_spectrum import centred_distance, radial_profile

__all__ = ["write_spectra"]


def write_spectra(out_dir, spectra: Sequence[np.ndarray], labels: Sequence[str], what: str,
                  extra: Dict = None) -> Dict:
    """``spectrum.npy`` (``(K, H, W)``, one per label), ``radial_profile.csv``,
    ``spectrum.json`` and ``spectrum.png`` in ``out_dir``. Returns the JSON dict."""
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    stack = np.stack(spectra)
    write_atomic(out_dir / "spectrum.npy", lambda f: np.save(f, stack))
    profiles = [radial_profile(s) for s in spectra]
    radius, _, cycles = profiles[0]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["radius_bins", "cycles_per_pixel", *labels])
    for k, r in enumerate(radius):
        writer.writerow([int(r), repr(float(cycles[k])), *(repr(float(p[1][k])) for p in profiles)])
    write_text_atomic(out_dir / "radial_profile.csv", buf.getvalue())

    # Top row: the 2-D spectra on one colour scale; bottom row: every radial profile.
    k = len(spectra)
    fig = Figure(figsize=(max(6.0, 3.2 * k + 1.2), 7.0), layout="constrained")
    mosaic = [[f"s{n}" for n in range(k)], ["profile"] * k]
    panels = fig.subplot_mosaic(mosaic, height_ratios=[1, 0.9])
    axes = [panels[f"s{n}"] for n in range(k)] + [panels["profile"]]
    h, w = stack.shape[-2:]
    extent = (-(w // 2) - 0.5, w - w // 2 - 0.5, h - h // 2 - 0.5, -(h // 2) - 0.5)
    floor = np.log10(max(stack[stack > 0].min(), 1e-300)) if (stack > 0).any() else 0.0
    vmin, vmax = floor, np.log10(stack.max()) if stack.max() > 0 else 1.0
    for ax, spectrum, label in zip(axes, spectra, labels):
        image = ax.imshow(np.log10(np.maximum(spectrum, 10 ** floor)), cmap="magma", vmin=vmin, vmax=vmax,
                          extent=extent, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("v (bins)", fontsize=8)
    axes[0].set_ylabel("u (bins)", fontsize=8)
    fig.colorbar(image, ax=axes[:-1], label="log10 power", shrink=0.9)
    for (r, mean, _), label in zip(profiles, labels):
        axes[-1].semilogy(r, mean, "o-", markersize=3, label=label)
    axes[-1].set_xlabel("radius (frequency bins)")
    axes[-1].set_ylabel(f"mean |FFT2(dL/dx)|^2\n({what})", fontsize=8)
    axes[-1].legend(fontsize=7)
    axes[-1].grid(alpha=0.3)
    save_figure_atomic(fig, out_dir / "spectrum.png", dpi=110)
    record = {"labels": list(labels), "shape": list(stack.shape), "loss": what,
              "layout": "spectrum.npy[k] is labels[k]'s mean spectrum, zero frequency at (H // 2, W // 2)",
              "high_frequency_share": {lab: float(_share(s)) for lab, s in zip(labels, spectra)},
              "mean_radius": {lab: float(_mean_radius(s)) for lab, s in zip(labels, spectra)},
              **(extra or {})}
    write_json_atomic(out_dir / "spectrum.json", record)
    return record


def _mean_radius(spectrum: np.ndarray) -> float:
    """Power-weighted mean distance from the centre, in frequency bins."""
    total = spectrum.sum()
    return float((centred_distance(*spectrum.shape) * spectrum).sum() / total) if total > 0 else float("nan")


def _share(spectrum: np.ndarray) -> float:
    """Fraction of the power at distance >= a quarter of the shorter side from the centre."""
    outer = centred_distance(*spectrum.shape) >= min(spectrum.shape) / 4
    total = spectrum.sum()
    return spectrum[outer].sum() / total if total > 0 else float("nan")
