"""A quiet ``default_setup`` for the detection tools: the config in ``config.yaml``, not on
the terminal; no colour codes in files or pipes; one error, not a storm, on a full disk.

detectron2's ``default_setup`` logs the config file and then the full config (about 350
lines, highlighted with ANSI colour codes that also land in ``log.txt``) on every run, and a
full disk turns every later log line into a ``--- Logging error ---`` traceback.
:func:`setup_run` does the same set-up (output folder, ``config.yaml``, loggers, environment
and arguments in ``log.txt``, RNG seed, cuDNN benchmark flag) with these differences:

- ``config.yaml`` is written first, atomically: on a full or read-only disk the run stops
  there with one error naming that file, before anything else is written;
- the terminal shows detectron2's warnings and errors (and this project's messages); its
  information lines (environment, arguments, dataset loading) go to ``log.txt`` only;
- colour only when stdout is a terminal, never in ``log.txt``;
- ``logging.raiseExceptions = False``: a log line that cannot be written (disk full half-way)
  is dropped silently; the output writer that fails next reports the path in one line.
"""
from __future__ import annotations

import logging
import os
import sys

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.utils import comm
from detectron2.utils.collect_env import collect_env_info
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger

from hfc_det.utils.atomic import write_text_atomic

__all__ = ["setup_run"]


def _terminal_handlers(logger: logging.Logger):
    return [h for h in logger.handlers if isinstance(h, logging.StreamHandler)
            and getattr(h, "stream", None) in (sys.stdout, sys.stderr)]


def setup_run(cfg, args=None, project_logger: str = "hfc_det", terminal_level: int = logging.WARNING) -> logging.Logger:
    """Set up a detection run in ``cfg.OUTPUT_DIR`` (call it in every process, as
    ``default_setup``); returns this project's logger. ``terminal_level``: what of
    detectron2's log reaches the terminal (``logging.INFO`` for training, whose progress
    is detectron2's own log lines); ``log.txt`` gets everything.

    Raises ``OSError`` naming ``config.yaml`` when the folder cannot be written.
    """
    output_dir = cfg.OUTPUT_DIR
    rank = comm.get_rank()
    if comm.is_main_process() and output_dir:
        os.makedirs(output_dir, exist_ok=True)
        write_text_atomic(os.path.join(output_dir, "config.yaml"), cfg.dump())
    # Half-way through a run a full disk must not print a traceback per log line.
    logging.raiseExceptions = False
    color = sys.stdout.isatty()
    for name in ("fvcore", "detectron2"):
        logger = setup_logger(output_dir, distributed_rank=rank, color=color, name=name)
        for handler in _terminal_handlers(logger):
            handler.setLevel(terminal_level)  # by default information lines go to log.txt only
    d2 = logging.getLogger("detectron2")
    d2.info("Rank of current process: %d. World size: %d", rank, comm.get_world_size())
    d2.info("Environment info:\n%s", collect_env_info())
    if args is not None:
        d2.info("Command line arguments: %s", args)
    if output_dir:
        d2.info("Full config saved to %s", os.path.join(output_dir, "config.yaml"))
    seed_all_rng(None if cfg.SEED < 0 else cfg.SEED + rank)
    if not getattr(args, "eval_only", False):
        import torch

        torch.backends.cudnn.benchmark = cfg.CUDNN_BENCHMARK
    return setup_logger(output_dir, distributed_rank=rank, color=color, name=project_logger)
