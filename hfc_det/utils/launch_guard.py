"""``--num-gpus N`` (detectron2's ``launch``: one process per GPU) needs ``N`` CUDA devices:
detectron2's workers assert CUDA and use NCCL. Without them a tool refuses in one line
before any process starts (:func:`check_num_gpus`), instead of ``N`` workers dying with a
long ``ProcessExitedException``. (Several CPU processes, for tests, stay an internal path:
``torch.multiprocessing.spawn`` with a gloo process group, as tests/evaluation does.)

torch is imported only when ``N > 1`` (layer 1).
"""
from __future__ import annotations

__all__ = ["check_num_gpus"]


def check_num_gpus(num_gpus: int, device: str = "") -> None:
    """Refuse (one-line ``ValueError``) ``num_gpus`` processes per machine without as many
    CUDA devices. ``device``: the config's ``MODEL.DEVICE``, for the message."""
    n = int(num_gpus)
    if n <= 1:  # one process: launch runs it in this one
        return
    import torch

    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if found < n:
        on = f" (MODEL.DEVICE {device})" if device else ""
        raise ValueError(f"--num-gpus {n} starts one process per CUDA device, but {found} CUDA device"
                         f"{'' if found == 1 else 's'} {'is' if found == 1 else 'are'} available{on}: "
                         f"use --num-gpus {max(found, 1)} or fewer")
