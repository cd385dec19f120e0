"""Gain/loss panels: original | LFC | HFC of one image, each with its own detections and
the ground truth drawn by detectron2's ``Visualizer`` (the paper's Figures 8 and 9).

Pictures are recomputed from the image file with :func:`views_hwc`; the per-image AP
in the titles comes from ``per_image_ap.csv``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

import hfc_det.compat  # noqa: F401  (before detectron2)
from detectron2.data import Metadata
from hfc_det.data.mapper import read_image  # detectron2's, plus 16-bit and float files
from detectron2.utils.visualizer import Visualizer

from hfc_det.views.frequency import view_name
from hfc_det.views.grammar import parse_view

from hfc_det.utils.atomic import save_figure_atomic
from hfc_det.views.display import hfc_scaling_label, view_for_display, views_hwc

__all__ = ["GT_COLOR", "PRED_COLOR", "draw_boxes", "panel_views", "save_gain_loss_panel", "format_ap"]

GT_COLOR = (0.1, 0.85, 0.2)    # green, dashed
PRED_COLOR = (1.0, 0.25, 0.1)  # red-orange, solid, labelled "class score"


def format_ap(value: float) -> str:
    return "undefined" if value is None or math.isnan(value) else f"{value:.3f}"


def panel_views(view: str) -> List[str]:
    """The views of a panel for ``view``: ``["original", "low_rR", "high_rR"]`` for
    ``low_rR`` or ``high_rR``, ``["original", view]`` for any other (band, blur, ...)."""
    kind, radius = parse_view(view)
    if kind == "original":
        raise ValueError("gain/loss compares a filtered view with the original: pick low_rR or high_rR")
    if kind in ("low", "high"):
        return ["original", view_name("low", radius), view_name("high", radius)]
    return ["original", view]


def draw_boxes(
    picture: np.ndarray,
    predictions: Sequence[Mapping[str, Any]],
    ground_truth: Sequence[Mapping[str, Any]],
    class_names: Mapping[int, str],
    score_thresh: float,
) -> np.ndarray:
    """Draw ground truth (green, dashed) and predictions with ``score >= score_thresh``
    (red-orange, labelled ``name score``) on a uint8 ``HxWx3`` RGB picture.

    Boxes are COCO ``[x, y, w, h]`` in pixels of ``picture``. Returns the uint8 ``HxWx3``
    drawing, same size.
    """
    vis = Visualizer(picture, metadata=Metadata(thing_classes=list(class_names.values())))
    for ann in ground_truth:
        x, y, w, h = ann["bbox"]
        vis.draw_box((x, y, x + w, y + h), alpha=0.9, edge_color=GT_COLOR, line_style="--")
    kept = sorted((p for p in predictions if p.get("score", 1.0) >= score_thresh),
                  key=lambda p: -p.get("score", 1.0))
    # draw_box + draw_text rather than overlay_instances: the latter draws edges at alpha
    # 0.5, which makes red boxes vanish on dark or busy (HFC) pictures.
    font_size = vis._default_font_size * 0.8
    for p in kept:
        x, y, w, h = p["bbox"]
        vis.draw_box((x, y, x + w, y + h), alpha=0.95, edge_color=PRED_COLOR)
        label = f"{class_names.get(int(p['category_id']), p['category_id'])} {p.get('score', 1.0):.2f}"
        vis.draw_text(label, (x, y), color="white", horizontal_alignment="left", font_size=font_size)
    return vis.get_output().get_image()


def save_gain_loss_panel(
    image_path: Path,
    view: str,
    path: Path,
    *,
    ap: Mapping[str, float],
    detections: Mapping[str, Optional[Mapping[int, List[dict]]]],
    ground_truth: Sequence[Mapping[str, Any]],
    class_names: Mapping[int, str],
    image_id: int,
    score_thresh: float = 0.5,
    hfc_scaling: str = "symmetric",
    title: str = "",
    max_side: int = 640,
    min_draw_side: int = 320,
    dpi: int = 100,
) -> Dict[str, Any]:
    """Write one panel (original | LFC | HFC with boxes) for ``image_id`` and describe it.

    Args:
        image_path: the image file (read as RGB with :func:`hfc_det.data.mapper.read_image`).
        view: ``low_rR`` or ``high_rR``; the panel shows original, ``low_rR``, ``high_rR``.
        ap: per-image AP by view name (from ``per_image_ap.csv``; NaN = undefined).
        detections: ``{view: {image_id: [COCO results]}}``; a view mapped to None has no
            detections file and is drawn without predicted boxes.
        ground_truth: COCO annotation dicts of the image (drawn on every view).
        max_side, min_draw_side: the picture is resized (boxes with it) so its longer side is
            within these pixels: galleries are for eyes, and Visualizer's cost grows with size.

    Returns:
        JSON-able dict: views, per view the AP and number of boxes drawn, the scalings.
    """
    rgb = read_image(str(image_path), format="RGB")
    h, w = rgb.shape[:2]
    # Frequencies are split at full resolution (the radius is in bins of the full image);
    # only the finished pictures are resized.
    names = panel_views(view)
    views = views_hwc(rgb, names)
    # Small images are enlarged (nearest neighbour, pixels stay visible) so that
    # Visualizer's labels do not cover them.
    scale = min(max_side / max(h, w), max(1.0, min_draw_side / max(h, w)))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))

    def scaled(boxes: Sequence[Mapping[str, Any]]) -> List[dict]:
        return [{**b, "bbox": [v * scale for v in b["bbox"]]} for b in boxes]

    gt = scaled(ground_truth)
    # At least 3.3 inches a panel so that the titles fit above small images.
    panel_w = max(size[0] / dpi, 3.3)
    panel_h = panel_w * size[1] / size[0]
    font = min(14.0, 8.0 * panel_w / 3.3)  # text grows with the panel: readable when shrunk to a page
    fig = Figure(figsize=(len(names) * panel_w, panel_h + 1.1 * font / 8.0))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    drawn = {}
    for ax, name in zip(axes, names):
        picture = view_for_display(name, views[name], hfc_scaling)
        if scale != 1.0:
            resample = Image.BILINEAR if scale < 1.0 else Image.NEAREST
            picture = np.asarray(Image.fromarray(picture).resize(size, resample))
        per_view = detections.get(name)
        preds = scaled(per_view.get(image_id, [])) if per_view is not None else []
        ax.imshow(draw_boxes(picture, preds, gt, class_names, score_thresh))
        ax.set_xticks([])
        ax.set_yticks([])
        value = ap.get(name, math.nan)
        label = f"{name}: AP={format_ap(value)}"
        if name != "original" and not math.isnan(value) and not math.isnan(ap.get("original", math.nan)):
            label += f" ({value - ap['original']:+.3f})"
        if per_view is None:
            label += "\n(no detections file)"
        elif name.startswith("high_r"):
            label += f"\nHFC {hfc_scaling_label(hfc_scaling)}"
        elif name.startswith("low_r"):
            label += "\nLFC clipped to 0..255 for display"
        ax.set_title(label, fontsize=font)
        drawn[name] = {"ap": value, "boxes": sum(p.get("score", 1.0) >= score_thresh for p in preds),
                       "has_detections": per_view is not None}
    fig.suptitle(title or f"image {image_id}", fontsize=font * 1.1)
    fig.text(0.5, 0.005, f"green dashed: ground truth ({len(gt)});  red: predictions with score >= {score_thresh:g}",
             ha="center", va="bottom", fontsize=font * 0.85)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    # Light PNG compression: encoding at the default level took a fifth of a report build.
    save_figure_atomic(fig, path, dpi=dpi, pil_kwargs={"compress_level": 2})
    return {"path": str(path), "image_id": image_id, "views": names, "drawn": drawn,
            "ground_truth_boxes": len(gt), "score_thresh": score_thresh,
            "hfc_display": hfc_scaling, "lfc_display": "clipped to [0, 255]",
            "image_size": [w, h], "display_scale": scale}
