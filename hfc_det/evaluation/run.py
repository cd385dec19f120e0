"""The evaluation run behind ``tools/eval_lfc.py``: model, loader, views loop, outputs.

One pass over the dataset: each image is decoded and filtered once by
:class:`FrequencyDatasetMapper`, its views go through the model together as one batch,
and :class:`FrequencyViewsEvaluator` keeps the detections per view and per image. Works
under detectron2's ``launch`` (each process evaluates its shard; the main process gathers
and writes).
"""
from __future__ import annotations

import logging
import platform
from typing import Dict, Optional

import torch
from tqdm import tqdm

import hfc_det
import hfc_det.compat  # noqa: F401  (before any detectron2 import)
import detectron2
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_test_loader
from detectron2.modeling import build_model
from detectron2.utils import comm

from hfc_det.config import views_from_cfg
from hfc_det.data.mapper import FrequencyDatasetMapper, model_inputs

from .evaluator import FrequencyViewsEvaluator, ViewsEvaluation

__all__ = ["check_num_classes", "build_eval_model", "build_views_loader", "run_views_inference", "evaluate_views", "run_metadata"]

logger = logging.getLogger(__name__)


def check_num_classes(cfg, dataset_name: str) -> None:
    """Raise a one-line ``ValueError`` when the model's classes cannot be the dataset's.

    detectron2 maps the dataset's sorted category ids onto class indices 0..K-1, so a model
    trained on COCO's 80 classes only makes sense on a json with the same 80 categories.
    """
    DatasetCatalog.get(dataset_name)  # loading sets thing_classes
    classes = MetadataCatalog.get(dataset_name).get("thing_classes", None)
    arch = cfg.MODEL.META_ARCHITECTURE
    heads = {"RetinaNet": "MODEL.RETINANET.NUM_CLASSES", "GeneralizedRCNN": "MODEL.ROI_HEADS.NUM_CLASSES"}
    if classes is None or arch not in heads:
        return
    key = heads[arch]
    num = cfg.MODEL.RETINANET.NUM_CLASSES if arch == "RetinaNet" else cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if num != len(classes):
        raise ValueError(
            f"the model predicts {num} classes ({key}) but dataset {dataset_name!r} has "
            f"{len(classes)} categories: give a json with the model's categories (COCO's 80 for "
            f"the model zoo) or set {key} {len(classes)}"
        )


def build_eval_model(cfg) -> torch.nn.Module:
    """``build_model(cfg)`` in eval mode with ``cfg.MODEL.WEIGHTS`` loaded (none if empty)."""
    model = build_model(cfg)
    model.eval()
    if cfg.MODEL.WEIGHTS:
        DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    else:
        logger.warning("MODEL.WEIGHTS is empty: evaluating a randomly initialised model")
    return model


def build_views_loader(cfg, dataset_name: str, max_images: Optional[int] = None):
    """A detectron2 test loader over ``dataset_name`` (its first ``max_images``) with the views mapper."""
    dicts = DatasetCatalog.get(dataset_name)
    if max_images is not None:
        dicts = dicts[: max(0, int(max_images))]
    return build_detection_test_loader(
        dicts, mapper=FrequencyDatasetMapper(cfg), num_workers=cfg.DATALOADER.NUM_WORKERS
    )


def run_views_inference(model, data_loader, evaluator: FrequencyViewsEvaluator, views, progress: bool = True):
    """Run ``model`` on every view of every image; returns ``evaluator.evaluate()``.

    The views of one image share its size, so they go through the model as one batch.
    """
    evaluator.reset()
    total = len(data_loader) if hasattr(data_loader, "__len__") else None
    bar = tqdm(total=total, desc="images", unit="img", dynamic_ncols=True,
               disable=not (progress and comm.is_main_process()))
    with torch.no_grad():
        for inputs in data_loader:
            outputs = []
            for mapped in inputs:
                if "skipped" in mapped:
                    outputs.append(None)
                    continue
                outputs.append(dict(zip(views, model(model_inputs(mapped, views)))))
            evaluator.process(inputs, outputs)
            bar.update(len(inputs))
    bar.close()
    return evaluator.evaluate()


def evaluate_views(cfg, dataset_name: str, max_images: Optional[int] = None,
                   progress: bool = True, model=None) -> Optional[ViewsEvaluation]:
    """Evaluate every view ``cfg`` asks for on ``dataset_name``.

    Returns the :class:`ViewsEvaluation` on the main process, ``None`` on the others.
    """
    views = views_from_cfg(cfg)
    model = build_eval_model(cfg) if model is None else model
    loader = build_views_loader(cfg, dataset_name, max_images)
    evaluator = FrequencyViewsEvaluator(dataset_name, views, distributed=comm.get_world_size() > 1)
    run_views_inference(model, loader, evaluator, views, progress=progress)
    return evaluator.result if comm.is_main_process() else None


def _version(module_name: str) -> str:
    try:
        from importlib.metadata import version

        return version(module_name)
    except Exception:  # noqa: BLE001  a version we cannot read is reported, not fatal
        return "unknown"


def run_metadata(cfg, dataset_name: str, config_file: Optional[str] = None,
                 max_images: Optional[int] = None) -> Dict:
    """What summary.json records besides the results: dataset, views, settings, versions."""
    meta = MetadataCatalog.get(dataset_name)
    return {
        "dataset": {"name": dataset_name, "json_file": meta.get("json_file", None),
                    "image_root": meta.get("image_root", None)},
        "radii": [float(r) if not float(r).is_integer() else int(r) for r in cfg.HFC.RADII],
        "views": views_from_cfg(cfg),
        "filter_stage": cfg.HFC.FILTER_STAGE,
        "hfc_scaling": cfg.HFC.HFC_SCALING,
        "config_file": config_file,
        "weights": cfg.MODEL.WEIGHTS,
        "max_images": max_images,
        "input_size": {"min_size_test": cfg.INPUT.MIN_SIZE_TEST, "max_size_test": cfg.INPUT.MAX_SIZE_TEST,
                       "format": cfg.INPUT.FORMAT},
        "device": cfg.MODEL.DEVICE,
        "world_size": comm.get_world_size(),
        "versions": {
            "hfc_det": hfc_det.__version__,
            "detectron2": detectron2.__version__,
            "torch": torch.__version__,
            "torchvision": _version("torchvision"),
            "pycocotools": _version("pycocotools"),
            "numpy": _version("numpy"),
            "python": platform.python_version(),
        },
        "config": cfg.dump(),
    }
