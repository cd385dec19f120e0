"""detectron2's training engine for the project's configs (the demo and real datasets alike).

What lives here rather than in ``tools/train_net.py`` (the config itself comes from
:func:`hfc_det.config.get_cfg`): registering the datasets a config names, the ``DefaultTrainer`` subclass
(COCOEvaluator with the pure-Python COCOeval, since this detectron2 may have no compiled
ops), and a config-hash cache so the demo trains a given config only once.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Dict

import hfc_det.compat  # noqa: F401  (before detectron2)

from hfc_det.utils.atomic import write_json_atomic
from hfc_det.utils.run_lock import waiting_lock
from detectron2.config import CfgNode
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import COCOEvaluator

from hfc_det.config import check_device, num_classes
from hfc_det.data.shapes import ShapesSpec, register_shapes

__all__ = [
    "shapes_spec_from_cfg",
    "register_project_datasets",
    "config_hash",
    "Trainer",
    "train_cached",
]

_SHAPES_PREFIX = "shapes"


def shapes_spec_from_cfg(cfg: CfgNode) -> ShapesSpec:
    return ShapesSpec.from_options(cfg.SHAPES)


def register_project_datasets(cfg: CfgNode, progress: bool = False) -> None:
    """Make and register the synthetic shapes splits when the config names them."""
    names = list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST)
    if any(n.startswith(_SHAPES_PREFIX + "_") for n in names):
        spec = shapes_spec_from_cfg(cfg)
        known = num_classes(cfg)
        if known is not None and known[1] != len(spec.classes):
            raise ValueError(
                f"the model has {known[1]} classes but SHAPES.CLASSES has {len(spec.classes)}"
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
    payload = c.dump(sort_keys=True)
    if any(n.startswith(_SHAPES_PREFIX + "_") for n in cfg.DATASETS.TRAIN):
        # the data's own hash (spec + generator version): new drawing code retrains
        payload += "\nSHAPES_DATA_KEY: " + shapes_spec_from_cfg(cfg).key()
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


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


def detector_with_weights(cfg: CfgNode, resume: bool = False):
    """``train_net.py --eval-only``'s model: built from ``cfg`` with its weights (the last
    checkpoint of ``OUTPUT_DIR`` when resuming, else ``MODEL.WEIGHTS``), checked before any
    dataset is made, so a wrong file is the first and only line the user sees.

    Weights that are no checkpoint or leave the model partly random are a one-line
    ``ValueError`` unless ``HFC.ALLOW_PARTIAL_WEIGHTS`` (:func:`load_detector_weights`)."""
    from detectron2.checkpoint import DetectionCheckpointer

    from hfc_det.evaluation.weights import load_detector_weights

    model = Trainer.build_model(cfg)
    checkpointer = DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR)
    weights = checkpointer.get_checkpoint_file() if resume and checkpointer.has_checkpoint() else cfg.MODEL.WEIGHTS
    if weights:
        load_detector_weights(model, weights, allow_partial=bool(cfg.HFC.ALLOW_PARTIAL_WEIGHTS))
    return model


def train_detector(cfg: CfgNode, resume: bool = False):
    """``train_net.py``: detectron2's training loop from ``MODEL.WEIGHTS`` (or the last
    checkpoint when resuming).

    Fine-tuning may leave new layers initialised, so partly fitting weights are allowed here
    (quietly: that warning is meant for evaluation); weights that are no checkpoint, or of which
    no tensor fits, are still a one-line ``ValueError``."""
    import logging

    from hfc_det.evaluation.weights import load_detector_weights

    trainer = Trainer(cfg)
    if cfg.MODEL.WEIGHTS and not (resume and trainer.checkpointer.has_checkpoint()):
        logging.getLogger("hfc_det.evaluation.weights").setLevel(logging.ERROR)
        load_detector_weights(getattr(trainer.model, "module", trainer.model), cfg.MODEL.WEIGHTS, allow_partial=True)
    trainer.resume_or_load(resume=resume)
    return trainer.train()


def train_cached(cfg: CfgNode, root: str, evaluate: bool = True) -> Dict[str, object]:
    """Train ``cfg`` once into ``root/model_<config_hash>/`` and reuse it afterwards.

    Training runs in ``root/.model_<hash>.tmp-*`` and is renamed into place only when
    ``model_final.pth`` exists, so an interrupted run is never mistaken for a finished one.
    Returns ``{"model_dir", "weights", "cached", "metrics"}``; ``metrics`` are the val
    COCO results (``metrics.json`` in the model folder) when ``evaluate``.
    """
    from detectron2.utils.logger import setup_logger

    check_device(cfg)
    setup_logger(name="detectron2")
    register_project_datasets(cfg, progress=True)
    key = config_hash(cfg)
    model_dir = os.path.join(root, f"model_{key}")
    weights = os.path.join(model_dir, "model_final.pth")
    metrics_file = os.path.join(model_dir, "metrics_val.json")
    cached = os.path.isfile(weights)
    if not cached:
        # Two runs sharing a cache (two texture experiments, a demo beside one) train a model
        # once: the second waits for the first and then finds it cached.
        with waiting_lock(os.path.join(root, f".model_{key}.lock"),
                          f"[train] another run is training model_{key} in {root}: waiting for it"):
            cached = os.path.isfile(weights)
            if not cached:
                _train_into(cfg, root, key, model_dir, evaluate)
    metrics = None
    if os.path.isfile(metrics_file):
        with open(metrics_file) as f:
            metrics = json.load(f)
    return {"model_dir": model_dir, "weights": weights, "cached": cached, "metrics": metrics}


def _train_into(cfg: CfgNode, root: str, key: str, model_dir: str, evaluate: bool) -> None:
    """Train ``cfg`` in ``root/.model_<key>.tmp-*`` and rename it to ``model_dir`` once
    ``model_final.pth`` (and the val metrics) exist."""
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
        if os.path.isdir(model_dir):  # one without model_final.pth (the caller holds the lock)
            shutil.rmtree(model_dir)
        os.rename(tmp, model_dir)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
