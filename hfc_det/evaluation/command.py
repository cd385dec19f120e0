"""What ``tools/eval_lfc.py`` does, as functions: check the settings, evaluate a detector on
the original images and their views (in every process of a ``launch``), write the outputs
and print the table.

:class:`EvalSettings` holds the tool's options under their own names (radii, overrides,
progress, ...); :func:`launch_evaluation` is the tool's whole run and what `make demo`
(:mod:`hfc_det.experiments.demo`) and the detector's Fourier heat map call::

    launch_evaluation(EvalSettings(config="retinanet_R50_FPN", radii=(8, 16),
                                   overrides=("MODEL.WEIGHTS", "model.pkl"), output="out/"))

The parser is :mod:`hfc_det.cli.eval_lfc_parser` (no torch, so ``--help`` answers at once).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from hfc_det.cli.helpers import user_errors_across_processes
from hfc_det.cli.options import default_dist_url

__all__ = ["EvalSettings", "PreparedRun", "prepare_run", "run_evaluation", "launch_evaluation", "command_line"]


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """One evaluation run: ``tools/eval_lfc.py``'s options (``--help`` says what each does).

    ``None`` leaves the config's value (``radii``: HFC.RADII, ``views``: HFC.VIEWS, ...);
    ``overrides``: trailing ``KEY VALUE`` config pairs; ``dataset``: a registered name
    (default the config's DATASETS.TEST[0]), or a COCO json with ``dataset_json`` and
    ``image_root``. Picklable: ``launch`` hands it to every process.
    """

    config: str = "retinanet_R50_FPN"
    config_file: str = ""  # detectron2's --config-file, the same as config where given
    overrides: Tuple[Any, ...] = ()
    radii: Optional[Tuple[float, ...]] = None
    views: Optional[Tuple[str, ...]] = None
    corruptions: Optional[Tuple[str, ...]] = None  # HFC.CORRUPTIONS: names, benchmark or all
    severities: Optional[Tuple[float, ...]] = None  # HFC.SEVERITIES
    dataset: Optional[str] = None
    dataset_json: Optional[str] = None
    image_root: Optional[str] = None
    output: str = "output/eval_lfc"
    max_images: Optional[int] = None
    filter_stage: Optional[str] = None
    hfc_scaling: Optional[str] = None
    smooth_rho: Optional[float] = None
    strict_score: Optional[float] = None
    save_every: int = 20
    fresh: bool = False
    coco_backend: Optional[str] = None
    error_breakdown: bool = True
    images_per_batch: Optional[int] = None
    amp: bool = False
    progress: bool = True
    allow_partial_weights: bool = False

    def __post_init__(self):  # lists in, tuples kept: the settings stay hashable and picklable
        for name in ("overrides", "radii", "views", "corruptions", "severities"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def from_args(cls, args) -> "EvalSettings":
        """From :func:`hfc_det.cli.eval_lfc_parser.parse_args`'s namespace."""
        return cls(config=args.config, config_file=args.config_file, overrides=args.opts, radii=args.radius,
                   views=args.views, corruptions=getattr(args, "corruptions", None),
                   severities=getattr(args, "severities", None), dataset=args.dataset, dataset_json=args.dataset_json,
                   image_root=args.image_root, output=args.output, max_images=args.max_images,
                   filter_stage=args.filter_stage, hfc_scaling=args.hfc_scaling, smooth_rho=args.smooth_rho,
                   strict_score=args.strict_score, save_every=args.save_every, fresh=args.fresh,
                   coco_backend=args.coco_backend, error_breakdown=not args.no_error_breakdown,
                   images_per_batch=args.images_per_batch, amp=args.amp, progress=not args.no_progress,
                   allow_partial_weights=getattr(args, "allow_partial_weights", False))


class PreparedRun(NamedTuple):
    cfg: Any  # frozen CfgNode, OUTPUT_DIR = the settings' output
    config_file: str
    dataset: str  # registered dataset name
    coco_backend: str


def _config_pairs(s: EvalSettings) -> list:
    """The settings' yacs ``KEY VALUE`` pairs, applied after the user's own overrides
    (:func:`hfc_det.evaluation.model_source.eval_config`, for either config system)."""
    opts = []
    if s.radii:
        opts += ["HFC.RADII", [float(r) if not float(r).is_integer() else int(r) for r in s.radii]]
    if s.views:
        opts += ["HFC.VIEWS", list(s.views)]
    if s.corruptions:
        opts += ["HFC.CORRUPTIONS", list(s.corruptions)]
    if s.severities:
        opts += ["HFC.SEVERITIES", [int(x) if float(x).is_integer() else x for x in s.severities]]
    if s.filter_stage:
        opts += ["HFC.FILTER_STAGE", s.filter_stage]
    if s.hfc_scaling:
        opts += ["HFC.HFC_SCALING", s.hfc_scaling]
    if s.smooth_rho is not None:
        opts += ["HFC.SMOOTH_RHO", float(s.smooth_rho)]
    if s.strict_score is not None:
        from hfc_det.metrics.strict_ap import check_strict_score

        opts += ["HFC.STRICT_SCORE", check_strict_score(s.strict_score)]
    if s.images_per_batch is not None:
        opts += ["HFC.IMAGES_PER_BATCH", s.images_per_batch]
    if s.amp:
        opts += ["HFC.AMP", True]
    if s.allow_partial_weights:
        opts += ["HFC.ALLOW_PARTIAL_WEIGHTS", True]
    return opts + ["OUTPUT_DIR", s.output]


def prepare_run(settings: EvalSettings) -> PreparedRun:
    """Config, dataset and COCO backend of a run; raises one-line errors (``ValueError``,
    ``FileNotFoundError``) for the user's mistakes."""
    from hfc_det.config import check_device
    from hfc_det.data import resolve_dataset
    from hfc_det.evaluation.model_source import eval_config
    from hfc_det.evaluation.run import check_num_classes
    from hfc_det.metrics.coco_backends import check_backend

    s = settings
    if s.max_images is not None and s.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {s.max_images}")
    if s.save_every < 1:
        raise ValueError(f"--save-every must be at least 1, got {s.save_every}")
    if s.images_per_batch is not None and s.images_per_batch < 1:
        raise ValueError(f"--images-per-batch must be at least 1, got {s.images_per_batch}")
    bad = [r for r in s.radii or () if not 0 < float(r) < float("inf")]  # nan fails both comparisons
    if bad:
        raise ValueError(f"--radius must be finite numbers > 0 (frequency bins), got {bad[0]}")
    coco_backend = check_backend(s.coco_backend)
    # a yacs .yaml or a LazyConfig .py, a file or a zoo: name: one settings object (a yacs CfgNode)
    cfg, config_file = eval_config(s.config_file or s.config, s.overrides, _config_pairs(s))
    check_device(cfg)
    if s.severities and not cfg.HFC.CORRUPTIONS:
        raise ValueError("--severities needs --corruptions (or HFC.CORRUPTIONS in the config)")
    weights = cfg.MODEL.WEIGHTS
    if weights and "://" not in weights and not os.path.isfile(weights):
        raise FileNotFoundError(f"weights file not found: {os.path.abspath(weights)}")
    from_files = bool(s.dataset_json or s.image_root)
    name = s.dataset if (s.dataset or from_files) else cfg.DATASETS.TEST[0]
    dataset = resolve_dataset(name if not from_files else s.dataset, s.dataset_json, s.image_root)
    check_num_classes(cfg, dataset)
    cfg.freeze()
    return PreparedRun(cfg, config_file, dataset, coco_backend)


#: The loggers :func:`hfc_det.engine.run_logging.setup_run` gives handlers.
_RUN_LOGGERS = ("fvcore", "detectron2", "hfc_det")


def _is_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (sys.stdout, sys.stderr)


@contextlib.contextmanager
def _run_logging():
    """One run's log handlers, taken off again afterwards.

    ``setup_run`` (detectron2's ``setup_logger``) attaches a terminal and a ``log.txt``
    handler per output folder and quiets every terminal handler it finds. A process that
    trains and then evaluates (``make demo``), or evaluates several folders (the texture
    experiment), would print each later line once per earlier run, write it into the
    earlier runs' ``log.txt`` too, and lose training's progress lines. So during the run the
    loggers' earlier terminal handlers are set aside, and afterwards the loggers get back
    exactly the handlers (and levels) they had."""
    loggers = [logging.getLogger(name) for name in _RUN_LOGGERS]
    saved = [[(h, h.level) for h in logger.handlers] for logger in loggers]
    for logger in loggers:
        logger.handlers = [h for h in logger.handlers if not _is_terminal(h)]
    try:
        yield
    finally:
        for logger, handlers in zip(loggers, saved):
            logger.handlers = [h for h, _ in handlers]
            for h, level in handlers:
                h.setLevel(level)


@user_errors_across_processes  # with several GPUs this runs in worker processes
def run_evaluation(settings: EvalSettings) -> Optional[Dict[str, Dict[str, float]]]:
    """Evaluate in this process (one of ``launch``'s, or the only one): ``config.yaml`` and
    ``log.txt``, the views' detections, and on the main process the outputs
    (:func:`hfc_det.evaluation.outputs.write_outputs`), the table on stdout and the skipped
    images on stderr. Returns ``summary.json``'s ``variants`` (COCO metrics per view, 0-100)
    on the main process, else ``None``."""
    cfg, config_file, dataset, coco_backend = prepare_run(settings)
    with _run_logging():
        return _evaluate(settings, cfg, config_file, dataset, coco_backend)


def _evaluate(settings, cfg, config_file, dataset, coco_backend):
    from detectron2.utils import comm

    from hfc_det.engine.run_logging import setup_run
    from hfc_det.evaluation.outputs import format_table, write_outputs
    from hfc_det.evaluation.run import evaluate_views, run_metadata
    from hfc_det.evaluation.store import FINGERPRINT_FILE

    # config.yaml and log.txt (with these settings); the terminal keeps warnings, progress, table
    log_args = dataclasses.replace(settings, config_file=config_file)
    project = logging.getLogger("hfc_det")
    before = list(project.handlers)
    setup_run(cfg, log_args)
    if project.handlers == before:
        # setup_logger caches its calls: this folder was evaluated before in this process,
        # and _run_logging took that run's handlers off again
        from detectron2.utils.logger import setup_logger

        setup_logger.cache_clear()
        setup_run(cfg, log_args)
    result = evaluate_views(cfg, dataset, max_images=settings.max_images, progress=settings.progress,
                            output_dir=cfg.OUTPUT_DIR, save_every=settings.save_every, fresh=settings.fresh,
                            coco_backend=coco_backend, error_breakdown=settings.error_breakdown)
    if not comm.is_main_process():
        return None
    extra = run_metadata(cfg, dataset, config_file, settings.max_images)
    extra["coco_backend"] = coco_backend
    extra["weights_check"] = result.weights_check
    extra["fingerprint"] = json.loads((Path(cfg.OUTPUT_DIR) / FINGERPRINT_FILE).read_text())
    # corruption views: their frequency signatures (decoded again here, on the main process)
    from hfc_det.evaluation.corruption_outputs import write_corruption_outputs

    spectra = write_corruption_outputs(cfg.OUTPUT_DIR, result, dataset, cfg.HFC.RADII, progress=settings.progress)
    paths = write_outputs(cfg.OUTPUT_DIR, result, extra, corruption_spectra=spectra)
    print(format_table(result))
    if result.weights_check and result.weights_check["uninitialised"]:
        print(f"warning: {len(result.weights_check['uninitialised'])} tensors of the model were not in the weights "
              f"(random; --allow-partial-weights): its AP is that of a partly random model", file=sys.stderr)
    for s in result.skipped:
        print(f"skipped: {s['file_name']} ({s['reason']})", file=sys.stderr)
    print(f"results in {os.path.abspath(cfg.OUTPUT_DIR)} (summary: {paths['summary']})")
    if not result.image_ids:  # written above, but a script must not take this for a result
        first = result.skipped[0] if result.skipped else None
        raise ValueError(f"no image was evaluated: all {len(result.skipped)} were skipped"
                         + (f" (the first, {first['file_name']}: {first['reason']})" if first else "")
                         + "; check --image-root and the images")
    return json.loads(open(paths["summary"]).read())["variants"]


def launch_evaluation(settings: EvalSettings, num_gpus: int = 1, num_machines: int = 1, machine_rank: int = 0,
                      dist_url: Optional[str] = None) -> None:
    """The whole run, as ``eval_lfc.py``: check every input once, before any process starts
    (one-line errors), then :func:`run_evaluation` in ``num_gpus`` processes per machine
    (detectron2's ``launch``; one process runs it here, in this one)."""
    from detectron2.engine import launch

    from hfc_det.evaluation.run import dataset_files
    from hfc_det.evaluation.store import output_lock, prepare_output, run_fingerprint
    from hfc_det.utils.launch_guard import check_num_gpus

    cfg, _, dataset, _ = prepare_run(settings)
    check_num_gpus(num_gpus, cfg.MODEL.DEVICE)
    # one run per folder: the first machine holds the lock while every process runs
    with output_lock(cfg.OUTPUT_DIR) if machine_rank == 0 else contextlib.nullcontext():
        if not settings.fresh:  # a folder of another run: say so now, not from inside a worker
            prepare_output(cfg.OUTPUT_DIR, run_fingerprint(cfg, *dataset_files(dataset)), write=False)
        launch(run_evaluation, num_gpus, num_machines=num_machines, machine_rank=machine_rank,
               dist_url=dist_url or default_dist_url(), args=(settings,))


def command_line(settings: EvalSettings) -> Sequence[str]:
    """The ``eval_lfc.py`` arguments that give ``settings`` (for messages: what to run to
    repeat an evaluation by hand); options at their defaults are left out."""
    s, default = settings, EvalSettings()
    argv = ["--config", s.config]
    for flag, field in (("--dataset", "dataset"), ("--dataset-json", "dataset_json"), ("--image-root", "image_root"),
                        ("--output", "output"), ("--radius", "radii"), ("--views", "views"),
                        ("--corruptions", "corruptions"), ("--severities", "severities"),
                        ("--max-images", "max_images"), ("--filter-stage", "filter_stage"),
                        ("--hfc-scaling", "hfc_scaling"), ("--smooth-rho", "smooth_rho"),
                        ("--strict-score", "strict_score"), ("--save-every", "save_every"),
                        ("--coco-backend", "coco_backend"), ("--images-per-batch", "images_per_batch")):
        value = getattr(s, field)
        if value == () or (value == getattr(default, field) and flag != "--output"):
            continue  # at its default, or an empty list (the config's value, as None)
        argv += [flag, *value] if isinstance(value, tuple) else [flag, value]
    for flag, on in (("--fresh", s.fresh), ("--no-error-breakdown", not s.error_breakdown), ("--amp", s.amp),
                     ("--no-progress", not s.progress), ("--allow-partial-weights", s.allow_partial_weights)):
        if on:
            argv.append(flag)
    return [str(a) for a in argv + list(s.overrides)]
