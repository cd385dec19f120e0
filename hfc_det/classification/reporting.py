"""What a training run leaves in its folder: metrics.json, metrics.csv, curves.png.

Every file is written to a temporary name and renamed, so a crash never leaves a
half-written file that a later run (or ``run_experiments``) would trust.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hfc_det.utils.atomic import save_figure_atomic, write_text_atomic
from hfc_det.views.grammar import VIEW_KINDS, parse_view, view_axis

__all__ = ["write_metrics", "history_csv", "plot_curves", "view_order"]


_KIND_ORDER = {"original": -1, **{k.kind: n for n, k in enumerate(VIEW_KINDS)}}


def view_order(names) -> List[str]:
    """original first, then low_r*, high_r*, band_r*, blur_s*, ... (the order of
    :data:`hfc_det.views.grammar.VIEW_KINDS`), each by increasing parameter."""
    def key(name):
        kind, _ = parse_view(name)
        return (_KIND_ORDER[kind], 0.0 if kind == "original" else view_axis(name)[1])
    return sorted(names, key=key)


def history_csv(history: Sequence[Dict[str, Any]]) -> str:
    """One row per epoch: epoch, loss, fit_acc, train_<view>..., test_<view>...."""
    if not history:
        return "epoch,loss,fit_acc\n"
    views = view_order(history[0]["train_acc"])
    header = ["epoch", "loss", "fit_acc"] + [f"train_{v}" for v in views] + [f"test_{v}" for v in views]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for h in history:
        writer.writerow([h["epoch"], repr(h["loss"]), repr(h["fit_acc"])]
                        + [repr(h["train_acc"][v]) for v in views] + [repr(h["test_acc"][v]) for v in views])
    return buf.getvalue()


def write_metrics(out_dir, config: Dict[str, Any], history: List[Dict[str, Any]],
                  extra: Optional[Dict[str, Any]] = None) -> Path:
    """metrics.json (``config``, ``history``, ``final`` = the last epoch's accuracies) and metrics.csv."""
    out_dir = Path(out_dir)
    last = history[-1]
    metrics = {
        "config": config,
        "history": history,
        "final": {"epoch": last["epoch"], "fit_acc": last["fit_acc"],
                  "train_acc": last["train_acc"], "test_acc": last["test_acc"]},
        **(extra or {}),
    }
    write_text_atomic(out_dir / "metrics.csv", history_csv(history))
    return write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")


def plot_curves(history: Sequence[Dict[str, Any]], axes=None, title: str = ""):
    """Accuracy along training in the style of the paper's Figs. 3-6.

    Two panels, train and test: the original images in black, LFC at each radius solid
    and HFC dashed, one colour per radius; other tracked views (band, blur) dotted, one
    colour each. Returns the figure (``axes``: two given axes).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    fig = axes[0].figure
    epochs = [h["epoch"] for h in history]
    views = view_order(history[0]["train_acc"])
    radii = sorted({parse_view(v)[1] for v in views if parse_view(v)[0] in ("low", "high")})
    colours = {r: plt.cm.viridis(i / max(len(radii) - 1, 1) * 0.85) for i, r in enumerate(radii)}
    others = [v for v in views if parse_view(v)[0] not in ("original", "low", "high")]
    for ax, split in zip(axes, ("train", "test")):
        for v in views:
            kind, r = parse_view(v)
            if kind in ("low", "high"):
                style = dict(color=colours[r], ls="-" if kind == "low" else "--")
            elif kind == "original":
                style = dict(color="black", lw=2)
            else:
                style = dict(color=plt.cm.plasma(others.index(v) / max(len(others), 1) * 0.85), ls=":")
            ax.plot(epochs, [h[f"{split}_acc"][v] for h in history], label=v, **style)
        ax.set_title(f"{title} {split}".strip())
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def save_figure(fig, path) -> Path:
    """Save a matplotlib figure atomically (PNG) and close it."""
    import matplotlib.pyplot as plt

    save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)
    return Path(path)
