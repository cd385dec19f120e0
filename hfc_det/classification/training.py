"""Training with per-epoch tracking of frequency views (the paper's Figs. 3-6, Table 1).

Data live in tensors on the training device: the training input (original images, or
their LFC/HFC at ``radius`` rescaled per image by its maximum) and, for tracking, the
views ``original``/``low_rR``/``high_rR`` of a fixed subset of the training set and of
the whole test set, computed once before the first epoch.

Reproducibility: the batch order and mix-up draws of epoch ``e`` come from generators
seeded with ``(seed, e)``; the global torch/numpy/python RNGs (dropout, init) are saved in
every checkpoint. So ``resume`` after a stop continues exactly as an uninterrupted run
(bit for bit on CPU; on CUDA up to the GPU's non-deterministic kernels).
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfc_det.cli.helpers import resolve_device
from hfc_det.classification.attacks import pgd
from hfc_det.classification.checkpoint import (CHECKPOINT_NAME, RESUME_KEYS, numpy_rng_state, portable_rng_state, read_checkpoint,
                         save_checkpoint, state_dict_misfit)
from hfc_det.classification.config import RESUME_MAY_CHANGE, TrainConfig
from hfc_det.classification.errors import TrainingError  # re-exported; torch-free for the tools' error handler
from hfc_det.classification.data import dataset_info, load_dataset, shuffle_labels, tracked_views, training_view
from hfc_det.classification.evaluation import autocast_for, accuracy_per_view
from hfc_det.classification.mixup import mixup
from hfc_det.classification.models import build_model
from hfc_det.classification.reporting import plot_curves, save_figure, write_metrics

__all__ = ["RunData", "prepare_data", "train", "resolve_device", "TrainingError"]

# The tracked training subset is drawn with this fixed seed, independent of the run's seed,
# so runs with different seeds are tracked on the same images.
_TRACK_SUBSET_SEED = 1234


@dataclass
class RunData:
    """Everything a run trains and evaluates on, already on its device."""

    fit_x: torch.Tensor  # (N, C, H, W) training input (rescaled LFC/HFC or originals)
    fit_y: torch.Tensor  # (N,) training labels (shuffled when shuffle_labels)
    label_permutation: Optional[torch.Tensor]  # the shuffle, or None
    track_index: torch.Tensor  # (M,) indices of the tracked training subset
    train_views: Dict[str, torch.Tensor]  # views of train images [track_index]
    test_views: Dict[str, torch.Tensor]
    test_y: torch.Tensor
    num_classes: int
    in_channels: int


def prepare_data(cfg: TrainConfig, device: torch.device) -> RunData:
    """Load the dataset and build the training input and tracked views (see module doc)."""
    info = dataset_info(cfg.dataset)
    train_x, train_y, test_x, test_y = load_dataset(cfg.dataset, cfg.data_root, cfg.download)
    perm = None
    if cfg.shuffle_labels:
        train_y, perm = shuffle_labels(train_y, cfg.label_seed)
    n = len(train_x)
    if 0 < cfg.track_train_size < n:
        gen = torch.Generator().manual_seed(_TRACK_SUBSET_SEED)
        track_index = torch.randperm(n, generator=gen)[: cfg.track_train_size].sort().values
    else:
        track_index = torch.arange(n)
    radii = cfg.resolved_track_radii()
    return RunData(
        fit_x=training_view(train_x, cfg.train_on, cfg.radius).to(device),
        fit_y=train_y.to(device),
        label_permutation=perm,
        track_index=track_index,
        train_views=tracked_views(train_x[track_index], radii, device, views=cfg.track_views or ()),
        test_views=tracked_views(test_x, radii, device, views=cfg.track_views or ()),
        test_y=test_y.to(device),
        num_classes=info.num_classes,
        in_channels=info.channels,
    )


def _epoch_generators(seed: int, epoch: int):
    torch_gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch_gen, np.random.default_rng([seed, epoch])


def _rng_state() -> Dict[str, Any]:
    # portable_rng_state: tensors and plain values only, so the checkpoint loads with weights_only=True
    state = {"torch": torch.get_rng_state(), "numpy": portable_rng_state(np.random.get_state()),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(numpy_rng_state(state["numpy"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def train_one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, data: RunData,
                    cfg: TrainConfig, epoch: int, device: torch.device,
                    progress: Optional[Callable[[int], None]] = None) -> float:
    """One pass over the training input; returns the mean training loss."""
    torch_gen, np_rng = _epoch_generators(cfg.seed, epoch)
    n = len(data.fit_x)
    order = torch.randperm(n, generator=torch_gen).to(device)
    use_amp = cfg.amp and device.type == "cuda"
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, n, cfg.batch_size):
        idx = order[start:start + cfg.batch_size]
        x, y = data.fit_x[idx], data.fit_y[idx]
        if use_amp:
            x = x.contiguous(memory_format=torch.channels_last)
        if cfg.adv_train:
            # Attack in eval mode: BN uses its running statistics and the ten attack
            # passes do not pollute them; dropout stays off while searching.
            model.eval()
            with autocast_for(device, use_amp):
                x = pgd(model, x, y, cfg.adv_eps, steps=cfg.adv_steps)
            model.train()
        target = y
        if cfg.mixup_alpha > 0:
            x, target, _, _ = mixup(x, y, cfg.mixup_alpha, data.num_classes, np_rng)
        with autocast_for(device, use_amp):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach().double() * len(idx)
        if progress is not None:
            progress(len(idx))
    return float(total.item() / n)


def evaluate_epoch(model: nn.Module, data: RunData, cfg: TrainConfig, device: torch.device) -> Dict[str, Any]:
    """Accuracies of one history entry: fit (training input, training labels), train views, test views."""
    amp = cfg.amp and device.type == "cuda"
    bs = cfg.eval_batch_size
    track_y = data.fit_y[data.track_index.to(device)]
    fit = accuracy_per_view(model, {"fit": data.fit_x[data.track_index.to(device)]}, track_y, bs, device, amp)["fit"]
    return {
        "fit_acc": fit,
        "train_acc": accuracy_per_view(model, data.train_views, track_y, bs, device, amp),
        "test_acc": accuracy_per_view(model, data.test_views, data.test_y, bs, device, amp),
    }


def _check_resumable(saved: Dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    now = cfg.to_dict()
    diffs = [f"{k}={saved.get(k)!r} (now {now[k]!r})" for k in now
             if k not in RESUME_MAY_CHANGE and saved.get(k) != now[k]]
    if diffs:
        raise TrainingError(f"cannot resume {path}: it was trained with {', '.join(diffs)}")


def train(cfg: TrainConfig, output_dir, resume: bool = False, progress: bool = True,
          data: Optional[RunData] = None) -> Dict[str, Any]:
    """:func:`_train`, holding ``output_dir``'s lock (:mod:`hfc_det.utils.run_lock`): a second
    run in the same folder refuses in one line (``FolderInUseError``) instead of mixing
    checkpoints; a lock a killed run left is taken over."""
    from hfc_det.utils.run_lock import run_lock

    with run_lock(output_dir, what="train_cifar.py run"):
        return _train(cfg, output_dir, resume=resume, progress=progress, data=data)


def _train(cfg: TrainConfig, output_dir, resume: bool = False, progress: bool = True,
           data: Optional[RunData] = None) -> Dict[str, Any]:
    """Train (or continue) one run and write its outputs into ``output_dir``.

    Writes ``checkpoint.pth`` after every epoch, then ``metrics.json``, ``metrics.csv`` and
    ``curves.png`` at the end. Returns the metrics dict. ``data`` lets a caller reuse the
    tensors of :func:`prepare_data` across runs with the same data settings.

    Raises:
        TrainingError: a checkpoint exists and ``resume`` is False, or it was trained with
            another configuration.
    """
    from tqdm.auto import tqdm

    cfg.validate()
    output_dir = Path(output_dir)
    ckpt_path = output_dir / CHECKPOINT_NAME
    saved = None
    if ckpt_path.exists():
        if not resume:
            raise TrainingError(f"{output_dir} already holds a run; pass --resume to continue it or pick another --output")
        saved = read_checkpoint(ckpt_path, require=RESUME_KEYS)
        _check_resumable(saved["config"], cfg, output_dir)
    device = resolve_device(cfg.device)
    if data is None:
        data = prepare_data(cfg, device)

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model_kwargs = dict(num_classes=data.num_classes, in_channels=data.in_channels, bn=cfg.bn, dropout=cfg.dropout)
    model = build_model(cfg.model, **model_kwargs).to(device)
    if cfg.amp and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: List[Dict[str, Any]] = []
    epoch_seconds: List[float] = []
    start_epoch = 1
    if saved is not None:
        misfit = state_dict_misfit(model, saved["model"])
        if misfit:
            raise TrainingError(f"cannot resume {ckpt_path}: its weights do not fit {cfg.model}: {misfit}")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        history, epoch_seconds = list(saved["history"]), list(saved.get("epoch_seconds", []))
        start_epoch = saved["epoch"] + 1
        _set_rng_state(saved["rng"])
        if saved["epoch"] > cfg.epochs:
            raise TrainingError(f"{output_dir} has already trained {saved['epoch']} epochs, more than --epochs {cfg.epochs}")

    n_batches = -(-len(data.fit_x) // cfg.batch_size)
    epochs_bar = tqdm(range(start_epoch, cfg.epochs + 1), desc="epochs", unit="epoch",
                      initial=start_epoch - 1, total=cfg.epochs, disable=not progress)
    for epoch in epochs_bar:
        t0 = time.perf_counter()
        with tqdm(total=len(data.fit_x), desc=f"epoch {epoch}", unit="img", leave=False,
                  disable=not progress or n_batches < 20) as batch_bar:
            loss = train_one_epoch(model, optimizer, data, cfg, epoch, device, batch_bar.update)
        entry = {"epoch": epoch, "loss": loss, **evaluate_epoch(model, data, cfg, device)}
        history.append(entry)
        epoch_seconds.append(time.perf_counter() - t0)
        epochs_bar.set_postfix(loss=f"{loss:.3f}", train=f"{entry['train_acc']['original']:.3f}",
                               test=f"{entry['test_acc']['original']:.3f}")
        save_checkpoint({
            "model": model.state_dict(), "model_name": cfg.model, "model_kwargs": model_kwargs,
            "config": cfg.to_dict(), "epoch": epoch, "optimizer": optimizer.state_dict(),
            "rng": _rng_state(), "history": history, "epoch_seconds": epoch_seconds,
            "label_permutation": data.label_permutation,
        }, ckpt_path)
    epochs_bar.close()

    extra = {"device": str(device), "epoch_seconds": epoch_seconds,
             "tracked_train_images": int(len(data.track_index))}
    if data.label_permutation is not None:
        # The shuffle itself, so the run can be audited: shuffled[i] = original[perm[i]].
        extra["label_permutation_file"] = "label_permutation.npy"
        tmp = output_dir / "label_permutation.tmp.npy"
        np.save(tmp, data.label_permutation.numpy())
        os.replace(tmp, output_dir / "label_permutation.npy")
    metrics_path = write_metrics(output_dir, cfg.to_dict(), history, extra)
    save_figure(plot_curves(history, title=f"{cfg.model} on {cfg.dataset} ({describe_input(cfg)})"),
                output_dir / "curves.png")
    return json.loads(metrics_path.read_text())


def describe_input(cfg: TrainConfig) -> str:
    """``original``, ``low_r4``, ... plus ``shuffled labels``: what the model was trained on."""
    from hfc_det.views.frequency import view_name

    text = "original" if cfg.train_on == "original" else view_name(cfg.train_on, cfg.radius)
    return text + (", shuffled labels" if cfg.shuffle_labels else "")
