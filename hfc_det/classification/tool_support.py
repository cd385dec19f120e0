"""What the analysis tools (attack_cifar, visualize_kernels, find_hfc_examples) share:
loading checkpoints and the test set with one-line errors. The error-exit convention and
the device policy are :mod:`hfc_det.cli.helpers`'s; the shared options and argument checks live in
:mod:`.tool_options` (no torch) and are re-exported here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from hfc_det.cli.helpers import UserError
from hfc_det.classification.checkpoint import CHECKPOINT_NAME, load_checkpoint, read_checkpoint
from hfc_det.classification.data import dataset_info, load_dataset
from hfc_det.analysis.smoothing import first_conv
# the parser's options and the argument checks need no torch: tools import them from there
from hfc_det.classification.tool_options import add_data_arguments, add_smoothed_models_arguments, check_nonnegative

__all__ = [
    "load_models",
    "model_labels",
    "load_test_set",
    "check_nonnegative",
    "check_classifier_checkpoint",
    "add_data_arguments",
    "add_smoothed_models_arguments",
]


def load_models(paths: Sequence[str], device: torch.device) -> List[Tuple[nn.Module, Dict[str, Any]]]:
    """``(model in eval mode, training config)`` per checkpoint file or run folder.

    Raises ``FileNotFoundError`` or :class:`~hfc_det.classification.checkpoint.CheckpointError`
    (a ``ValueError``), each one line naming the file."""
    return [load_checkpoint(path, device=device) for path in paths]


def model_labels(paths: Sequence[str], configs: Sequence[dict], labels: Optional[Sequence[str]]) -> List[str]:
    """Row labels: ``labels`` when given (one per checkpoint), else each run folder's name."""
    if labels:
        if len(labels) != len(paths):
            raise UserError(f"--label gives {len(labels)} names for {len(paths)} checkpoints")
        return list(labels)
    names = []
    for path in paths:
        p = Path(path)
        names.append(p.parent.name if p.is_file() else p.name)
    if len(set(names)) != len(names):  # two runs with the same folder name
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    return names


def load_test_set(
    dataset: Optional[str],
    configs: Sequence[dict],
    models: Sequence[nn.Module],
    data_root: str,
    download: bool,
    limit: Optional[int],
) -> Tuple[str, torch.Tensor, torch.Tensor]:
    """``(dataset name, test images, test labels)``: the first ``limit`` test samples.

    ``dataset`` defaults to the one the first checkpoint was trained on; every model's
    first layer must take the dataset's channel count.
    """
    if dataset is None:
        trained_on = {c.get("dataset") for c in configs} - {None}
        if len(trained_on) != 1:
            raise UserError(
                "give --dataset: the checkpoints do not name one dataset "
                f"(found {sorted(trained_on) or 'none'})"
            )
        dataset = trained_on.pop()
    info = dataset_info(dataset)
    for model in models:
        _, conv = first_conv(model)
        if conv.in_channels != info.channels:
            raise UserError(
                f"a model takes {conv.in_channels}-channel images but {dataset} has "
                f"{info.channels}-channel images"
            )
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}")
    _, _, test_x, test_y = load_dataset(dataset, data_root, download=download)
    if limit is not None:
        test_x, test_y = test_x[:limit], test_y[:limit]
    return dataset, test_x, test_y


def check_classifier_checkpoint(path, hint: str) -> Tuple[Path, Dict[str, Any]]:
    """``(file, raw checkpoint)`` of a ``tools/train_cifar.py`` run folder or file; a
    one-line :class:`UserError` (ending with ``hint``) for anything else, e.g. a detector's
    weights."""
    file = Path(path) / CHECKPOINT_NAME if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise UserError(f"--checkpoint: no {CHECKPOINT_NAME} at {file}")
    try:
        state = read_checkpoint(file, require=())  # the kind is checked below, with the hint
    except Exception as exc:  # noqa: BLE001  not a torch file at all
        raise UserError(f"--checkpoint {file} is not a torch checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or "model_name" not in state or "model_kwargs" not in state:
        raise UserError(f"--checkpoint {file} is not a tools/train_cifar.py checkpoint ({hint})")
    return file, state
