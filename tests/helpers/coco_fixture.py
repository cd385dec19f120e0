"""A tiny COCO-format detection set, made on the spot (no download).

Real photos that scikit-image bundles (astronaut, coffee, chelsea, camera, rocket), with
boxes drawn by hand (person 1, cat 17, sports ball 37, cup 47, spoon 50, among COCO's
80 categories), plus synthetic images that exercise the awkward cases: RGBA, CMYK,
grayscale, an EXIF-rotated JPEG, an image smaller than any radius, a crowd region, images
without annotations and (on request) a corrupt file. Category ids are COCO's own
(non-contiguous), image ids start at 101 so that nothing can confuse them with indices.

Use: ``json_path, image_root = make_coco_fixture(tmp_path)``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Tuple

import numpy as np
from PIL import Image

__all__ = ["make_coco_fixture", "CATEGORIES", "fixture_image_paths"]

def _coco_categories():
    # All 80 COCO "thing" categories with COCO's ids, so that a COCO-trained model's classes
    # map one to one onto this set (detectron2 maps sorted ids to contiguous class indices).
    import hfc_det.compat  # noqa: F401  (before any detectron2 import)
    from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES

    return [{"id": c["id"], "name": c["name"], "supercategory": "none"} for c in COCO_CATEGORIES if c["isthing"]]


CATEGORIES = _coco_categories()

# EXIF orientation 6: the stored pixels must be turned 90 degrees clockwise to display.
_EXIF_ORIENTATION = 0x0112


def _photo(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _ball_image(h: int, w: int, cy: int, cx: int, radius: int, seed: int) -> np.ndarray:
    """A coloured disc on a smooth noisy background, HxWx3 uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    img = np.stack([40 + 120 * x / max(w - 1, 1), 60 + 100 * y / max(h - 1, 1), np.full((h, w), 90.0)], -1)
    img += rng.normal(0, 8, img.shape)
    disc = (y - cy) ** 2 + (x - cx) ** 2 < radius ** 2
    img[disc] = (230, 40, 30)
    return np.clip(img, 0, 255).astype(np.uint8)


def _ball_box(cy: int, cx: int, radius: int) -> List[float]:
    return [float(cx - radius), float(cy - radius), float(2 * radius), float(2 * radius)]


def fixture_image_paths(image_root) -> List[Path]:
    return sorted(Path(image_root).iterdir())


def make_coco_fixture(root, *, corrupt_image: bool = False, thin_image: bool = False,
                      annotations: bool = True) -> Tuple[str, str]:
    """Write the fixture under ``root``; returns ``(json_path, image_root)`` as strings.

    Args:
        corrupt_image: also list ``corrupt.jpg``, a truncated JPEG no decoder can read.
        thin_image: also list ``thin.png``, 3x2000 px, which a test-time resize to a
            longest edge below 667 px would shrink to zero rows (listed last, so every
            other image keeps its id).
        annotations: False writes the same images and categories with no annotations.
    """
    root = Path(root)
    image_root = root / "images"
    image_root.mkdir(parents=True, exist_ok=True)
    images, anns = [], []

    def add(file_name: str, size: Tuple[int, int], boxes):
        image_id = 101 + len(images)
        images.append({"id": image_id, "file_name": file_name, "height": size[0], "width": size[1]})
        for cat, bbox, *crowd in boxes:
            anns.append({
                "id": 1 + len(anns), "image_id": image_id, "category_id": cat, "bbox": bbox,
                "area": bbox[2] * bbox[3], "iscrowd": int(bool(crowd and crowd[0])),
            })

    def save(arr: np.ndarray, file_name: str, mode=None, **kw):
        img = Image.fromarray(arr)
        if mode:
            img = img.convert(mode)
        img.save(image_root / file_name, **kw)

    # Real photos, boxes drawn by hand (x, y, w, h in pixels).
    save(_photo("astronaut"), "astronaut.jpg", quality=95)
    add("astronaut.jpg", (512, 512), [(1, [20.0, 15.0, 345.0, 497.0])])
    save(_photo("coffee"), "coffee.jpg", quality=95)
    add("coffee.jpg", (400, 600), [(47, [173.0, 17.0, 242.0, 295.0]), (50, [320.0, 69.0, 88.0, 260.0])])
    save(_photo("chelsea"), "chelsea.png")
    add("chelsea.png", (300, 451), [(17, [31.0, 0.0, 364.0, 294.0])])
    save(_photo("camera"), "camera_gray.png")  # single-channel "L" PNG
    add("camera_gray.png", (512, 512), [(1, [0.0, 64.0, 290.0, 448.0])])
    save(_photo("rocket"), "rocket.jpg", quality=90)
    add("rocket.jpg", (427, 640), [])  # no objects of these categories

    # EXIF-rotated JPEG: stored turned 90 degrees counter-clockwise, tag 6 turns it back,
    # so it displays (and the json describes it) as the upright chelsea photo.
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = 6
    Image.fromarray(np.rot90(_photo("chelsea"))).save(image_root / "chelsea_exif6.jpg", quality=95, exif=exif)
    add("chelsea_exif6.jpg", (300, 451), [(17, [31.0, 0.0, 364.0, 294.0])])

    # Synthetic: RGBA, CMYK, tiny, and a crowd region.
    save(_ball_image(96, 128, 40, 70, 18, seed=1), "ball_rgba.png", mode="RGBA")
    add("ball_rgba.png", (96, 128), [(37, _ball_box(40, 70, 18))])
    save(_ball_image(120, 90, 60, 45, 25, seed=2), "ball_cmyk.jpg", mode="CMYK", quality=95)
    add("ball_cmyk.jpg", (120, 90), [(37, _ball_box(60, 45, 25))])
    save(_ball_image(20, 24, 10, 12, 6, seed=3), "ball_tiny.png")
    add("ball_tiny.png", (20, 24), [(37, _ball_box(10, 12, 6))])
    save(_ball_image(160, 200, 50, 60, 20, seed=4), "balls_crowd.png")
    add("balls_crowd.png", (160, 200), [(37, _ball_box(50, 60, 20)), (1, [100.0, 90.0, 90.0, 60.0], True)])

    if corrupt_image:
        data = (image_root / "astronaut.jpg").read_bytes()
        (image_root / "corrupt.jpg").write_bytes(data[:200])  # header only, no image data
        add("corrupt.jpg", (512, 512), [(1, [20.0, 15.0, 345.0, 497.0])])
    if thin_image:
        save(_ball_image(3, 2000, 1, 1000, 1, seed=5), "thin.png")
        add("thin.png", (3, 2000), [(37, [990.0, 0.0, 20.0, 3.0])])

    dataset = {
        "info": {"description": "hfc_det test fixture"},
        "images": images,
        "annotations": anns if annotations else [],
        "categories": CATEGORIES,
    }
    name = ("instances" + ("_corrupt" if corrupt_image else "") + ("_thin" if thin_image else "")
            + ("" if annotations else "_empty"))
    json_path = root / f"{name}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataset))
    os.replace(tmp, json_path)
    return str(json_path), str(image_root)
