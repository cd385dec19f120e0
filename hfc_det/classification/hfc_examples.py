"""Figure 2 examples: test samples a model gets right on the original and on its
high-frequency (or SVD-tail) part, but wrong on the low-frequency (or SVD-top) part.

Two steps, kept apart so the selection can be checked on its own:
:func:`view_probabilities` runs the model on every view (softmax over classes), and
:func:`select_hfc_examples` applies the definition to those probabilities. Views are fed
to the model as they are (float, unclipped), like everywhere in this project.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from hfc_det.views.grammar import compute_views, parse_view, split_view_names
from hfc_det.utils.atomic import save_figure_atomic
from hfc_det.views.display import clip_for_display, scale_hfc_for_display

__all__ = [
    "view_probabilities",
    "select_hfc_examples",
    "save_hfc_gallery",
    "CSV_COLUMNS",
    "CLASS_NAMES",
]

#: Class names for the galleries; datasets not listed are labelled by class index.
CLASS_NAMES = {
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "fashionmnist": ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                     "bag", "boot"),
}

CSV_COLUMNS = (
    "split", "parameter", "index", "label",
    "pred_original", "conf_original", "pred_smooth", "conf_smooth", "pred_detail", "conf_detail",
)


def _batches(n: int, batch_size: int, progress: Optional[str]):
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=progress, unit="batch", leave=False)
    return starts


@torch.no_grad()
def view_probabilities(
    model: nn.Module,
    images: torch.Tensor,
    view_names: Iterable[str],
    batch_size: int = 256,
    device: Optional[torch.device] = None,
    progress: Optional[str] = None,
) -> Dict[str, torch.Tensor]:
    """Softmax probabilities ``(N, num_classes)`` of ``model`` on each named view of
    ``images`` (``(N, C, H, W)``, [0, 1]); views are computed per batch on ``device``,
    all radii from one FFT and all ``k`` from one SVD."""
    names = list(dict.fromkeys(view_names))
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    chunks: Dict[str, List[torch.Tensor]] = {name: [] for name in names}
    for s in _batches(len(images), batch_size, progress):
        views = compute_views(images[s : s + batch_size].to(device), names)
        for name in names:
            chunks[name].append(torch.softmax(model(views[name]).float(), dim=1).cpu())
    return {name: torch.cat(parts) for name, parts in chunks.items()}


def select_hfc_examples(
    probabilities: Dict[str, torch.Tensor],
    labels: torch.Tensor,
    split: str,
    parameter: float,
) -> List[dict]:
    """Rows for the samples that meet Fig. 2's definition at one split parameter.

    A sample qualifies when ``argmax`` is the label on ``original`` and on the detail view
    (``high_r{R}`` / ``svd_tail{k}``) and not the label on the smooth view (``low_r{R}`` /
    ``svd_top{k}``). ``probabilities`` must hold those three views (see
    :func:`view_probabilities`). Each row (keys :data:`CSV_COLUMNS`) has the predicted
    class and its softmax confidence per view, sorted by sample index.
    """
    smooth, detail = split_view_names(split, parameter)
    labels = torch.as_tensor(labels).cpu()
    probs = {"original": probabilities["original"], "smooth": probabilities[smooth],
             "detail": probabilities[detail]}
    conf, pred = {}, {}
    for key, p in probs.items():
        conf[key], pred[key] = p.max(dim=1)
    keep = (pred["original"] == labels) & (pred["detail"] == labels) & (pred["smooth"] != labels)
    rows = []
    for i in torch.nonzero(keep).flatten().tolist():
        row = {"split": split, "parameter": parameter, "index": i, "label": int(labels[i])}
        for key in probs:
            row[f"pred_{key}"] = int(pred[key][i])
            row[f"conf_{key}"] = float(conf[key][i])
        rows.append(row)
    return rows


def _picture(name: str, chw: np.ndarray) -> np.ndarray:
    hwc = np.ascontiguousarray(np.transpose(chw, (1, 2, 0)))
    kind, _ = parse_view(name)
    if kind in ("high", "svd_tail"):
        return scale_hfc_for_display(hwc)  # zero-mean: 0 -> mid-grey
    return clip_for_display(hwc, vmax=1.0)


def save_hfc_gallery(
    images: torch.Tensor,
    rows: Sequence[dict],
    path,
    class_names: Optional[Sequence[str]] = None,
    max_examples: int = 8,
    title: Optional[str] = None,
) -> Tuple[str, int]:
    """Fig. 2-style gallery: a column per example, rows original | smooth | detail view,
    each titled with the model's prediction and confidence.

    ``images`` is the full ``(N, C, H, W)`` set in [0, 1] that ``rows`` index into (rows from
    one split parameter). Smooth views are clipped to [0, 1] for display, detail views
    shown as ``0.5 + h / (2 max|h|)``. Written atomically; returns ``(path, drawn)``.
    """
    rows = list(rows)[:max_examples]
    if not rows:
        raise ValueError("no examples to draw")
    split, parameter = rows[0]["split"], rows[0]["parameter"]
    smooth, detail = split_view_names(split, parameter)
    batch = torch.stack([images[r["index"]] for r in rows]).cpu()
    views = compute_views(batch, ["original", smooth, detail])

    def label(c: int) -> str:
        return class_names[c] if class_names else str(c)

    fig = Figure(figsize=(1.6 * len(rows) + 0.9, 5.4))
    axes = fig.subplots(3, len(rows), squeeze=False)
    for col, row in enumerate(rows):
        for r, (name, key) in enumerate(((("original", "original")), (smooth, "smooth"), (detail, "detail"))):
            ax = axes[r, col]
            pic = _picture(name, views[name][col].numpy())
            ax.imshow(pic.squeeze(-1) if pic.shape[-1] == 1 else pic,
                      cmap="gray" if pic.shape[-1] == 1 else None, vmin=0, vmax=255,
                      interpolation="nearest")
            ok = row[f"pred_{key}"] == row["label"]
            head = f"#{row['index']} true {label(row['label'])}\n" if r == 0 else ""
            ax.set_title(f"{head}{label(row[f'pred_{key}'])} {row[f'conf_{key}']:.2f}", fontsize=7,
                         color="green" if ok else "red")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle(title or f"right on original and {detail}, wrong on {smooth}", fontsize=9)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)
    return str(path), len(rows)
