"""``train_cifar.py --track-views corrupt_fog_s3``: a corruption view tracked through training
(the view grammar), its accuracy recounted with the library's own ``corrupt`` call."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("imagecorruptions")
from imagecorruptions import corrupt  # noqa: E402

from helpers.cifar_fixture import call_tool_main, use_fixture_md5s, write_cifar10  # noqa: E402
from hfc_det.classification import load_checkpoint, load_dataset  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py
VIEW = "corrupt_fog_s3"
TOOL = Path(__file__).resolve().parents[2] / "tools" / "train_cifar.py"


def test_tracked_fog_view_matches_the_library_recount(tmp_path, monkeypatch):
    written = write_cifar10(tmp_path / "data", per_batch=12, n_test=16, seed=3)
    use_fixture_md5s(monkeypatch, written["md5"])
    out = tmp_path / "run"
    code = call_tool_main(TOOL, "--dataset", "cifar10", "--data-root", str(tmp_path / "data"), "--model", "lenet",
                          "--epochs", "1", "--batch-size", "16", "--track-radii", "4", "--track-views", VIEW,
                          "--output", str(out), "--quiet", "--threads", "1")
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["final"]["test_acc"]) == {"original", "low_r4", "high_r4", VIEW}

    model, _ = load_checkpoint(out)
    _, _, test_x, test_y = load_dataset("cifar10", tmp_path / "data")
    views = []
    for image in written["test_x"]:  # uint8 (3, 32, 32): the library wants (H, W, 3) RGB
        hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
        # no image ids in the classification toolkit: the documented stand-in is the pixels' SHA-256
        key = "sha256:" + hashlib.sha256(hwc.tobytes()).hexdigest()
        np.random.seed(int.from_bytes(hashlib.sha256(f"{key}|{VIEW}".encode()).digest()[:4], "little"))
        views.append(corrupt(hwc, corruption_name="fog", severity=3).transpose(2, 0, 1) / 255.0)
    with torch.no_grad():
        pred = model(torch.from_numpy(np.stack(views)).float()).argmax(1).numpy()
    assert metrics["final"]["test_acc"][VIEW] == pytest.approx(np.mean(pred == test_y.numpy()), abs=1e-12)


def test_corruption_view_on_8px_digits_is_one_line(tmp_path):
    code = call_tool_main(TOOL, "--dataset", "digits", "--track-views", VIEW, "--epochs", "1",
                          "--output", str(tmp_path / "x"), "--quiet")
    assert isinstance(code, str) and code.startswith("error: ") and "\n" not in code
    assert "corruption" in code
