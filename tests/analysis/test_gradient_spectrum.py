"""Gradient spectra against a closed-form gradient (softmax regression), finite differences
on LeNet, numpy's FFT, and the tool's outputs on two digits checkpoints."""
import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from helpers.cifar_fixture import call_tool_main
from helpers.tiny_classifier import tiny_checkpoint
from hfc_det.classification import load_checkpoint, load_dataset
from hfc_det.classification.gradients import classifier_gradient_spectrum, input_gradients
from hfc_det.analysis.gradient_spectrum import power_spectrum, radial_profile

pytestmark = pytest.mark.usefixtures("one_thread")
TOOL = __import__("pathlib").Path(__file__).resolve().parents[2] / "tools" / "gradient_spectrum.py"


def test_softmax_regression_gradient_and_spectrum_in_closed_form():
    torch.manual_seed(0)
    n, c, h, w, k = 5, 2, 6, 7, 4
    model = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, k)).double()
    x = torch.rand(n, c, h, w, dtype=torch.float64)
    y = torch.randint(0, k, (n,))
    weight, bias = (p.detach().numpy() for p in model[1].parameters())
    xf = x.reshape(n, -1).numpy()
    z = xf @ weight.T + bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(n), y.numpy()] -= 1.0
    want_grad = (p @ weight).reshape(n, c, h, w)  # dCE/dx = W^T (softmax(z) - onehot(y))
    grad = input_gradients(model, x, y)
    np.testing.assert_allclose(grad.numpy(), want_grad, atol=1e-6)
    f = np.fft.fft2(want_grad)
    want = np.fft.fftshift((np.abs(f) ** 2).sum(axis=1), axes=(-2, -1)).mean(axis=0)
    got = classifier_gradient_spectrum(model.float(), x.float(), y, batch_size=2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-9)


def test_lenet_gradient_against_finite_differences():
    model, _ = load_checkpoint(tiny_checkpoint())
    model = model.double()
    _, _, x, y = load_dataset("digits")
    x, y = x[:3].double(), y[:3]
    grad = input_gradients(model, x, y)
    # batch independence: one image alone gives the same gradient
    torch.testing.assert_close(input_gradients(model, x[1:2], y[1:2]), grad[1:2])
    loss = lambda img, lab: nn.functional.cross_entropy(model(img[None]), lab[None]).item()  # noqa: E731
    for n, (i, j) in [(0, (3, 4)), (1, (2, 5)), (2, (6, 1))]:
        step = torch.zeros_like(x[n])
        step[0, i, j] = 1e-6
        fd = (loss(x[n] + step, y[n]) - loss(x[n] - step, y[n])) / 2e-6
        assert grad[n, 0, i, j].item() == pytest.approx(fd, rel=1e-4, abs=1e-8)


def test_radial_profile_against_a_loop():
    rng = np.random.default_rng(1)
    s = rng.random((9, 12))
    r, mean, cycles = radial_profile(s)
    for radius in (0, 1, 3, 5):
        ring = [s[a, b] for a in range(9) for b in range(12) if round(np.hypot(a - 4, b - 6)) == radius]
        assert mean[list(r).index(radius)] == pytest.approx(np.mean(ring))
    assert cycles[2] == pytest.approx(r[2] / 9)
    p = power_spectrum(torch.ones(1, 3, 4, 4))
    assert p[0, 2, 2] == pytest.approx(3 * 16 ** 2) and p.sum() == pytest.approx(3 * 16 ** 2)


def test_tool_two_checkpoints_on_one_profile(tmp_path):
    a, b = tiny_checkpoint(), tiny_checkpoint(seed=1)
    out = tmp_path / "spectra"
    assert call_tool_main(TOOL, "--checkpoint", str(a), str(b), "--label", "s0", "s1", "--max-images", "60",
                          "--output", str(out), "--no-progress") == 0
    stack = np.load(out / "spectrum.npy")
    assert stack.shape == (2, 8, 8)
    model, _ = load_checkpoint(a)
    _, _, x, y = load_dataset("digits")
    g = input_gradients(model, x[:60], y[:60]).numpy().astype(np.float64)
    want = np.fft.fftshift((np.abs(np.fft.fft2(g)) ** 2).sum(axis=1), axes=(-2, -1)).mean(axis=0)
    np.testing.assert_allclose(stack[0], want, rtol=1e-4)
    rows = list(csv.DictReader(open(out / "radial_profile.csv")))
    assert list(rows[0]) == ["radius_bins", "cycles_per_pixel", "s0", "s1"]
    assert float(rows[0]["s0"]) == pytest.approx(want[4, 4], rel=1e-6)
    record = json.loads((out / "spectrum.json").read_text())
    assert record["labels"] == ["s0", "s1"] and record["images"] == 60
    assert (out / "spectrum.png").stat().st_size > 5000


def test_tool_refuses_a_detector_checkpoint(tmp_path):
    f = tmp_path / "model_final.pth"
    torch.save({"model": {}, "iteration": 1}, f)
    msg = call_tool_main(TOOL, "--checkpoint", str(f), "--output", str(tmp_path / "o"))
    assert msg.startswith("error: ") and "not a tools/train_cifar.py checkpoint" in msg and "\n" not in msg


def test_checkpoint_spectra_against_numpy(tmp_path):
    """The package function behind the tool: labels default to the runs' names, spectra are
    numpy's FFT of the input gradients."""
    from hfc_det.classification.gradients import checkpoint_spectra

    a = tiny_checkpoint()
    spectra, labels, extra = checkpoint_spectra([str(a)], max_images=20, batch_size=7, device="cpu", progress=False)
    model, _ = load_checkpoint(a)
    _, _, x, y = load_dataset("digits")
    g = input_gradients(model, x[:20], y[:20]).numpy().astype(np.float64)
    want = np.fft.fftshift((np.abs(np.fft.fft2(g)) ** 2).sum(axis=1), axes=(-2, -1)).mean(axis=0)
    np.testing.assert_allclose(spectra[0], want, rtol=1e-4)
    assert len(labels) == 1 and labels[0] and extra == {"dataset": "digits", "images": 20, "checkpoints": [str(a)]}
