"""The Table 2 attack tool and the Fig. 7 kernel tool on a tiny trained digits model.

Reference numbers come from independent code in this file: accuracy by plain argmax,
smoothing with scipy's convolve2d, FGSM written out with autograd, roughness with loops.
"""
import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import convolve2d

from hfc_det.classification.attacks import fgsm, pgd
from hfc_det.classification.checkpoint import load_checkpoint
from hfc_det.classification.data import load_dataset
from hfc_det.classification.kernel_pictures import kernel_roughness
from helpers.tiny_classifier import load_tool, tiny_checkpoint

attack_tool = load_tool("attack_cifar")
kernel_tool = load_tool("visualize_kernels")
ROOT = Path(__file__).resolve().parents[2]
N = 96


@pytest.fixture(scope="module")
def setup():
    model, _ = load_checkpoint(tiny_checkpoint())
    _, _, x, y = load_dataset("digits")
    return model, x[:N], y[:N]


def scipy_smoothed(model, rho):
    """A copy of the tiny LeNet with its first conv smoothed kernel by kernel with scipy."""
    out = copy.deepcopy(model)
    conv = out.features[0]
    mask = np.full((3, 3), rho)
    mask[1, 1] = 1.0
    w = conv.weight.detach().double().numpy()
    new = np.stack([[convolve2d(k, mask, boundary="symm", mode="same") for k in row] for row in w])
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(new))
    return out


def argmax_accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def reference_fgsm(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    F.cross_entropy(model(x), y).backward()
    return (x + eps * x.grad.sign()).clamp(0, 1).detach()


def test_attacks_stay_in_budget_and_pgd_is_not_weaker(setup):
    model, x, y = setup
    eps = 0.1
    adv_f = fgsm(model, x, y, eps)
    adv_p = pgd(model, x, y, eps, steps=10, step_size=0.25 * eps)
    for adv in (adv_f, adv_p):
        assert (adv - x).abs().max() <= eps + 1e-6
        assert adv.min() >= 0 and adv.max() <= 1
    clean, acc_f, acc_p = (argmax_accuracy(model, v, y) for v in (x, adv_f, adv_p))
    assert acc_p <= acc_f < clean  # the tiny model is ~97% clean; eps 0.1 must hurt it


def test_attack_tool_writes_table(setup, tmp_path):
    model, x, y = setup
    ckpt = str(tiny_checkpoint())
    out = tmp_path / "table2"
    attack_tool.main(["--checkpoint", ckpt, ckpt, "--label", "natural", "copy", "--rho", "0", "1",
                      "--eps", "0", "0.1", "--limit", str(N), "--pgd-steps", "3", "--batch-size", "48",
                      "--device", "cpu", "--output", str(out)])
    summary = json.loads((out / "table2.json").read_text())
    rows = summary["rows"]
    assert [(r["model"], r["rho"]) for r in rows] == [("natural", 0), ("natural", 1), ("copy", 0), ("copy", 1)]
    assert summary["columns"] == ["clean", "fgsm_eps0", "fgsm_eps0.1", "pgd_eps0", "pgd_eps0.1"]
    assert summary["n_samples"] == N and summary["dataset"] == "digits"
    by_rho = {r["rho"]: r for r in rows[:2]}
    for rho, row in by_rho.items():
        ref_model = scipy_smoothed(model, rho)
        clean = argmax_accuracy(ref_model, x, y)
        assert row["clean"] == pytest.approx(clean)
        assert row["fgsm_eps0"] == row["pgd_eps0"] == pytest.approx(clean)  # eps 0: no attack
        # FGSM by hand; a sample may flip on float noise of a zero gradient: allow one.
        ref = argmax_accuracy(ref_model, reference_fgsm(ref_model, x, y, 0.1), y)
        assert abs(row["fgsm_eps0.1"] - ref) <= 1 / N + 1e-12
        assert row["pgd_eps0.1"] <= row["clean"]
    assert rows[2:] == [{**r, "model": "copy"} for r in rows[:2]]  # same weights, same numbers
    assert len(summary["paper_table2"]["rows"]) == 10
    md = (out / "table2.md").read_text()
    assert "| model | rho | clean | FGSM 0 | FGSM 0.1 | PGD 0 | PGD 0.1 |" in md
    assert f"| natural | 1 | {by_rho[1]['clean']:.3f} |" in md
    assert "| natural | 0 | 0.856 | 0.107 |" in md  # the paper's first row


def numpy_roughness(w: np.ndarray) -> float:
    diffs = []
    for kernel in w.reshape(-1, *w.shape[-2:]):
        h, wd = kernel.shape
        for i in range(h):
            for j in range(wd):
                for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    if 0 <= i + di < h and 0 <= j + dj < wd:
                        diffs.append(abs(kernel[i, j] - kernel[i + di, j + dj]))
    return float(np.mean(diffs) / np.mean(np.abs(w))) if diffs and np.abs(w).mean() else 0.0


@pytest.mark.parametrize("shape", [(4, 3, 3, 3), (2, 1, 5, 5), (1, 1, 1, 1), (3, 2, 1, 4)])
def test_roughness_matches_loops(shape):
    w = np.random.default_rng(0).normal(size=shape)
    assert kernel_roughness(torch.from_numpy(w)) == pytest.approx(numpy_roughness(w))
    checker = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).reshape(1, 1, 2, 2)
    assert kernel_roughness(checker) == pytest.approx(8 / 6)  # 4 pairs differ by 2, 2 by 0
    assert kernel_roughness(torch.ones(2, 3, 3, 3)) == 0.0


