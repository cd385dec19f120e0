"""What the analysis tools (attack_cifar, visualize_kernels, find_hfc_examples) share:
loading checkpoints and the test set with one-line errors. The error-exit convention and
the device policy are :mod:`hfc_det.cli`'s.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..cli import UserError
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, read_checkpoint
from .data import dataset_info, load_dataset
from ..smoothing import first_conv

__all__ = [
    "load_models",
    "model_labels",
    "load_test_set",
    "check_nonnegative",
    "check_classifier_checkpoint",
    "add_data_arguments",
    "add_smoothed_models_arguments",
]


def add_smoothed_models_arguments(parser, role: str, rho_default: Sequence[float]) -> None:
    """``--checkpoint`` (several), ``--label`` and ``--rho``: models compared under smoothing.

    ``role`` says what each checkpoint becomes in the output ("row label", "column title").
    """
    parser.add_argument("--checkpoint", nargs="+", required=True, metavar="CKPT",
                        help="checkpoint.pth files or run folders from tools/train_cifar.py")
    parser.add_argument("--label", nargs="+", metavar="NAME",
                        help=f"{role} per checkpoint, e.g. natural adversarial (default: run folder names)")
    parser.add_argument("--rho", type=float, nargs="+", default=list(rho_default),
                        help="smoothing strengths of Eq. 3, >= 0; 0 = the model as trained "
                             "(default: %(default)s)")


def add_data_arguments(parser, what: str = "use", batch_size: int = 256) -> None:
    """The options every analysis tool shares: test set, device, batch size, output folder."""
    parser.add_argument("--dataset", help="test set (default: the one the checkpoints were trained on)")
    parser.add_argument("--data-root", default="data",
                        help="folder with the torchvision datasets (default: %(default)s)")
    parser.add_argument("--download", action="store_true", help="let torchvision download the dataset if missing")
    parser.add_argument("--limit", type=int, help=f"{what} only the first N test samples (default: all)")
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help="images per forward pass (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--output", required=True, help="output folder")


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


def check_nonnegative(name: str, values: Sequence[float], upper: Optional[float] = None) -> List[float]:
    """Values of a list option, each finite, >= 0 (and <= ``upper``), duplicates dropped."""
    out = []
    for v in values:
        if not (v >= 0 and v == v and v != float("inf")) or (upper is not None and v > upper):
            bound = f"in [0, {upper:g}]" if upper is not None else "finite and >= 0"
            raise UserError(f"{name} values must be {bound}, got {v:g}")
        if v not in out:
            out.append(v)
    return out


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
