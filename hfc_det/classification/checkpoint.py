"""The run checkpoint: one ``checkpoint.pth`` per output folder, rewritten every epoch.

Format (a plain dict, ``torch.save``)::

    {"model": state_dict, "model_name": str, "model_kwargs": {num_classes, in_channels, bn, dropout},
     "config": {...training config...}, "epoch": last finished epoch (1-based),
     "optimizer": state_dict, "rng": {...}, "history": [...], "label_permutation": tensor | None}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

import torch
from torch import nn

from ..atomic import write_atomic
from .models import build_model

__all__ = ["save_checkpoint", "read_checkpoint", "load_checkpoint", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.pth"


def save_checkpoint(state: Dict[str, Any], path) -> Path:
    """Write ``state`` to ``path`` atomically (temp file, then rename): a crash mid-write
    leaves the previous checkpoint intact, never a truncated one that a resume would trust."""
    return write_atomic(path, lambda f: torch.save(state, f))


def read_checkpoint(path, device="cpu") -> Dict[str, Any]:
    """The raw checkpoint dict; ``path`` may be the file or the run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    # weights_only=False: the checkpoint holds RNG states and plain Python config values.
    return torch.load(path, map_location=device, weights_only=False)


def load_checkpoint(path, device="cpu") -> Tuple[nn.Module, Dict[str, Any]]:
    """Rebuild the trained model from a checkpoint file or run folder.

    Returns ``(model, config)``: the model on ``device`` in eval mode, and the training
    config dict it was trained with (``config["train_on"]``, ``config["radius"]``, ...).
    """
    state = read_checkpoint(path, device)
    model = build_model(state["model_name"], **state["model_kwargs"])
    model.load_state_dict(state["model"])
    return model.to(device).eval(), dict(state["config"])