def test_kernel_tool_draws_panels(setup, tmp_path):
    model, _, _ = setup
    ckpt = str(tiny_checkpoint())
    out = tmp_path / "fig7"
    kernel_tool.main(["--checkpoint", ckpt, ckpt, "--label", "natural", "adversarial",
                      "--rho", "0", "0.5", "--output", str(out)])
    assert (out / "kernels.png").stat().st_size > 0
    panels = json.loads((out / "kernels.json").read_text())["panels"]
    assert [(p["column"], p["rho"]) for p in panels] == [
        ("natural", 0), ("natural", 0.5), ("adversarial", 0), ("adversarial", 0.5)]
    for p in panels:
        w = scipy_smoothed(model, p["rho"]).features[0].weight.detach().double().numpy()
        assert p["layer"] == "features.0" and p["shape"] == list(w.shape)
        np.testing.assert_allclose(p["weight_range"], [w.min(), w.max()], rtol=1e-5)
        assert p["roughness"] == pytest.approx(numpy_roughness(w), rel=1e-5)
        assert p["tiles"] == w.shape[0] * w.shape[1]  # one grey tile per (out, in) pair


@pytest.mark.parametrize("tool,argv,message", [
    ("attack", ["--checkpoint", "/nonexistent/run"], "no checkpoint"),
    ("attack", ["--label", "a", "b"], "--label gives 2 names for 1 checkpoints"),
    ("attack", ["--eps", "2"], "--eps values must be in [0, 1]"),
    ("attack", ["--rho", "-1"], "--rho values must be finite and >= 0"),
    ("attack", ["--dataset", "cifar10", "--data-root", "/nonexistent"], "3-channel"),
    ("kernel", ["--layer", "nope"], "no Conv2d named 'nope'"),
    ("kernel", ["--max-kernels", "0"], "--max-kernels must be >= 1"),
])
def test_user_errors_are_one_line(tmp_path, tool, argv, message):
    # a later option overrides the same option given earlier
    args = ["--checkpoint", str(tiny_checkpoint()), "--output", str(tmp_path / "o")] + argv
    with pytest.raises(SystemExit) as exc:
        (attack_tool if tool == "attack" else kernel_tool).main(args)
    text = str(exc.value.code)
    assert text.startswith("error: ") and message in text and "\n" not in text


def test_command_line_error_and_help(tmp_path):
    """The real script: --help explains itself; a mistake is one stderr line, exit 1."""
    script = str(ROOT / "tools" / "attack_cifar.py")
    bad = subprocess.run([sys.executable, script, "--checkpoint", str(tmp_path / "missing"),
                          "--output", str(tmp_path / "o")], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: no checkpoint") and len(bad.stderr.strip().splitlines()) == 1
    for module in (attack_tool, kernel_tool):
        with pytest.raises(SystemExit) as exc:
            module.parse_args(["--help"])
        assert exc.value.code == 0
