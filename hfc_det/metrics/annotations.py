"""Check a COCO-format annotation file before anything relies on it (no detectron2 here).

detectron2's ``load_coco_json`` and pycocotools trust the file: a duplicated image id makes
one image be scored against another's boxes without a word, a category id missing from
``categories`` ends in a ``KeyError`` deep inside detectron2, and a file that is not JSON
gives the parser's message without the file's name. :func:`check_coco_annotations` reads
the file once and refuses, in one line that names the file, what would break either.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from functools import lru_cache
from typing import Any, Tuple

from hfc_det.utils.atomic import read_json

__all__ = ["AnnotationFileError", "check_coco_annotations"]


class AnnotationFileError(ValueError):
    """A COCO annotation file this project cannot use; the message is one line naming it."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _duplicate(values) -> Any:
    counts = Counter(values)
    return next((v for v, n in counts.items() if n > 1), None)


def _check(data: Any) -> str:
    """The first problem of a parsed file, or ``""``."""
    if not isinstance(data, dict):
        return f"the top level is a JSON {type(data).__name__}, not an object with images and categories"
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            return f"no {key!r} list"
    anns = data.get("annotations", [])
    if not isinstance(anns, list):
        return "'annotations' is not a list"
    image_ids = []
    for k, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not _is_int(im.get("id")) or not isinstance(im.get("file_name"), str):
            return f"images[{k}] needs an integer 'id' and a 'file_name'"
        for side in ("height", "width"):
            if side in im and not (_is_int(im[side]) and im[side] > 0):
                return f"image id {im['id']} has {side} {im[side]!r} (a positive integer is needed)"
        image_ids.append(im["id"])
    dup = _duplicate(image_ids)
    if dup is not None:
        return (f"image id {dup} appears {image_ids.count(dup)} times in 'images' "
                f"(each image needs its own id, or it is scored against another's boxes)")
    cat_ids = []
    for k, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")) or not isinstance(cat.get("name"), str):
            return f"categories[{k}] needs an integer 'id' and a 'name'"
        cat_ids.append(cat["id"])
    dup = _duplicate(cat_ids)
    if dup is not None:
        return f"category id {dup} appears {cat_ids.count(dup)} times in 'categories'"
    images, cats, ann_ids = set(image_ids), set(cat_ids), []
    for k, ann in enumerate(anns):
        if not isinstance(ann, dict):
            return f"annotations[{k}] is not an object"
        what = f"annotation id {ann['id']}" if "id" in ann else f"annotations[{k}]"
        if ann.get("image_id") not in images:
            return f"{what} has image_id {ann.get('image_id')!r}, which is not in 'images'"
        if ann.get("category_id") not in cats:
            return f"{what} has category_id {ann.get('category_id')!r}, which is not in 'categories'"
        box = ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)
                and box[2] >= 0 and box[3] >= 0):
            return f"{what} has bbox {box!r} (need [x, y, width, height], finite, width and height >= 0)"
        if "id" in ann:
            ann_ids.append(ann["id"])
    dup = _duplicate(ann_ids)
    if dup is not None:
        return f"annotation id {dup} appears {ann_ids.count(dup)} times"
    return ""


@lru_cache(maxsize=32)
def _checked(path: str, mtime_ns: int, size: int) -> Tuple[int, int, int]:
    # Only the counts are cached (never the parsed file, which is large for COCO): every
    # process of a run checks the file, and parses it once.
    data = read_json(path, "annotation file", AnnotationFileError)
    problem = _check(data)
    if problem:
        raise AnnotationFileError(f"annotation file {path}: {problem}")
    return len(data["images"]), len(data.get("annotations", [])), len(data["categories"])


def check_coco_annotations(json_file) -> Tuple[int, int, int]:
    """Refuse a COCO annotation file that detectron2 or pycocotools would misread.

    Checks: UTF-8 JSON with an object at the top; ``images`` and ``categories`` lists;
    every image an integer ``id`` (unique) and a ``file_name`` (``height``/``width``, when
    given, positive integers); every category an integer ``id`` (unique) and a ``name``;
    every annotation's ``image_id`` in ``images``, its ``category_id`` in ``categories``,
    its ``bbox`` four finite numbers with width and height >= 0, its ``id`` unique.

    Returns ``(images, annotations, categories)`` counts. Raises
    :class:`AnnotationFileError` (a ``ValueError``) with one line naming the file and the
    first problem found.
    """
    path = os.path.abspath(os.fspath(json_file))
    try:
        st = os.stat(path)
    except OSError as e:
        raise AnnotationFileError(f"cannot read annotation file {path}: {e.strerror or e}") from None
    return _checked(path, st.st_mtime_ns, st.st_size)
