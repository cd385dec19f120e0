"""A tiny eval_lfc.py output folder written by hand, for the report tests.

Six synthetic 96x128 images with squares and disks, COCO ground truth, detections per view,
and a per-image AP table typed in below (not computed by hfc_det), including undefined
values written both as empty cells and as ``nan``.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

H, W = 96, 128
CATEGORIES = [{"id": 3, "name": "square"}, {"id": 7, "name": "disk"}]
NAN = math.nan

# image_id -> (ap_original, ap_low_r8, ap_high_r8); written to the CSV exactly like this.
AP_TABLE = {
    1: (0.50, 0.80, 0.10),
    2: (0.90, 0.40, 0.00),
    3: (0.60, 0.60, NAN),
    4: (NAN, NAN, NAN),
    5: (0.20, 0.35, 0.05),
    6: (1.00, 0.75, NAN),
}
VIEWS = ["original", "low_r8", "high_r8"]
VARIANTS = {
    "original": {"AP": 41.5, "AP50": 60.25, "AP75": 44.0, "APs": 20.0, "APm": 45.0, "APl": 55.5},
    "low_r8": {"AP": 30.0, "AP50": 50.0, "AP75": 28.0, "APs": 10.0, "APm": 33.0, "APl": 47.0},
    "high_r8": {"AP": 5.5, "AP50": 9.0, "AP75": 4.0, "APs": 1.0, "APm": 6.0, "APl": 8.0},
}


def _gt_boxes(image_id: int):
    """(category_id, [x, y, w, h]) per object; image 4 has none."""
    if image_id == 4:
        return []
    x = 8 + 10 * image_id
    return [(3, [x, 12.0, 30.0, 30.0]), (7, [70.0, 50.0 - image_id, 36.0, 36.0])][: 1 + image_id % 2]


def _draw(image_id: int) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    img = np.stack([40 + xx, 60 + yy, np.full_like(xx, 90)], axis=-1).astype(np.float64)
    for cat, (x, y, w, h) in _gt_boxes(image_id):
        if cat == 3:
            img[int(y): int(y + h), int(x): int(x + w)] = (230, 200, 40)
        else:
            inside = (xx - (x + w / 2)) ** 2 + (yy - (y + h / 2)) ** 2 < (w / 2) ** 2
            img[inside] = (30, 120, 240)
    return np.clip(img, 0, 255).astype(np.uint8)


def detections_for(view: str, image_id: int):
    """Hand-made detections: one good box per object and one weak stray box (score 0.2)."""
    dets = []
    shift = {"original": 0.0, "low_r8": 2.0, "high_r8": 6.0}[view]
    for k, (cat, (x, y, w, h)) in enumerate(_gt_boxes(image_id)):
        dets.append({"image_id": image_id, "category_id": cat, "bbox": [x + shift, y, w, h],
                     "score": round(0.9 - 0.1 * k - 0.05 * VIEWS.index(view), 3)})
    dets.append({"image_id": image_id, "category_id": 3, "bbox": [1.0, 60.0, 20.0, 20.0], "score": 0.2})
    return dets


def _cell(v: float) -> str:
    return "" if math.isnan(v) else repr(v)


def make_output_folder(root: Path, relative_paths: bool = False) -> Path:
    """Write images, ground truth and the eval output folder under ``root``; return the folder.

    ``relative_paths`` writes ``dataset.json_file``/``image_root`` relative to the output
    folder (as a user who moves the folder around might).
    """
    root = Path(root)
    images_dir = root / "images"
    images_dir.mkdir(parents=True)
    out = root / "eval"
    (out / "detections").mkdir(parents=True)
    (out / "gain_loss").mkdir()
    coco_images, annotations = [], []
    for image_id in AP_TABLE:
        name = f"img_{image_id:03d}.png"
        Image.fromarray(_draw(image_id)).save(images_dir / name)
        coco_images.append({"id": image_id, "file_name": name, "height": H, "width": W})
        for cat, box in _gt_boxes(image_id):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cat,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    gt_path = root / "gt.json"
    gt_path.write_text(json.dumps({"images": coco_images, "annotations": annotations, "categories": CATEGORIES}))

    for view in VIEWS:
        dets = [d for image_id in AP_TABLE for d in detections_for(view, image_id)]
        (out / "detections" / f"{view}.json").write_text(json.dumps(dets))

    with open(out / "per_image_ap.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "file_name"] + [f"ap_{v}" for v in VIEWS])
        for image_id, aps in AP_TABLE.items():
            # image 6 writes its undefined AP as "nan", the others as an empty cell
            cells = ["nan" if (image_id == 6 and math.isnan(a)) else _cell(a) for a in aps]
            w.writerow([image_id, f"img_{image_id:03d}.png"] + cells)

    # gain_loss only for low_r8: high_r8 exercises the fallback from the per-image table.
    rows = [(i, a[0], a[1], a[1] - a[0]) for i, a in AP_TABLE.items() if not math.isnan(a[1] - a[0])]
    with open(out / "gain_loss" / "low_r8.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "file_name", "ap_original", "ap_low_r8", "diff"])
        for i, a0, a1, d in sorted(rows, key=lambda r: -r[3]):
            w.writerow([i, f"img_{i:03d}.png", a0, a1, d])

    json_file = "../gt.json" if relative_paths else str(gt_path)
    image_root = "../images" if relative_paths else str(images_dir)
    summary = {
        "variants": VARIANTS,
        "per_image": {"low_r8": {"gain": 2, "loss": 2, "tie": 1, "undefined": 1}},
        "skipped": [],
        "dataset": {"name": "tiny_shapes", "json_file": json_file, "image_root": image_root},
        "radii": [8],
        "views": VIEWS,
        "filter_stage": "before_resize",
        "hfc_scaling": "none",
        "config_file": "configs/demo.yaml",
        "weights": "none",
        "versions": {"hfc_det": "test"},
    }
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def expected_diffs(view_index: int):
    """{image_id: AP(view) - AP(original)} for the defined ones, straight from AP_TABLE."""
    return {i: a[view_index] - a[0] for i, a in AP_TABLE.items() if not math.isnan(a[view_index] - a[0])}
