"""The classification analysis tools' shared options and argument checks, without torch.

``tools/attack_cifar.py``, ``tools/visualize_kernels.py`` and ``tools/find_hfc_examples.py``
build their parsers and check their values with these before torch loads, so ``--help``
and argument errors answer at once. :mod:`.tool_support` (which loads models and data)
re-exports them.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from hfc_det.cli.helpers import UserError

__all__ = ["add_data_arguments", "add_smoothed_models_arguments", "check_nonnegative"]


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
