"""A tiny synthetic CIFAR-10 in the real on-disk format, for torchvision's own loader.

``cifar-10-batches-py/`` holds ``data_batch_1..5``, ``test_batch`` and ``batches.meta``,
each a pickled dict like the original (``data``: uint8 ``(N, 3072)`` rows in channel-major
R, G, B order; ``labels``: list of int; ``batch_label``, ``filenames``; the meta file has
``label_names``, ``num_cases_per_batch``, ``num_vis``). torchvision unpickles with
``encoding="latin1"``, under which the original's Python-2 string keys become ``str``: so
the fixture pickles ``str`` keys (protocol 2, as the original).

torchvision's ``CIFAR10._check_integrity`` compares each file's md5 with the published
one. The fixture cannot match those, so :func:`use_fixture_md5s` swaps the class's md5
table for the fixture's own: the real integrity check still runs on the real files.
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FOLDER = "cifar-10-batches-py"


def _images(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """(N, 3, 32, 32) uint8: a class-dependent colour plus noise, so a model can learn it."""
    base = np.linspace(20, 235, 10)[labels][:, None, None, None]
    channel_shift = np.array([0, 40, -40])[None, :, None, None]
    x = base + channel_shift + rng.normal(0, 20, size=(len(labels), 3, 32, 32))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _dump(path: Path, obj) -> str:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_cifar10(root, per_batch: int = 20, n_test: int = 30, seed: int = 0) -> Dict[str, object]:
    """Write the fixture under ``root/cifar-10-batches-py``.

    Returns ``{"md5": {filename: md5}, "train_x": (5*per_batch, 3, 32, 32) uint8,
    "train_y": (5*per_batch,) int64, "test_x", "test_y"}`` — what was written, in the
    original's order (batch 1 first).
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    md5, xs, ys = {}, [], []
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        labels = rng.integers(0, 10, size=n)
        images = _images(rng, labels)
        md5[name] = _dump(folder / name, {
            "batch_label": f"synthetic {name}",
            "labels": [int(v) for v in labels],
            "data": images.reshape(n, 3072),
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        })
        xs.append(images)
        ys.append(labels.astype(np.int64))
    md5["batches.meta"] = _dump(folder / "batches.meta", {
        "label_names": LABEL_NAMES, "num_cases_per_batch": per_batch, "num_vis": 3072})
    return {"md5": md5, "train_x": np.concatenate(xs[:5]), "train_y": np.concatenate(ys[:5]),
            "test_x": xs[5], "test_y": ys[5]}


def write_mnist_like(root, folder: str = "MNIST", n_train: int = 12, n_test: int = 8, seed: int = 0) -> Dict[str, np.ndarray]:
    """torchvision's MNIST/FashionMNIST raw layout: ``root/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
    in the big-endian IDX format (magic 2051 for images, 2049 for labels); no md5 is checked."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(np.array([2051, n, 28, 28], ">i4").tobytes() + x.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(np.array([2049, n], ">i4").tobytes() + y.tobytes())
        out[f"{split}_x"], out[f"{split}_y"] = x, y.astype(np.int64)
    return out


def use_fixture_md5s(monkeypatch, md5: Dict[str, str]) -> None:
    """Point torchvision's CIFAR10 md5 table at the fixture's files (see module doc)."""
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})


def expected_float(x: np.ndarray) -> np.ndarray:
    """What load_dataset must return for uint8 (N, 3, 32, 32) images: float32 in [0, 1]."""
    return x.astype(np.float32) / 255.0


__all__: Tuple[str, ...] = ("write_cifar10", "use_fixture_md5s", "expected_float", "call_tool_main", "LABEL_NAMES", "FOLDER")


def call_tool_main(tool_path, *args):
    """Run a ``tools/*.py`` script's ``main(argv)`` in this process (no new interpreter and
    torch start-up per call); returns its return value or the ``sys.exit`` message/code."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(tool_path).stem + "_under_test", tool_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return module.main(list(args))
    except SystemExit as exc:
        return exc.code
