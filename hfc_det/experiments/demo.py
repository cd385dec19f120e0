"""The `make demo` pipeline (tools/demo.py; the texture experiment, :mod:`.texture`, runs it
per cell): synthetic shapes -> the cached demo RetinaNet -> the evaluation of its views
(what tools/eval_lfc.py does, :mod:`hfc_det.evaluation.command`) -> the HTML report (what
tools/visualize_gain_loss.py does, :func:`hfc_det.visualization.report.build_report`).

Everything runs in this process, through the package's functions: the evaluation's one-line
errors, progress bars and resumable outputs are those of eval_lfc.py.
"""
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from hfc_det.utils.atomic import write_json_atomic

DEFAULT_CONFIG = "demo/retinanet_R18_FPN_shapes"
# For the 128 px shapes (max radius ~90): the 4 px texture sits 32 bins from the centre, so
# r = 8, 16, 24 remove it (blurring the shapes more or less), r = 32 keeps part of it and
# r = 48 all of it.
DEFAULT_RADII = [8, 16, 24, 32, 48]
# Gaussian blurs (sigma in px of the 128 px images; half amplitude at ~0.187 / sigma cycles
# per pixel, i.e. ~24, 12, 6 bins: sigma 1 already takes most of the 32-bin texture) for the
# AP-vs-frequency curves of the report.
BLUR_SIGMAS = [1, 2, 4]
# A small COCO-C set for the report's Corruptions section: one corruption of each family (noise,
# blur, weather, digital) at the middle severity, on the 128 px val images.
DEMO_CORRUPTIONS = ["gaussian_noise", "defocus_blur", "fog", "jpeg_compression"]
DEMO_SEVERITIES = [3]


def demo_views(radii):
    """original, low, high and the control noise (as strong as the HFC: how many gains any
    change gives) at every radius, the bands between consecutive radii (and from the last to
    twice it), :data:`BLUR_SIGMAS` (enough views for the report's AP-vs-frequency curves) and the
    corruption views of :data:`DEMO_CORRUPTIONS` at :data:`DEMO_SEVERITIES` (its Corruptions section)."""
    from hfc_det.views.corruptions import corruption_view_names
    from hfc_det.views.frequency import view_name

    edges = sorted(float(r) for r in radii)
    edges.append(2 * edges[-1])
    bands = [view_name("band", a, b) for a, b in zip(edges, edges[1:])]
    return (["original", "low", "high", "noise"] + bands + [view_name("blur", s) for s in BLUR_SIGMAS]
            + corruption_view_names(DEMO_CORRUPTIONS, DEMO_SEVERITIES))


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def evaluate_split(config, overrides, weights, json_file, image_root, output, radii, max_images=None,
                   what="evaluate views", views=None):
    """Evaluate one split of the shapes into ``output`` as ``tools/eval_lfc.py`` does
    (:func:`hfc_det.evaluation.command.launch_evaluation`), with the trained ``weights`` and
    the same config and overrides; ``views`` as eval_lfc.py's ``--views`` (default: its own,
    original, low_rR and high_rR). Returns nothing; the outputs are in ``output``."""
    from hfc_det.evaluation.command import EvalSettings, command_line, launch_evaluation

    settings = EvalSettings(
        config=config, overrides=[*overrides, "MODEL.WEIGHTS", os.path.abspath(weights)],
        dataset_json=json_file, image_root=image_root, output=output, radii=radii, views=views,
        max_images=max_images or None,
        # the views take seconds to evaluate: always recompute them, so a re-run with other
        # radii or a retrained model never meets the last run's detections
        fresh=True)
    print(f"[demo] {what}: eval_lfc.py {' '.join(command_line(settings))}", flush=True)
    launch_evaluation(settings)


def write_report(output, extra_figures=()):
    """``tools/visualize_gain_loss.py OUTPUT`` with its defaults: ``OUTPUT/report/``. Returns
    the path of its ``index.html``."""
    from hfc_det.metrics.results import load_results_folder
    from hfc_det.visualization.report import build_report

    report_dir = os.path.join(output, "report")
    report = build_report(load_results_folder(output), Path(report_dir), extra_figures=extra_figures)
    index = os.path.join(report_dir, "index.html")
    print(f"[demo] report: {index} ({report['n_images']} images, galleries on {report['view']})", flush=True)
    for s in report["gallery_skipped"]:
        print(f"warning: {s['gallery']} image {s['image_id']} left out: {s['reason']}", file=sys.stderr)
    return index


