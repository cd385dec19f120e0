"""Loading a detector's weights, refusing weights that leave part of the model random.

detectron2's ``DetectionCheckpointer`` loads ``.pth`` checkpoints and model-zoo ``.pkl``
files (a pickle of ``{"model": {name: numpy array}, "__author__": ..., "matching_heuristics":
True}``), and only logs the model's tensors the file leaves untouched (missing, or of another
shape: another architecture, another class count). Evaluated, such a model gives a near-zero
AP that looks like a finding. :func:`load_detector_weights` refuses it in one line unless
partial weights are allowed, and returns what it loaded either way.
"""
from __future__ import annotations

import logging
import os
import pickle
from typing import Dict, List

import torch

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.checkpoint import DetectionCheckpointer

__all__ = ["WeightsError", "load_detector_weights", "PKL_FORMAT"]

logger = logging.getLogger(__name__)

#: What a detectron2 weights ``.pkl`` holds (for messages).
PKL_FORMAT = ("a pickle of {'model': {name: numpy array}, '__author__': ..., 'matching_heuristics': True} "
              "(detectron2's model-zoo format), or save a .pth of {'model': state_dict}")
#: How many keys a one-line message names.
_SHOWN = 3


class WeightsError(ValueError):
    """``MODEL.WEIGHTS`` cannot be downloaded, read, or does not fit the model (one line)."""


#: Model tensors a checkpoint need not hold: detectron2 sets the pixel statistics from the
#: config, and a BatchNorm's step counter changes no output.
_NOT_WEIGHTS = ("pixel_mean", "pixel_std")


class _RecordingCheckpointer(DetectionCheckpointer):
    """detectron2's checkpointer, keeping the tensor names and shape mismatches it would only log.

    ``checkpoint_keys``: the names the model is offered (after detectron2's name matching for
    ``.pkl`` files), read where fvcore converts them to tensors. The model's own count of
    missing keys is not enough: ``FrozenBatchNorm2d`` fills absent running statistics with 0
    and 1 without a word."""

    incompatible = None
    checkpoint_keys: frozenset = frozenset()

    def _convert_ndarray_to_tensor(self, state_dict) -> None:
        super()._convert_ndarray_to_tensor(state_dict)
        self.checkpoint_keys = frozenset(k[len("module."):] if k.startswith("module.") else k for k in state_dict)

    def _log_incompatible_keys(self, incompatible) -> None:
        self.incompatible = incompatible
        super()._log_incompatible_keys(incompatible)


def _pkl_hint(weights: str) -> str:
    """For a local ``.pkl`` detectron2 does not read as its own format: what it must hold."""
    if not (weights.endswith(".pkl") and os.path.isfile(weights)):
        return ""
    try:
        with open(weights, "rb") as f:
            data = pickle.load(f, encoding="latin1")
    except Exception:  # noqa: BLE001  unreadable: detectron2's own error says so
        return ""
    if isinstance(data, dict) and "model" in data and "__author__" in data:
        return ""
    if isinstance(data, dict) and "model" in data:
        what = "a 'model' entry but no '__author__' (so detectron2 reads it as Caffe2 weights named 'model')"
    elif isinstance(data, dict):
        what = "names and arrays without a 'model' entry (so detectron2 reads it as Caffe2 weights)"
    else:
        what = f"a {type(data).__name__}"
    return f"; the .pkl holds {what}: a detectron2 weights .pkl is {PKL_FORMAT}"


def _keys(keys: List[str]) -> str:
    return ", ".join(keys[:_SHOWN]) + (", ..." if len(keys) > _SHOWN else "")


def load_detector_weights(model: torch.nn.Module, weights: str, allow_partial: bool = False,
                          hint_key: str = "MODEL.WEIGHTS ") -> Dict[str, object]:
    """Load ``weights`` (a path or a URL such as ``detectron2://...``) into ``model`` with
    detectron2's ``DetectionCheckpointer``; returns ``{"file", "uninitialised", "unused",
    "allowed_partial"}`` (key lists: the model's tensors the weights left as they were,
    missing or of another shape; the file's tensors no part of the model took).

    Every failure is a one-line :class:`WeightsError` naming the weights: a download that
    fails (offline: how to give a local file, ``hint_key`` + path), a file that is not a
    checkpoint, one none of whose tensors fit, and, unless ``allow_partial`` (then a
    warning), one that leaves any tensor uninitialised (the count and the first keys).

    detectron2's ``.pkl`` weights are Python pickles, which can run code when loaded: use
    only files from a source you trust (the model zoo, your own training).
    """
    remote = "://" in weights and not os.path.isfile(weights)
    checkpointer = _RecordingCheckpointer(model)
    try:
        checkpointer.load(weights)
    except Exception as exc:  # noqa: BLE001  every way the weights can fail becomes one line
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Weights only load failed" in text:  # torch's paragraph: the file is no tensor-only checkpoint
            text = "not readable with weights_only=True"
        if remote and isinstance(exc, OSError):
            raise WeightsError(
                f"cannot download the model weights {weights} ({text}); without internet, fetch the "
                f"file elsewhere and give its local path: {hint_key}/path/to/{weights.rsplit('/', 1)[-1]}"
            ) from None
        raise WeightsError(f"cannot load weights {weights}: not a detectron2 or PyTorch checkpoint "
                           f"({type(exc).__name__}: {text}){_pkl_hint(weights)}") from None
    incompatible = checkpointer.incompatible
    shapes = {k for k, *_ in (getattr(incompatible, "incorrect_shapes", []) or [])}
    # the tensors a checkpoint fills (parameters and persistent buffers)
    wanted = [k for k in model.state_dict() if k not in _NOT_WEIGHTS and not k.endswith("num_batches_tracked")]
    uninitialised = [k for k in wanted if k not in checkpointer.checkpoint_keys or k in shapes]
    unused = sorted(getattr(incompatible, "unexpected_keys", []) or [])
    total = len(wanted)
    if total and len(uninitialised) >= total:
        names = [k for k, _ in model.named_parameters()][:2]
        raise WeightsError(f"no tensor of the weights {weights} fits the model (its tensors are named like "
                           f"{', '.join(names)}): are they another architecture's?{_pkl_hint(weights)}")
    if uninitialised:
        what = (f"the weights {weights} leave {len(uninitialised)} of the model's {total} tensors uninitialised "
                f"(missing or of another shape: another architecture or class count?), first: {_keys(uninitialised)}")
        if not allow_partial:
            raise WeightsError(f"{what}; a partly random model's AP is no finding: give weights of this model, "
                               f"or --allow-partial-weights to evaluate it anyway{_pkl_hint(weights)}")
        logger.warning("%s; evaluating anyway (--allow-partial-weights)", what)
    return {"file": weights, "uninitialised": uninitialised, "unused": unused, "allowed_partial": bool(allow_partial)}
