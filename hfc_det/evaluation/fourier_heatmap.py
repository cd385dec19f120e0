"""The Fourier heat map of a detector (Yin et al. 2019): COCO AP on the images perturbed
along each Fourier basis image of a grid.

Each cell is an evaluation view ``fourier_u<U>_v<V>_e<EPS>`` (:mod:`hfc_det.views.grammar`),
so the whole grid is one eval_lfc run (:mod:`hfc_det.evaluation.command`) in ``<out>/eval``:
it resumes, and spreads over GPUs, as eval_lfc does. Pixels are in [0, 255] and ``eps`` in
those units; the random signs use the fourier views' fixed seed 0.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

__all__ = ["detector_heatmap"]


def detector_heatmap(config: str, settings: Dict[str, Any], out_dir, eval_options: Sequence[str] = (), *,
                     max_images: Optional[int] = None, dataset: Optional[str] = None,
                     progress: bool = True) -> Dict[str, Any]:
    """tools/fourier_heatmap.py's detector run, written to ``out_dir`` as
    ``heatmap.npy/.json/.png`` (:func:`hfc_det.analysis.heatmap.write_heatmap`).

    Args:
        config: detector config name or yaml.
        settings: ``grid`` (K), ``step`` (bins), ``eps`` (L2 norm per channel, [0, 255] pixel
            units), ``seed`` (must be 0), ``max_images``; the config and the eval folder are
            added to it.
        eval_options: further eval_lfc.py options and ``KEY VALUE`` overrides (``--num-gpus``,
            ``--dataset-json``, ``MODEL.WEIGHTS``, ...), parsed by eval_lfc.py's parser.

    Metrics per cell: ``"100 - AP"`` (drawn; COCO AP on the perturbed images), ``"AP"`` and
    ``"ap_drop"``: the mean over images of per-image AP(original) - AP(cell), in AP points.
    Returns the ``heatmap.json`` dict; raises one-line errors for bad input.
    """
    from hfc_det.analysis.heatmap import write_heatmap
    from hfc_det.cli.eval_lfc_parser import parse_args
    from hfc_det.cli.helpers import UserError
    from hfc_det.evaluation.command import EvalSettings, launch_evaluation
    from hfc_det.metrics.results import load_results_folder
    from hfc_det.views.fourier_basis import half_grid
    from hfc_det.views.grammar import fourier_view_name

    if settings["seed"] != 0:
        raise UserError("--seed: a detector's heat map uses the fourier views' fixed seed 0")
    cells = half_grid(settings["grid"], settings["step"])
    names = [fourier_view_name(u, v, settings["eps"]) for u, v in cells]
    eval_dir = Path(out_dir) / "eval"
    argv = ["--config", config, "--output", str(eval_dir), "--views", "original", *names]
    if max_images:
        argv += ["--max-images", str(max_images)]
    if dataset:
        argv += ["--dataset", dataset]
    if not progress:
        argv += ["--no-progress"]
    args = parse_args(argv + list(eval_options), prog="eval_lfc.py")  # its usage and exit 2 on a bad option
    print(f"{len(cells)} cells (half of the {2 * len(cells) - 1}-cell grid by symmetry) + the original, "
          f"x {max_images or 'every'} image(s): that many detector passes per image; "
          "progress and ETA from eval_lfc.py below", flush=True)
    launch_evaluation(EvalSettings.from_args(args), args.num_gpus, num_machines=args.num_machines,
                      machine_rank=args.machine_rank, dist_url=args.dist_url)
    results = load_results_folder(eval_dir)
    original = results.ap["original"]
    values = {}
    for (u, v), name in zip(cells, names):
        ap = results.variants[name].get("AP")
        drop = original - results.ap[name]
        defined = drop[~np.isnan(drop)]
        values[(u, v)] = {"100 - AP": float("nan") if ap is None else 100.0 - ap,
                          "AP": float("nan") if ap is None else float(ap),
                          "ap_drop": float(100.0 * defined.mean()) if defined.size else float("nan")}
    clean = results.variants["original"].get("AP")
    settings.update(config=config, eval_output=str(eval_dir))
    return write_heatmap(out_dir, values, settings, "100 - AP", int(results.image_ids.size),
                         extra={"clean_AP": clean, "pixel_range": [0, 255]},
                         title=f"detector {Path(config).stem}: 100 - AP (clean AP {clean or float('nan'):.1f}), "
                               f"eps {settings['eps']:g}", label="100 - COCO AP on perturbed images")
