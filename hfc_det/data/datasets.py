"""Dataset registration: detectron2's builtin COCO names and any COCO-format json.

detectron2 registers its builtin sets (``coco_2017_val`` ...) under
``$DETECTRON2_DATASETS`` (default ``./datasets``) when ``detectron2.data`` is imported;
:func:`resolve_dataset` checks that their files are there and says which path is missing.
"""
from __future__ import annotations

import hashlib
import os
from typing import Optional

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances

from hfc_det.metrics.annotations import check_coco_annotations

__all__ = ["register_coco_json", "resolve_dataset", "dataset_name_for_json"]


def _require_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {os.path.abspath(path)}")


def _require_dir(path: str, what: str) -> None:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found: {os.path.abspath(path)}")


def register_coco_json(name: str, json_file: str, image_root: str) -> str:
    """Register a COCO-format instances json under ``name``; returns ``name``.

    Idempotent: registering the same name with the same files again does nothing.
    Raises ``FileNotFoundError`` (one line, naming the path) for a missing json or image
    folder, :class:`~hfc_det.metrics.annotations.AnnotationFileError` (a ``ValueError``) for
    a json detectron2 would misread (not JSON, duplicate image ids, category ids not in
    ``categories``, ...), and ``ValueError`` when ``name`` is already taken by different files.
    """
    json_file, image_root = os.path.abspath(json_file), os.path.abspath(image_root)
    _require_file(json_file, "annotation file")
    _require_dir(image_root, "image folder")
    check_coco_annotations(json_file)
    if name in DatasetCatalog.list():
        meta = MetadataCatalog.get(name)
        known = (
            os.path.abspath(meta.get("json_file", "")),
            os.path.abspath(meta.get("image_root", "")),
        )
        if known == (json_file, image_root):
            return name
        raise ValueError(
            f"dataset {name!r} is already registered with {known[0]} and {known[1]}, "
            f"not {json_file} and {image_root}"
        )
    register_coco_instances(name, {}, json_file, image_root)
    return name


def dataset_name_for_json(json_file: str, image_root: str) -> str:
    """A stable dataset name for a json/image-folder pair: ``hfc_<stem>_<hash8>``."""
    json_file, image_root = os.path.abspath(json_file), os.path.abspath(image_root)
    digest = hashlib.sha1(f"{json_file}\n{image_root}".encode()).hexdigest()[:8]
    stem = os.path.splitext(os.path.basename(json_file))[0]
    return f"hfc_{stem}_{digest}"


def resolve_dataset(
    name: Optional[str] = None,
    json_file: Optional[str] = None,
    image_root: Optional[str] = None,
) -> str:
    """The registered name to evaluate: ``name`` (builtin or registered) or a json set.

    Give either ``name`` or both ``json_file`` and ``image_root``. Checks that the dataset's
    annotation file and image folder exist. Raises ``FileNotFoundError``/``ValueError`` with
    one-line messages naming what is missing.
    """
    if json_file or image_root:
        if name:
            raise ValueError("give either a dataset name or --dataset-json/--image-root, not both")
        if not (json_file and image_root):
            raise ValueError("--dataset-json and --image-root go together: give both")
        return register_coco_json(dataset_name_for_json(json_file, image_root), json_file, image_root)
    if not name:
        raise ValueError("no dataset: give a dataset name or --dataset-json and --image-root")
    if name not in DatasetCatalog.list():
        coco = ", ".join(n for n in DatasetCatalog.list() if n.startswith("coco_2017") and "panoptic" not in n)
        raise ValueError(f"unknown dataset {name!r} (builtin COCO sets include: {coco})")
    meta = MetadataCatalog.get(name)
    json_path, root = meta.get("json_file", None), meta.get("image_root", None)
    if json_path is None or root is None:
        raise ValueError(f"dataset {name!r} is not a COCO-format json dataset")
    hint = " (set DETECTRON2_DATASETS to the folder that holds coco/)"
    try:
        _require_file(json_path, f"annotation file of dataset {name!r}")
        _require_dir(root, f"image folder of dataset {name!r}")
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e}{hint}") from None
    check_coco_annotations(json_path)
    return name
