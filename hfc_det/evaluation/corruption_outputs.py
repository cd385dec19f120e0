"""After an evaluation with corruption views: each corruption's frequency signature and its link
to the AP drop, written next to the other outputs.

What :func:`write_corruption_outputs` writes in the output folder (the spectra and the pictures:
:func:`hfc_det.analysis.corruption_spectra.write_corruption_spectra`):

- ``corruption_spectra.json``: per view the energy-weighted mean radius, the share of the
  perturbation's energy below each of the run's radii and in each band view's band, the radial
  energy profile; ``corruption_spectra.npz``: each view's mean amplitude spectrum;
- ``corruption_spectra.png`` (the log spectra at the pictured severity, 3 when the run has it),
  ``corruption_radial_energy.png``;
- ``corruption_link.png``: the AP drop (clean minus corrupted COCO AP) against the mean radius,
  and against the drop the band views predict when the run has band views
  (:func:`~hfc_det.analysis.corruption_spectra.spectral_link`; its numbers go into
  ``summary.json["robustness"]["spectra"]["spectral_link"]``).

The spectra are measured on the first :data:`SPECTRA_IMAGES` evaluated images (dataset order),
each decoded as the loader decodes it and corrupted with the evaluation's seed, so with the same
pixels the model saw (before the resize). On the main process, after the evaluation: it costs
what making those images' corruption views costs (about 7 s per 640x480 image for the 75 views of
the benchmark on one CPU core; benchmarks/RESULTS.md).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.data import DatasetCatalog

from hfc_det.analysis.corruption_spectra import (
    corruption_spectra,
    plot_spectral_link,
    spectral_link,
    write_corruption_spectra,
)
from hfc_det.data.mapper import read_image
from hfc_det.evaluation.evaluator import ViewsEvaluation
from hfc_det.evaluation.outputs import corruption_views_of
from hfc_det.views.corruptions import MIN_CORRUPTION_SIZE
from hfc_det.views.grammar import parse_view

__all__ = ["SPECTRA_IMAGES", "LINK_FILE", "evaluated_rgb_images", "band_views_of", "write_corruption_outputs"]

logger = logging.getLogger(__name__)

#: Images the spectra are averaged over (the mean spectrum of 64 images is smooth; more cost
#: as much as making their views again).
SPECTRA_IMAGES = 64
LINK_FILE = "corruption_link.png"
#: The severity the spectra grid shows when the run has it (Yin et al.'s Fig. 1 uses 3).
PICTURED_SEVERITY = 3


def evaluated_rgb_images(dicts: Iterable[dict], image_ids: Sequence[int], limit: int) -> Iterator[Tuple[int, np.ndarray]]:
    """``(image_id, uint8 RGB (H, W, 3))`` of the first ``limit`` dataset dicts whose image was
    evaluated (``image_ids``), decoded as the loader decodes them (EXIF, 16-bit and float
    files: :func:`hfc_det.data.mapper.read_image`). Images the corruptions cannot take were
    skipped by the evaluation and are not among ``image_ids``."""
    wanted, n = set(int(i) for i in image_ids), 0
    for d in dicts:
        if n >= limit:
            return
        if int(d["image_id"]) not in wanted:
            continue
        image = read_image(d["file_name"], "RGB")
        if min(image.shape[:2]) < MIN_CORRUPTION_SIZE:
            continue
        n += 1
        yield int(d["image_id"]), image if image.dtype == np.uint8 else np.rint(image).astype(np.uint8)


def band_views_of(views: Sequence[str]) -> Dict[Tuple[float, float], str]:
    """``{(a, b): "band_r<a>-<b>"}`` of the band views among ``views``."""
    out = {}
    for v in views:
        kind, parameter = parse_view(v)
        if kind == "band":
            out[tuple(float(x) for x in parameter)] = v
    return out


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def write_corruption_outputs(output_dir, ev: ViewsEvaluation, dataset: Union[str, Sequence[dict]],
                             radii: Sequence[float], progress: bool = True,
                             limit: int = SPECTRA_IMAGES) -> Optional[dict]:
    """Write the spectra and the link (module doc) for the corruption views of ``ev``; returns
    ``{"images", "pictured_severity", "files": {what: file name}, "spectral_link"}`` (the link
    is ``None`` without a defined clean AP), or ``None`` when ``ev`` has no corruption view.

    ``dataset``: the evaluated dataset's registered name or its dicts (``image_id``,
    ``file_name``), read only when there are corruption views; ``radii``: the run's radii in
    frequency bins (the energy below each is recorded)."""
    views = corruption_views_of(ev.views)
    if not views:
        return None
    bands = band_views_of(ev.views)
    dicts = DatasetCatalog.get(dataset) if isinstance(dataset, str) else dataset
    n = min(int(limit), len(ev.image_ids))
    logger.info("frequency signatures of %d corruption views over %d images", len(views), n)
    images = tqdm(evaluated_rgb_images(dicts, ev.image_ids, n), total=n, desc="corruption spectra", unit="img",
                  dynamic_ncols=True, disable=not progress)
    acc = corruption_spectra(images, views, radii=radii, bands=list(bands))
    if not acc.views:
        return {"images": 0, "pictured_severity": None, "files": {}, "spectral_link": None}
    severities = sorted({parse_view(v)[1][1] for v in views})
    pictured = PICTURED_SEVERITY if PICTURED_SEVERITY in severities else severities[0]
    out = Path(output_dir)
    spectra = write_corruption_spectra(out, acc, severity=pictured)
    files = dict(spectra["files"])
    clean = ev.metrics.get("original", {}).get("AP")
    ap = {v: ev.metrics[v]["AP"] for v in ev.views if _finite(ev.metrics[v]["AP"])}
    link = None
    if _finite(clean):
        link = spectral_link(spectra, ap, clean, band_views=bands or None)
        plot_spectral_link(link, out / LINK_FILE)
        files["link"] = LINK_FILE
    return {"images": spectra["views"][acc.views[0]]["images"], "pictured_severity": pictured,
            "files": files, "spectral_link": link}
