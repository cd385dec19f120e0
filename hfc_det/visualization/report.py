"""Build the whole visual report of an ``eval_lfc.py`` output folder.

``build_report`` writes, under one report folder::

    index.html      summary table, plots, the Corruptions section (runs with corruption views),
                    spectra, galleries, table of every image
    report.json     what the galleries, plots and spectra show (machine-readable)
    plots/          ap_difference_hist.png (one panel per view), ap_scatter.png, overall_ap.png (one
                    panel per metric), errors.png (with TIDE; one panel per error type),
                    and ap_vs_frequency.png + .csv when a run has >= 3 views of one kind
    spectra/        LFC/HFC-at-several-radii grids with log spectra (top gain and loss image)
    gallery/        gain_XX_<id>.png, loss_XX_<id>.png panels (original | LFC | HFC)
    thumbs/         <image_id>.jpg, small, for the table

``index.html`` is written last, so a report folder with an ``index.html`` is complete.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hfc_det.views.grammar import parse_view

from hfc_det.utils.atomic import write_json_atomic, write_text_atomic
from hfc_det.views.display import DISPLAY_SCALINGS
from hfc_det.visualization.ap_curves import plot_ap_vs_frequency
from hfc_det.visualization.plots import plot_ap_difference_histogram, plot_ap_scatter, plot_error_breakdown, plot_overall_ap
from hfc_det.visualization.report_html import render_index
from hfc_det.metrics.results import EvalResults, GainLossRow, ResultsError
from hfc_det.visualization.spectrum import save_frequency_grid
from hfc_det.visualization.parallel import available_cpus, parallel_map
from hfc_det.visualization.thumbnails import count_statuses, make_thumbnails
from hfc_det.visualization.corruptions_section import corruption_section

__all__ = ["build_report", "default_view", "default_grid_radii"]


def default_view(results: EvalResults) -> str:
    """The gallery's view when none is asked for: the LFC view (``low_r<R>``, the paper's
    question) on which the most images gain, the smallest radius among equals; without LFC
    views, the filtered view with the most gains (a control ``noise_r<R>`` is never one)."""
    candidates = sorted((v for v in results.low_views if v in results.ap), key=lambda v: parse_view(v)[1]) or [
        v for v in results.compared_views if parse_view(v)[0] not in ("original", "noise")]
    if not candidates:
        raise ResultsError(f"{results.output_dir / 'per_image_ap.csv'} has no ap_low_r<R>/ap_high_r<R> column")
    # max() keeps the first of equal counts: the smallest radius
    return max(candidates, key=lambda v: results.per_image_counts(v)["gain"])


def default_grid_radii(results: EvalResults, view: str) -> List[float]:
    """The evaluated radii plus a quarter and a half of the view's radius (a band's outer
    radius; a blur view adds none)."""
    kind, parameter = parse_view(view)
    r = {"low": parameter, "high": parameter, "noise": parameter, "band": parameter[-1] if kind == "band" else None}.get(kind)
    radii = set(results.radii) | ({r / 4, r / 2, r} if r else set())
    return sorted(radii) or [4.0, 8.0, 16.0, 32.0]


def _panel_job(job: Dict[str, Any]) -> Dict[str, Any]:
    from hfc_det.visualization.panels import save_gain_loss_panel  # imports detectron2: only where panels are drawn

    return save_gain_loss_panel(**job)


def _gallery_jobs(results: EvalResults, rows: Sequence[GainLossRow], kind: str, view: str,
                  report_dir: Path, score_thresh: float, hfc_scaling: str, skipped: List[dict]):
    from hfc_det.visualization.panels import panel_views

    names = panel_views(view)
    class_names = results.class_names()
    jobs, entries = [], []
    for rank, row in enumerate(rows, 1):
        image_path = results.image_path(row.image_id, row.file_name)
        if image_path is None or not image_path.is_file():
            skipped.append({"image_id": row.image_id, "file_name": row.file_name, "gallery": kind,
                            "reason": f"image file not found: {image_path}"})
            continue
        idx = _index_of(results, row.image_id)
        ap = {v: float(results.ap[v][idx]) for v in names if v in results.ap and idx is not None}
        strict = _strict_pair(results, idx, view)
        rel = f"gallery/{kind}_{rank:02d}_{row.image_id}.png"
        dets = {}
        for v in names:
            per_view = results.detections(v)
            dets[v] = None if per_view is None else {row.image_id: per_view.get(row.image_id, [])}
        jobs.append(dict(
            image_path=image_path, view=view, path=report_dir / rel, ap=ap, detections=dets,
            ground_truth=results.ground_truth(row.image_id), class_names=class_names,
            image_id=row.image_id, score_thresh=score_thresh, hfc_scaling=hfc_scaling,
            title=f"{kind} #{rank}: image {row.image_id} {row.file_name}\n"
                  f"per-image AP {row.ap_original:.3f} (original) -> {row.ap_view:.3f} ({view}), {row.diff:+.3f}"
                  + (f"; strict {strict[0]:.3f} -> {strict[1]:.3f}, {strict[1] - strict[0]:+.3f}" if strict else ""),
        ))
        entries.append({**asdict(row), "rank": rank, "panel": rel, "ap": ap,
                        "ap_strict": {"original": strict[0], view: strict[1]} if strict else None})
    return jobs, entries


def _strict_pair(results: EvalResults, idx: Optional[int], view: str):
    """``(strict AP original, strict AP view)`` of one image, or None where not written."""
    if idx is None or view not in results.ap_strict or "original" not in results.ap_strict:
        return None
    return float(results.ap_strict["original"][idx]), float(results.ap_strict[view][idx])


def _index_of(results: EvalResults, image_id: int) -> Optional[int]:
    hits = (results.image_ids == image_id).nonzero()[0]
    return int(hits[0]) if hits.size else None


class _Stopwatch:
    """Seconds per named stage, each from the end of the previous one."""

    def __init__(self) -> None:
        self.timings: Dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._last, 3)
        self._last = now


def _check_options(top_k: int, score_thresh: float, hfc_scaling: str, thumb_size: int) -> None:
    if top_k < 0:
        raise ValueError(f"--top must be >= 0, got {top_k}")
    if not 0.0 <= score_thresh <= 1.0:
        raise ValueError(f"--score-thresh must be in [0, 1], got {score_thresh}")
    if hfc_scaling not in DISPLAY_SCALINGS:
        raise ValueError(f"unknown HFC display scaling {hfc_scaling!r}: choose one of {sorted(DISPLAY_SCALINGS)}")
    if thumb_size < 8:
        raise ValueError(f"--thumb-size must be >= 8 pixels, got {thumb_size}")


def _write_plots(results: EvalResults, report_dir: Path) -> Dict[str, Dict[str, Any]]:
    """Stage 1: the whole-set plots (the TIDE one when the folder has an error breakdown, the
    AP-vs-frequency curves when the run has three or more views of one kind); paths relative
    to ``report_dir``."""
    plots = {
        "ap_difference_hist": plot_ap_difference_histogram(results, report_dir / "plots" / "ap_difference_hist.png"),
        "ap_scatter": plot_ap_scatter(results, report_dir / "plots" / "ap_scatter.png"),
        "overall_ap": plot_overall_ap(results, report_dir / "plots" / "overall_ap.png"),
    }
    if results.summary.get("errors"):
        plots["errors"] = plot_error_breakdown(results.summary["errors"], report_dir / "plots" / "errors.png")
    curves = plot_ap_vs_frequency(results.variants, report_dir / "plots" / "ap_vs_frequency.png")
    if curves is not None:
        plots["ap_vs_frequency"] = curves
        curves["csv"] = os.path.relpath(curves["csv"], report_dir)
    for p in plots.values():
        p["path"] = os.path.relpath(p["path"], report_dir)
    return plots


def _copy_extra_figures(extra_figures: Sequence[Sequence[str]], report_dir: Path) -> List[Dict[str, str]]:
    """Stage 1b: ``(png, caption)`` pictures made elsewhere, copied into ``plots/``."""
    extras = []
    for i, (source, caption) in enumerate(extra_figures):
        if not os.path.isfile(source):
            raise ValueError(f"extra figure not found: {source}")
        rel = f"plots/extra_{i}_{os.path.basename(source)}"
        shutil.copyfile(source, report_dir / (rel + ".tmp"))
        os.replace(report_dir / (rel + ".tmp"), report_dir / rel)
        extras.append({"path": rel, "caption": caption, "source": os.path.abspath(source)})
    return extras


def _gallery_inputs(results: EvalResults, view: str, top_k: int, report_dir: Path, score_thresh: float,
                    hfc_scaling: str, skipped: List[dict]) -> Dict[str, tuple]:
    """Stage 2: ``{"gain"|"loss": (panel jobs, report entries)}`` of the top ``top_k`` images."""
    gains, losses = results.top_gain_loss(view, top_k)
    return {kind: _gallery_jobs(results, rows, kind, view, report_dir, score_thresh, hfc_scaling, skipped)
            for kind, rows in (("gain", gains), ("loss", losses))}


def _draw_gallery_panels(galleries: Dict[str, tuple], workers: int, progress: bool) -> None:
    """Stage 3: draw every gallery panel; fills each entry's ``drawn`` and box count."""
    jobs = galleries["gain"][0] + galleries["loss"][0]
    entries = galleries["gain"][1] + galleries["loss"][1]
    # A spawned worker first imports torch and detectron2 (seconds); a panel takes ~0.7 s on
    # one core. Two default galleries (16 panels) are faster in this process.
    panels = parallel_map(_panel_job, jobs, workers, "gallery panels", progress, min_parallel=32)
    for entry, panel in zip(entries, panels):
        entry["drawn"] = panel["drawn"]
        entry["ground_truth_boxes"] = panel["ground_truth_boxes"]


