"""A tiny eval_lfc.py output folder written by hand, for the report tests.

Six synthetic 96x128 images with squares and disks, COCO ground truth, detections per view,
and a per-image AP table typed in below (not computed by hfc_det), including undefined
values written both as empty cells and as ``nan``.

:func:`make_views_folder` writes a folder with many views (default: the 24 of ``make demo``)
and per-image APs drawn from a seeded generator, for the report at scale and for
``tools/compare_runs.py``: folders made with other ``reliance`` values are "detectors" that
lose more or less on the LFC, on the same images.
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
    x = 8 + 10 * ((image_id - 1) % 6 + 1)  # images 7, 8, ... repeat 1, 2, ...
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
    shift = {"original": 0.0, "low_r8": 2.0, "high_r8": 6.0}.get(view, 3.0)
    rank = VIEWS.index(view) if view in VIEWS else 1
    for k, (cat, (x, y, w, h)) in enumerate(_gt_boxes(image_id)):
        dets.append({"image_id": image_id, "category_id": cat, "bbox": [x + shift, y, w, h],
                     "score": round(0.9 - 0.1 * k - 0.05 * rank, 3)})
    dets.append({"image_id": image_id, "category_id": 3, "bbox": [1.0, 60.0, 20.0, 20.0], "score": 0.2})
    return dets


def _cell(v: float) -> str:
    return "" if math.isnan(v) else repr(v)


def _write_images_and_detections(root: Path, out: Path, image_ids, views):
    """Images under ``root/images``, their ground truth ``root/gt.json`` and
    ``out/detections/<view>.json``; returns ``(gt_path, images_dir)``."""
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    (out / "detections").mkdir(parents=True)
    (out / "gain_loss").mkdir()
    coco_images, annotations = [], []
    for image_id in image_ids:
        name = f"img_{image_id:03d}.png"
        Image.fromarray(_draw(image_id)).save(images_dir / name)
        coco_images.append({"id": image_id, "file_name": name, "height": H, "width": W})
        for cat, box in _gt_boxes(image_id):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cat,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    gt_path = root / "gt.json"
    gt_path.write_text(json.dumps({"images": coco_images, "annotations": annotations, "categories": CATEGORIES}))
    for view in views:
        dets = [d for image_id in image_ids for d in detections_for(view, image_id)]
        (out / "detections" / f"{view}.json").write_text(json.dumps(dets))
    return gt_path, images_dir


def make_output_folder(root: Path, relative_paths: bool = False) -> Path:
    """Write images, ground truth and the eval output folder under ``root``; return the folder.

    ``relative_paths`` writes ``dataset.json_file``/``image_root`` relative to the output
    folder (as a user who moves the folder around might).
    """
    root = Path(root)
    out = root / "eval"
    gt_path, images_dir = _write_images_and_detections(root, out, list(AP_TABLE), VIEWS)

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


#: The 24 views of ``make demo`` (hfc_det.experiments.demo.demo_views at radii 8 16 24 32 48).
DEMO_RADII = [8, 16, 24, 32, 48]
DEMO_VIEWS = (["original"] + [f"{k}_r{r}" for k in ("low", "high", "noise") for r in DEMO_RADII]
              + ["band_r8-16", "band_r16-24", "band_r24-32", "band_r32-48", "band_r48-96",
                 "blur_s1", "blur_s2", "blur_s4"])


def _kept(view: str, reliance: float) -> float:
    """The share of an image's AP a view keeps, for a detector of the given ``reliance``
    (the LFC radius at which it keeps half): LFC R / (R + reliance), HFC the rest at a
    tenth, the others most of it."""
    kind, _, parameter = view.partition("_")
    if kind == "original":
        return 1.0
    if kind in ("low", "high"):
        r = float(parameter[1:])
        return r / (r + reliance) if kind == "low" else 0.3 * reliance / (r + reliance)
    return {"noise": 0.97, "band": 0.2, "blur": 0.6}[kind]


def make_views_folder(root: Path, views=tuple(DEMO_VIEWS), *, seed: int = 0, reliance: float = 16.0,
                      n_images: int = 12, strict: bool = True, dataset_name: str = "tiny_shapes",
                      config_file: str = "configs/demo.yaml", errors: bool = True) -> Path:
    """An eval_lfc.py output folder ``root/eval`` with ``views`` on ``n_images`` fixture
    images: per-image AP ``original ~ U(0.2, 1)``, each view's the original times
    :func:`_kept` plus noise from ``seed`` (3 decimals, clipped to [0, 1]; image 4 has no
    ground truth: undefined everywhere), the strict AP 0.9 times it on odd images; COCO AP
    per view (``summary.json``) is 100 times the mean per-image AP, so that the numbers agree.
    The same ``n_images`` give the same images whatever the seed."""
    root, views = Path(root), list(views)
    out = root / "eval"
    ids = list(range(1, n_images + 1))
    gt_path, images_dir = _write_images_and_detections(root, out, ids, views)
    rng = np.random.default_rng(seed)
    original = rng.uniform(0.2, 1.0, n_images)
    table = {}
    for view in views:
        noisy = original * _kept(view, reliance) + (rng.normal(0, 0.08, n_images) if view != "original" else 0)
        table[view] = np.round(np.clip(noisy, 0, 1), 3)
        if 4 in ids:
            table[view][ids.index(4)] = np.nan
    strict_table = {v: np.where(np.array(ids) % 2 == 1, np.round(a * 0.9, 3), a) for v, a in table.items()}
    with open(out / "per_image_ap.csv", "w", newline="") as f:
        w = csv.writer(f)
        columns = [f"ap_{v}" for v in views] + ([f"ap_strict_{v}" for v in views] if strict else [])
        w.writerow(["image_id", "file_name"] + columns)
        for k, image_id in enumerate(ids):
            cells = [_cell(float(table[v][k])) for v in views]
            cells += [_cell(float(strict_table[v][k])) for v in views] if strict else []
            w.writerow([image_id, f"img_{image_id:03d}.png"] + cells)
    variants = {}
    for view in views:
        ap = round(100 * float(np.nanmean(table[view])), 2)
        variants[view] = {"AP": ap, "AP50": round(min(100.0, 1.3 * ap), 2), "AP75": round(0.8 * ap, 2),
                          "APs": round(0.5 * ap, 2), "APm": ap, "APl": round(min(100.0, 1.1 * ap), 2)}
    summary = {
        "variants": variants, "skipped": [], "views": views, "radii": DEMO_RADII,
        "dataset": {"name": dataset_name, "json_file": str(gt_path), "image_root": str(images_dir)},
        "filter_stage": "before_resize", "hfc_scaling": "none", "config_file": config_file, "weights": "none",
        "smooth_rho": 0.0, "versions": {"hfc_det": "test"}, "num_images": n_images,
    }
    if errors:
        summary["errors"] = {v: {"ap50": variants[v]["AP50"],
                                 "main": {t: round(float(x), 2) for t, x in zip(
                                     ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss"), rng.uniform(0, 12, 6))},
                                 "special": {"FalsePos": 5.0, "FalseNeg": 7.0}} for v in views}
    (out / "summary.json").write_text(json.dumps(summary))
    return out
