"""The run checkpoint: one ``checkpoint.pth`` per output folder, rewritten every epoch.

Format (a plain dict, ``torch.save``)::

    {"model": state_dict, "model_name": str, "model_kwargs": {num_classes, in_channels, bn, dropout},
     "config": {...training config...}, "epoch": last finished epoch (1-based),
     "optimizer": state_dict, "rng": {...}, "history": [...], "label_permutation": tensor | None}

Every checkpoint is read by :func:`read_checkpoint` with ``torch.load(weights_only=True)``:
tensors, dicts, lists, tuples, numbers and strings only, so a ``checkpoint.pth`` someone
shared cannot run code when it is opened (a plain ``torch.load`` unpickles whatever the file
names). The RNG states are stored in those types (:func:`portable_rng_state`); checkpoints
written before that hold numpy's state as numpy arrays, and the few numpy types that needs
(array and scalar reconstruction, dtypes: data, never code) are allowed for reading them.
"""
from __future__ import annotations

import errno
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from hfc_det.utils.atomic import write_atomic
from hfc_det.classification.models import build_model

__all__ = ["save_checkpoint", "read_checkpoint", "load_checkpoint", "state_dict_misfit", "CHECKPOINT_NAME", "CheckpointError",
           "MODEL_KEYS", "RESUME_KEYS", "portable_rng_state", "numpy_rng_state"]

CHECKPOINT_NAME = "checkpoint.pth"
#: What a model reader relies on (every checkpoint of tools/train_cifar.py holds these).
MODEL_KEYS = ("model", "model_name", "model_kwargs", "config")
#: What a resumed training run relies on besides.
RESUME_KEYS = MODEL_KEYS + ("epoch", "optimizer", "rng", "history")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def _numpy_globals():
    """numpy's array/scalar reconstruction and dtypes: what an older checkpoint's
    ``np.random.get_state()`` needs. They rebuild data; none of them calls user code."""
    core = getattr(np, "_core", None) or np.core
    dtypes = {type(np.dtype(t)) for t in (np.uint32, np.int64, np.float64, np.float32, np.bool_)}
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype, *dtypes]


def portable_rng_state(numpy_state) -> tuple:
    """``np.random.get_state()`` with its key array as an int64 tensor (weights_only-safe);
    ``np.random.set_state`` accepts the result after :func:`numpy_rng_state`."""
    name, keys, pos, has_gauss, gauss = numpy_state
    return (str(name), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(gauss))


def numpy_rng_state(state) -> tuple:
    """The inverse of :func:`portable_rng_state` (an old checkpoint's ndarray form passes through)."""
    name, keys, pos, has_gauss, gauss = state
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    return (name, keys.astype(np.uint32), pos, has_gauss, gauss)


def save_checkpoint(state: Dict[str, Any], path) -> Path:
    """Write ``state`` to ``path`` atomically (temp file, then rename): a crash mid-write
    leaves the previous checkpoint intact, never a truncated one that a resume would trust."""
    return write_atomic(path, lambda f: torch.save(state, f))


def _why_unreadable(exc: BaseException) -> str:
    found = re.search(r"GLOBAL ([\w.]+)", str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
    if found:  # the weights-only unpickler met a reference to Python code, and did not call it
        return (f"it holds Python objects beyond tensors, numbers and strings ({found.group(1)}), and "
                f"opening it could run code: refused (only load checkpoints from tools/train_cifar.py)")
    if isinstance(exc, EOFError):
        return "the file is empty or cut short"
    if isinstance(exc, OSError) and exc.errno in (errno.EINVAL, errno.EISDIR):
        return f"it cannot be read as a file ({exc.strerror or exc})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, (RuntimeError, zipfile.BadZipFile)) or isinstance(exc, pickle.UnpicklingError):
        return "not a PyTorch checkpoint, or a truncated one"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def read_checkpoint(path, device="cpu", require: Sequence[str] = MODEL_KEYS) -> Dict[str, Any]:
    """The raw checkpoint dict; ``path`` may be the file or the run folder; ``require``:
    the keys the caller relies on (:data:`MODEL_KEYS`, or :data:`RESUME_KEYS` to resume).

    Raises ``FileNotFoundError`` when there is none, and :class:`CheckpointError` (one
    line naming the file) for anything else: an empty, random, truncated or not-a-file
    path, a file that holds Python objects beyond tensors and plain values (refused
    without running them), or a dict without the keys a checkpoint of this project has.
    """
    path = Path(path)
    if path.is_dir() and path.name != CHECKPOINT_NAME:  # a run folder (a folder named checkpoint.pth is an error)
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001  every way a file can fail to load becomes one line
        raise CheckpointError(f"cannot read checkpoint {path}: {_why_unreadable(exc)}") from None
    missing = [k for k in require if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint of tools/train_cifar.py (no {', '.join(missing)})")
    return state


def state_dict_misfit(model: nn.Module, weights: Mapping[str, Any], shown: int = 3) -> str:
    """What keeps ``weights`` from loading into ``model`` strictly, in one line: the counts and
    first names of missing keys, unexpected keys and tensors of another shape; ``""`` when
    they fit."""
    if not isinstance(weights, Mapping):
        return f"its 'model' entry is a {type(weights).__name__}, not a dict of tensors"
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    reshaped = [f"{k} {tuple(getattr(weights[k], 'shape', ()))} (model {tuple(own[k].shape)})"
                for k in own if k in weights and tuple(getattr(weights[k], "shape", ())) != tuple(own[k].shape)]
    parts = [f"{len(found)} {what}: {', '.join(found[:shown])}{', ...' if len(found) > shown else ''}"
             for what, found in (("missing", missing), ("of another shape", reshaped), ("unexpected", unexpected))
             if found]
    return "; ".join(parts)


def load_checkpoint(path, device="cpu") -> Tuple[nn.Module, Dict[str, Any]]:
    """Rebuild the trained model from a checkpoint file or run folder.

    Returns ``(model, config)``: the model on ``device`` in eval mode, and the training
    config dict it was trained with (``config["train_on"]``, ``config["radius"]``, ...).
    Raises :class:`CheckpointError` when the weights do not fit the model it names.
    """
    state = read_checkpoint(path, device)
    try:
        model = build_model(state["model_name"], **state["model_kwargs"])
        misfit = state_dict_misfit(model, state["model"])
        if misfit:
            raise CheckpointError(f"checkpoint {path} does not fit the model it names ({state['model_name']}): {misfit}")
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} does not fit the model it names: {first}") from None
    return model.to(device).eval(), dict(state["config"])