def _draw_spectra(galleries: Dict[str, tuple], radii: List[float], report_dir: Path,
                  hfc_scaling: str) -> List[Dict[str, Any]]:
    """Stage 4: the frequency grid of the top gain and the top loss image."""
    spectra = []
    for kind in ("gain", "loss"):
        jobs, entries = galleries[kind]
        if not entries:
            continue
        from hfc_det.data.mapper import read_image  # detectron2's, plus 16-bit and float files

        rel = f"spectra/{kind}_{entries[0]['image_id']}.png"
        info = save_frequency_grid(read_image(str(jobs[0]["image_path"]), format="RGB"), radii,
                                   report_dir / rel, title=f"top {kind}: image {entries[0]['image_id']} "
                                   f"{entries[0]['file_name']}", hfc_scaling=hfc_scaling)
        info["path"] = rel
        spectra.append({"kind": kind, "image_id": entries[0]["image_id"], **info})
    return spectra


def _write_thumbnails(results: EvalResults, report_dir: Path, thumb_size: int, workers: int,
                      progress: bool):
    """Stage 5: ``({image_id: thumbnail path}, status counts)`` for the image table."""
    sources = {}
    for image_id, file_name in zip(results.image_ids.tolist(), results.file_names):
        src = results.image_path(image_id, file_name)
        if src is not None:
            sources[image_id] = src
    rel_thumbs = {image_id: f"thumbs/{image_id}.jpg" for image_id in sources}
    statuses = make_thumbnails([(src, report_dir / rel_thumbs[i]) for i, src in sources.items()],
                               thumb_size, workers, progress)
    thumbs = {i: rel_thumbs[i] for i, status in zip(sources, statuses) if status != "missing"}
    thumb_counts = count_statuses(statuses)
    thumb_counts["no_path"] = len(results.image_ids) - len(sources)
    return thumbs, thumb_counts


