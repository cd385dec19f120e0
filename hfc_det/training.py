"""Training with detectron2 for the project's configs (the demo and real datasets alike).

What lives here rather than in ``tools/train_net.py``: building the config with the
project's keys (``add_hfc_config`` when available, and ``SHAPES.*`` for the synthetic
demo data), registering the datasets a config names, the ``DefaultTrainer`` subclass
(COCOEvaluator with the pure-Python COCOeval, since this detectron2 may have no compiled
ops), and a config-hash cache so the demo trains a given config only once.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Dict, Optional, Sequence

import hfc_det.compat  # noqa: F401  (before detectron2)

from .atomic import write_json_atomic
from detectron2.config import CfgNode, get_cfg
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import COCOEvaluator

from hfc_det.config import add_hfc_config, resolve_config_file
from hfc_det.data.shapes import ShapesSpec, register_shapes

__all__ = [
    "add_shapes_config",
    "shapes_spec_from_cfg",
    "build_cfg",
    "register_project_datasets",
    "config_hash",
    "Trainer",
    "train_cached",
    "strip_project_keys",
]

_SHAPES_PREFIX = "shapes"


def add_shapes_config(cfg: CfgNode) -> None:
    """Add ``cfg.SHAPES``: the synthetic dataset behind the ``shapes_train``/``shapes_val`` names.

    One key per :class:`hfc_det.data.shapes.ShapesSpec` field, upper-cased, with the same
    defaults and meaning (sizes in px, texture amplitude in [0, 1] intensity,
    TEXTURE_CORRELATION = probability an object wears its own class's texture), plus
    ``SHAPES.ROOT``, the cache folder (one sub-folder per spec hash).
    """
    cfg.SHAPES = CfgNode()
    cfg.SHAPES.ROOT = "output/demo/shapes"
    for name, value in ShapesSpec().to_dict().items():
        setattr(cfg.SHAPES, name.upper(), value)


def shapes_spec_from_cfg(cfg: CfgNode) -> ShapesSpec:
    return ShapesSpec.from_options(cfg.SHAPES)


def build_cfg(config_file: Optional[str] = None, opts: Sequence[str] = ()) -> CfgNode:
    """detectron2's default config + the project's keys, merged with a yaml and ``KEY VALUE`` opts."""
    cfg = add_hfc_config(get_cfg())
    add_shapes_config(cfg)
    if config_file:
        cfg.merge_from_file(resolve_config_file(config_file))
    if opts:
        cfg.merge_from_list(list(opts))
    import torch

    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        cfg.MODEL.DEVICE = "cpu"  # detectron2 defaults to cuda; the demo must run anywhere
    return cfg


def register_project_datasets(cfg: CfgNode, progress: bool = False) -> None:
    """Make and register the synthetic shapes splits when the config names them."""
    names = list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST)
    if any(n.startswith(_SHAPES_PREFIX + "_") for n in names):
        spec = shapes_spec_from_cfg(cfg)
        num_classes = (
            cfg.MODEL.RETINANET.NUM_CLASSES
            if cfg.MODEL.META_ARCHITECTURE == "RetinaNet"
            else cfg.MODEL.ROI_HEADS.NUM_CLASSES
        )
        if num_classes != len(spec.classes):
            raise ValueError(
                f"the model has {num_classes} classes but SHAPES.CLASSES has {len(spec.classes)}"
            )
        register_shapes(spec, cfg.SHAPES.ROOT, prefix=_SHAPES_PREFIX, progress=progress)


def config_hash(cfg: CfgNode) -> str:
    """12-hex hash of everything in ``cfg`` that changes the trained weights.

    Where things are written (OUTPUT_DIR, the data cache folder), how often to evaluate and
    the HFC.* evaluation keys do not change the weights and are left out, so moving the
    output keeps the cache valid.
    """
    c = cfg.clone()
    c.defrost()
    c.pop("HFC", None)
    c.SHAPES.ROOT = ""
    c.OUTPUT_DIR = ""
    c.TEST.EVAL_PERIOD = 0
    return hashlib.sha256(c.dump(sort_keys=True).encode()).hexdigest()[:12]


def strip_project_keys(cfg: CfgNode) -> CfgNode:
    """A copy without ``SHAPES.*``, for tools that only know detectron2's and the HFC keys."""
    c = cfg.clone()
    c.defrost()
    c.pop("SHAPES", None)
    return c


class Trainer(DefaultTrainer):
    """DefaultTrainer with a COCO bbox evaluator that needs no compiled ops."""

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(
            dataset_name,
            tasks=("bbox",),
            distributed=True,
            output_dir=output_folder,
            use_fast_impl=hfc_det.compat.HAS_COMPILED_OPS,
        )


def train_cached(cfg: CfgNode, root: str, evaluate: bool = True) -> Dict[str, object]:
    """Train ``cfg`` once into ``root/model_<config_hash>/`` and reuse it afterwards.

    Training runs in ``root/.model_<hash>.tmp-*`` and is renamed into place only when
    ``model_final.pth`` exists, so an interrupted run is never mistaken for a finished one.
    Returns ``{"model_dir", "weights", "cached", "metrics"}``; ``metrics`` are the val
    COCO results (``metrics.json`` in the model folder) when ``evaluate``.
    """
    from detectron2.utils.logger import setup_logger

    setup_logger(name="detectron2")
    register_project_datasets(cfg, progress=True)
    key = config_hash(cfg)
    model_dir = os.path.join(root, f"model_{key}")
    weights = os.path.join(model_dir, "model_final.pth")
    metrics_file = os.path.join(model_dir, "metrics_val.json")
    cached = os.path.isfile(weights)
    if not cached:
        os.makedirs(root, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".model_{key}.tmp-", dir=root)
        try:
            c = cfg.clone()
            c.defrost()
            c.OUTPUT_DIR = tmp
            with open(os.path.join(tmp, "config.yaml"), "w") as f:
                f.write(c.dump())
            trainer = Trainer(c)
            trainer.resume_or_load(resume=False)
            trainer.train()
            if evaluate:
                results = Trainer.test(c, trainer.model)
                write_json_atomic(os.path.join(tmp, "metrics_val.json"), results)
            # The event storage is gone after training; the loss curve is in metrics.json.
            if os.path.isdir(model_dir):
                shutil.rmtree(model_dir)
            os.rename(tmp, model_dir)
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp)
    metrics = None
    if os.path.isfile(metrics_file):
        with open(metrics_file) as f:
            metrics = json.load(f)
    return {"model_dir": model_dir, "weights": weights, "cached": cached, "metrics": metrics}
