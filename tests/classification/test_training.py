"""Training runs on the bundled digits: outputs, resume, the paper's direction, the CLI."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.cifar_fixture import call_tool_main
from hfc_det.classification import load_checkpoint, load_dataset
from hfc_det.classification.config import TrainConfig
from hfc_det.classification.training import TrainingError, train

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "train_cifar.py"


# Tiny 8x8 models: one thread avoids OpenMP spin contention on a shared machine.
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def small(**kw):
    base = dict(dataset="digits", model="lenet", batch_size=64, lr=1e-3, epochs=2, seed=0,
                track_train_size=300, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_outputs_schema_and_accuracy_matches_independent_count(tmp_path):
    cfg = small(epochs=2, track_radii=[2, 3])
    metrics = train(cfg, tmp_path, progress=False)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == metrics
    views = ["original", "low_r2", "high_r2", "low_r3", "high_r3"]
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    for entry in metrics["history"] + [metrics["final"]]:
        for split in ("train_acc", "test_acc"):
            assert sorted(entry[split]) == sorted(views)
            assert all(0.0 <= a <= 1.0 for a in entry[split].values())
    assert metrics["final"]["test_acc"] == metrics["history"][-1]["test_acc"]
    assert metrics["config"]["dataset"] == "digits" and metrics["tracked_train_images"] == 300

    # Recount the final test accuracy on the originals with the saved model.
    model, config = load_checkpoint(tmp_path)
    assert config == cfg.to_dict() and not model.training
    _, _, test_x, test_y = load_dataset("digits")
    with torch.no_grad():
        pred = model(test_x).argmax(1).numpy()
    assert metrics["final"]["test_acc"]["original"] == pytest.approx(np.mean(pred == test_y.numpy()), abs=1e-12)

    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert len(rows) == 2
    for row, entry in zip(rows, metrics["history"]):
        assert float(row["loss"]) == entry["loss"]
        assert all(float(row[f"test_{v}"]) == entry["test_acc"][v] for v in views)
    assert (tmp_path / "curves.png").stat().st_size > 10000
    assert not list(tmp_path.glob("*.tmp*"))


def test_tracked_band_and_blur_views_match_a_numpy_recount(tmp_path):
    cfg = small(epochs=1, track_radii=[2], track_views=["band_r1-3", "blur_s1"])
    metrics = train(cfg, tmp_path, progress=False)
    assert set(metrics["final"]["test_acc"]) == {"original", "low_r2", "high_r2", "band_r1-3", "blur_s1"}
    model, _ = load_checkpoint(tmp_path)
    _, _, test_x, test_y = load_dataset("digits")
    x = test_x.numpy().astype(np.float64)
    h, w = x.shape[-2:]
    i, j = np.ogrid[:h, :w]
    d = np.hypot(i - h // 2, j - w // 2)
    f = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    band = np.real(np.fft.ifft2(np.fft.ifftshift(f * ((d >= 1) & (d < 3)), axes=(-2, -1))))
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    blur = np.real(np.fft.ifft2(np.fft.fft2(x) * np.exp(-2 * np.pi ** 2 * (fy ** 2 + fx ** 2))))
    for name, view in (("band_r1-3", band), ("blur_s1", blur)):
        with torch.no_grad():
            pred = model(torch.from_numpy(view).float()).argmax(1).numpy()
        assert metrics["final"]["test_acc"][name] == pytest.approx(np.mean(pred == test_y.numpy()), abs=1.5 / len(test_y))


def test_resume_gives_the_same_history_as_a_straight_run(tmp_path):
    # Dropout, mix-up and BatchNorm exercise every random stream that a resume must restore.
    cfg = small(epochs=3, dropout=0.3, mixup_alpha=1.0, bn=True, track_radii=[2])
    straight = train(cfg, tmp_path / "straight", progress=False)
    first = small(epochs=1, dropout=0.3, mixup_alpha=1.0, bn=True, track_radii=[2])
    train(first, tmp_path / "split", progress=False)
    with pytest.raises(TrainingError, match="--resume"):
        train(cfg, tmp_path / "split", progress=False)
    resumed = train(cfg, tmp_path / "split", resume=True, progress=False)
    assert resumed["history"] == straight["history"]
    a = torch.load(tmp_path / "straight" / "checkpoint.pth", weights_only=False)["model"]
    b = torch.load(tmp_path / "split" / "checkpoint.pth", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_another_configuration(tmp_path):
    train(small(epochs=1, track_radii=[2]), tmp_path, progress=False)
    with pytest.raises(TrainingError, match="lr=0.001"):
        train(small(epochs=2, lr=1e-2, track_radii=[2]), tmp_path, resume=True, progress=False)


def test_shuffled_labels_are_saved_and_used(tmp_path):
    metrics = train(small(epochs=1, shuffle_labels=True, label_seed=4, track_radii=[2]), tmp_path, progress=False)
    perm = np.load(tmp_path / "label_permutation.npy")
    assert sorted(perm.tolist()) == list(range(1347))
    assert metrics["label_permutation_file"] == "label_permutation.npy"
    expected = torch.randperm(1347, generator=torch.Generator().manual_seed(4)).numpy()
    np.testing.assert_array_equal(perm, expected)


def test_adversarial_training_runs(tmp_path):
    metrics = train(small(epochs=1, adv_train=True, adv_steps=2, track_radii=[3]), tmp_path, progress=False)
    assert 0.0 <= metrics["final"]["test_acc"]["original"] <= 1.0


def _digits_pair(tmp_path, epochs):
    accs = {}
    for kind in ("low", "high"):
        cfg = small(train_on=kind, radius=3, epochs=epochs, track_train_size=0, track_radii=[3])
        accs[kind] = train(cfg, tmp_path / kind, progress=False)["final"]
    return accs


def test_lfc_trained_generalises_far_better_than_hfc_trained(tmp_path):
    # Table 1's direction on a real dataset: LFC keeps what generalises, HFC does not.
    accs = _digits_pair(tmp_path, epochs=8)
    assert accs["low"]["test_acc"]["original"] > 0.8
    assert accs["high"]["test_acc"]["original"] < 0.4
    assert accs["high"]["fit_acc"] > 0.5  # HFC is learnable: it fits its own input


@pytest.mark.slow
def test_quick_command_from_the_issue(tmp_path):
    results = {}
    for kind in ("low", "high"):
        out = tmp_path / kind
        cmd = [sys.executable, str(TOOL), "--dataset", "digits", "--model", "lenet", "--train-on", kind,
               "--radius", "3", "--epochs", "40", "--batch-size", "64", "--lr", "1e-3", "--seed", "0",
               "--output", str(out), "--quiet", "--threads", "1"]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        results[kind] = json.loads((out / "metrics.json").read_text())["final"]["test_acc"]["original"]
    assert results["low"] > 0.9 and results["high"] < 0.3


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)


def tool_main(*args):
    return call_tool_main(TOOL, *args)


def test_cli_short_run_and_resume(tmp_path):
    out = tmp_path / "run"
    common = ["--dataset", "digits", "--model", "lenet", "--batch-size", "128", "--lr", "1e-3",
              "--track-radii", "2", "--track-train-size", "200", "--output", str(out), "--quiet", "--threads", "1"]
    assert tool_main(*common, "--epochs", "1") == 0
    assert tool_main("--output", str(out), "--resume", "--epochs", "2", "--quiet", "--threads", "1") == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]


@pytest.mark.parametrize("args,message", [
    (["--dataset", "digits", "--train-on", "low", "--radius", "9"], "radius 9.0 makes no sense for 8x8 images"),
    (["--dataset", "digits", "--train-on", "high"], "needs --radius"),
    (["--dataset", "digits", "--track-radii", "0"], "tracked radius"),
    (["--dataset", "cifar10", "--data-root", "/nonexistent"], "/nonexistent/cifar-10-batches-py"),
    (["--config", "/nonexistent.yaml"], "config file /nonexistent.yaml not found"),
    (["--dataset", "digits", "--threads", "0"], "--threads"),
    (["--dataset", "digits", "--track-views", "band_r3-1"], "--track-views: view 'band_r3-1': a band needs 0 <= a < b"),
    (["--dataset", "digits", "--track-views", "blur_s-1"], "sigma must be > 0"),
])
def test_cli_user_mistakes_are_one_line_errors(tmp_path, args, message):
    code = tool_main(*args, "--output", str(tmp_path / "x"), "--epochs", "1", "--quiet")
    assert isinstance(code, str) and code.startswith("error: ") and message in code and "\n" not in code
    assert not (tmp_path / "x" / "checkpoint.pth").exists()


def test_cli_error_reaches_stderr_as_one_line(tmp_path):
    done = run_tool("--dataset", "digits", "--train-on", "low", "--radius", "9", "--output", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("error: radius 9.0") and done.stderr.count("\n") == 1


def test_cli_unknown_model_is_rejected_by_the_parser(tmp_path):
    done = run_tool("--model", "resnet50", "--output", str(tmp_path))
    assert done.returncode == 2 and "invalid choice: 'resnet50'" in done.stderr


def test_cli_help():
    done = run_tool("--help")
    assert done.returncode == 0 and "--train-on" in done.stdout and "--resume" in done.stdout