def experiment_figure(cache):
    """The shortcut experiment's picture as a report figure ``[(png, caption)]``, when the
    texture experiment (:mod:`.texture`) has left one in the cache (else ``[]``)."""
    png = os.path.join(cache, "texture_experiment", "dose_response.png")
    if not os.path.isfile(png):
        return []
    return [(png, "Controlled shortcut experiment (tools/texture_experiment.py): texture "
             "correlation against the AP change on the LFC that removes the texture and the texture-reliance "
             "index on cue-conflict images")]


def run_demo(*, output: str = "output/demo", config: str = DEFAULT_CONFIG, radii: Sequence[float] = DEFAULT_RADII,
             overrides: Sequence[str] = (), cache: Optional[str] = None, max_images: Optional[int] = None,
             report: bool = True) -> dict:
    """Data, training, evaluation and report into ``output``; returns the ``demo.json`` dict.

    Args:
        output: where the evaluation (``summary.json``, ``per_image_ap.csv``, ...), the report
            and ``demo.json`` go.
        config: config name under ``configs/`` or a yaml path; ``overrides``: ``KEY VALUE``
            pairs on top (they change the data and model cache keys).
        radii: mask radii in frequency bins (> 0); the views are :func:`demo_views`.
        cache: where ``shapes/`` and ``model_<hash>/`` are kept (default: ``output``).
        max_images: evaluate only the first N val images.
        report: write ``output/report/`` (tools/visualize_gain_loss.py's report).

    Raises ValueError/FileNotFoundError for user mistakes (one line each).
    """
    from hfc_det.config import get_cfg
    from hfc_det.data.shapes import make_shapes_dataset
    from hfc_det.engine.training import shapes_spec_from_cfg, train_cached

    if max_images is not None and max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {max_images}")
    if any(r <= 0 for r in radii):
        raise ValueError(f"--radius values must be positive, got {list(radii)}")
    overrides = list(overrides)
    cfg = get_cfg(config, overrides)
    cache = cache or output
    cfg.SHAPES.ROOT = os.path.join(cache, "shapes")
    times = {}
    started = time.time()
    load_at_start = os.getloadavg()[0]  # timings on a shared machine mean little without it

    t = time.time()
    paths = make_shapes_dataset(shapes_spec_from_cfg(cfg), cfg.SHAPES.ROOT, progress=True)
    times["data_s"] = round(time.time() - t, 1)

    t = time.time()
    trained = train_cached(cfg, cache)
    times["train_s"] = round(time.time() - t, 1)
    print(f"[demo] model: {trained['weights']} ({'cached' if trained['cached'] else 'trained'})", flush=True)

    # the evaluation reads the same config and overrides (get_cfg knows every key), with the
    # trained weights
    t = time.time()
    val_json, val_root = paths["val"]
    evaluate_split(config, overrides, trained["weights"], val_json, val_root, output, radii, max_images,
                   views=demo_views(radii))
    times["eval_s"] = round(time.time() - t, 1)

    index = None
    t = time.time()
    if report:
        index = write_report(output, experiment_figure(cache))
    else:
        print("[demo] report skipped (--no-report)")
    times["report_s"] = round(time.time() - t, 1)
    times["total_s"] = round(time.time() - started, 1)  # the stages and what lies between them

    demo = {
        "config": config,
        "overrides": overrides,
        "radii": list(radii),
        "dataset": {"train": paths["train"][0], "val": val_json,
                    "conflict": paths["conflict"][0], "conflict_images": paths["conflict"][1]},
        "weights": os.path.abspath(trained["weights"]),
        "model_dir": trained["model_dir"],
        "model_cached": trained["cached"],
        "val_bbox": (trained["metrics"] or {}).get("bbox"),
        "summary": os.path.join(output, "summary.json"),
        "views": _read_json(os.path.join(output, "summary.json"))["variants"],
        "report": index,
        "seconds": times,
        "seed": cfg.SEED,
        "load_average": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
        "cpu_count": os.cpu_count(),
    }
    write_json_atomic(os.path.join(output, "demo.json"), demo)
    return demo
