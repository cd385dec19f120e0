"""A small LeNet trained on scikit-learn's bundled 8x8 digits, saved as a project checkpoint.

Shared by the analysis-tool tests (attacks table, kernel pictures, Fig. 2 finder): seconds
on a CPU, no download, and accurate enough (~95% test accuracy) that attacks and frequency
views change its answers in measurable ways.
"""
import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from hfc_det.classification.checkpoint import save_checkpoint
from hfc_det.classification.data import load_dataset
from hfc_det.classification.models import build_model


def train_tiny_digits_model(folder: Path, epochs: int = 12, seed: int = 0, adversarial_eps: float = 0.0) -> Path:
    """Train LeNet on digits with Adam (batch 128) and save ``folder/checkpoint.pth``.

    ``adversarial_eps > 0`` trains on FGSM examples at that budget (a cheap stand-in for
    the paper's PGD adversarial training, enough to change the first-layer kernels).
    """
    threads = torch.get_num_threads()
    # One thread: on a shared 2-core machine, more threads for so small a net only fight.
    torch.set_num_threads(1)
    try:
        return _train(Path(folder), epochs, seed, adversarial_eps)
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def tiny_checkpoint(seed: int = 0, adversarial_eps: float = 0.0) -> Path:
    """Train once per test session (per seed/eps) into a temporary folder; returns the file."""
    folder = Path(tempfile.mkdtemp(prefix=f"tiny_digits_s{seed}_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return train_tiny_digits_model(folder, seed=seed, adversarial_eps=adversarial_eps)


def _train(folder: Path, epochs: int, seed: int, adversarial_eps: float) -> Path:
    from hfc_det.classification.attacks import fgsm

    torch.manual_seed(seed)
    train_x, train_y, _, _ = load_dataset("digits")
    kwargs = {"num_classes": 10, "in_channels": 1, "bn": True, "dropout": 0.0}
    model = build_model("lenet", **kwargs)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=gen)
        for s in range(0, len(order), 128):
            idx = order[s : s + 128]
            x, y = train_x[idx], train_y[idx]
            if adversarial_eps > 0:
                model.eval()
                x = fgsm(model, x, y, adversarial_eps)
            model.train()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    path = folder / "checkpoint.pth"
    save_checkpoint({"model": model.state_dict(), "model_name": "lenet", "model_kwargs": kwargs,
                     "config": {"dataset": "digits", "model": "lenet", "train_on": "original"}}, path)
    return path


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (tools/ is a folder of scripts, not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"hfc_tool_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