def build_report(
    results: EvalResults,
    report_dir: Path,
    *,
    view: Optional[str] = None,
    top_k: int = 8,
    score_thresh: float = 0.5,
    hfc_scaling: str = "symmetric",
    thumb_size: int = 96,
    grid_radii: Optional[Sequence[float]] = None,
    workers: Optional[int] = None,
    progress: bool = True,
    extra_figures: Sequence[Sequence[str]] = (),
) -> Dict[str, Any]:
    """Write the report folder (see the module docstring) and return ``report.json``'s dict.

    Args:
        view: the view whose gains and losses the galleries show (default :func:`default_view`:
            the LFC view with the most gains).
        top_k: images per gallery (largest gains; largest losses).
        score_thresh: predictions below this score are not drawn (pictures only).
        hfc_scaling: HFC display scaling (:data:`~hfc_det.views.display.DISPLAY_SCALINGS`).
        thumb_size: longer side of the table thumbnails, pixels.
        grid_radii: radii of the spectrum grids (default :func:`default_grid_radii`).
        workers: processes for thumbnails and panels (default: available CPUs).
        extra_figures: ``(png_path, caption)`` pairs copied into ``plots/`` and shown with the
            plots (e.g. the shortcut experiment's dose-response picture).
    """
    _check_options(top_k, score_thresh, hfc_scaling, thumb_size)
    view = view or default_view(results)
    if parse_view(view)[0] in ("original", "noise"):  # (a ValueError names the expected forms)
        raise ValueError(f"--view {view}: the galleries show a filtered view (low_r<R>, high_r<R>, band_r<A>-<B>, "
                         "blur_s<SIGMA>, ...) against the original (a control's numbers are in the report's "
                         "'Are the gains real?' section)")
    results.require_view(view)
    workers = workers or available_cpus()
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    # index.html marks a finished report: remove the old one first so that a run that
    # fails midway leaves no page that points at a mix of old and new pictures.
    (report_dir / "index.html").unlink(missing_ok=True)

    clock = _Stopwatch()
    plots = _write_plots(results, report_dir)
    extras = _copy_extra_figures(extra_figures, report_dir)
    corruptions = corruption_section(results, report_dir)  # None without corruption views
    clock.lap("plots")
    skipped: List[dict] = []
    galleries = _gallery_inputs(results, view, top_k, report_dir, score_thresh, hfc_scaling, skipped)
    clock.lap("gallery_inputs")  # reading detections and ground truth
    _draw_gallery_panels(galleries, workers, progress)
    clock.lap("gallery_panels")
    radii = [float(r) for r in (grid_radii or default_grid_radii(results, view))]
    spectra = _draw_spectra(galleries, radii, report_dir, hfc_scaling)
    clock.lap("spectra")
    thumbs, thumb_counts = _write_thumbnails(results, report_dir, thumb_size, workers, progress)
    clock.lap("thumbnails")
    gain_entries, loss_entries = galleries["gain"][1], galleries["loss"][1]
    timings = clock.timings

    report = {
        "output_dir": str(results.output_dir),
        "view": view,
        "top_k": top_k,
        "score_thresh": score_thresh,
        "hfc_display": hfc_scaling,
        "hfc_display_formula": DISPLAY_SCALINGS[hfc_scaling],
        "lfc_display": "clipped to [0, 255]",
        "n_images": int(results.image_ids.size),
        "views": results.views,
        "variants": results.variants,
        "per_image_counts": {v: results.per_image_counts(v) for v in results.compared_views},
        "per_image_counts_by_measure": {v: {m: results.per_image_counts(v, m) for m in results.measures()}
                                        for v in results.compared_views},
        # "are the gains real?": paired statistics per view and measure, the controls, TIDE
        "paired": results.summary.get("paired") or {},
        "paired_settings": results.summary.get("paired_settings") or {},
        "controls": results.summary.get("controls") or {},
        "strict_score": results.summary.get("strict_score"),
        "errors": results.summary.get("errors") or {},
        "galleries": {"gain": gain_entries, "loss": loss_entries},
        "gallery_skipped": skipped,
        "plots": plots,
        "extra_figures": extras,
        "corruptions": corruptions,
        "spectra": spectra,
        "thumbnails": {"size": thumb_size, **thumb_counts},
        "timings_s": timings,
        "summary": {k: results.summary.get(k) for k in
                    ("dataset", "radii", "filter_stage", "hfc_scaling", "config_file", "weights", "skipped", "versions")
                    if k in results.summary},
    }
    write_json_atomic(report_dir / "report.json", report)
    write_text_atomic(report_dir / "index.html", render_index(results, report, thumbs))
    return report
