"""The Fig. 2 example finder returns exactly the samples that meet its definition.

The reference predictions are computed independently: the views with numpy's FFT
(fftshift, the strict-radius mask, ifft, real part; reference notes Section 3.1) and
numpy's SVD, the model run sample by sample.
"""
import csv
import json

import numpy as np
import pytest
import torch

from hfc_det.classification.checkpoint import load_checkpoint
from hfc_det.classification.data import load_dataset
from hfc_det.classification.hfc_examples import select_hfc_examples, view_probabilities
from helpers.tiny_classifier import load_tool, tiny_checkpoint

find_tool = load_tool("find_hfc_examples")

N = 150


def numpy_low_high(image: np.ndarray, r: float):
    """Per channel, as the paper: fftshift(fft2), mask dist < r from (H//2, W//2), ifft."""
    h, w = image.shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    mask = np.sqrt((yy - h // 2) ** 2 + (xx - w // 2) ** 2) < r
    spec = np.fft.fftshift(np.fft.fft2(image), axes=(-2, -1))
    low = np.real(np.fft.ifft2(np.fft.ifftshift(spec * mask, axes=(-2, -1))))
    high = np.real(np.fft.ifft2(np.fft.ifftshift(spec * (1 - mask), axes=(-2, -1))))
    return low, high


def numpy_top_tail(image: np.ndarray, k: int):
    top = np.empty_like(image)
    for c in range(image.shape[0]):
        u, s, vh = np.linalg.svd(image[c])
        top[c] = (u[:, :k] * s[:k]) @ vh[:k]
    return top, image - top


@pytest.fixture(scope="module")
def setup():
    model, _ = load_checkpoint(tiny_checkpoint())
    _, _, x, y = load_dataset("digits")
    return model, x[:N], y[:N]


def reference_predictions(model, images, transform):
    """(pred, conf) per sample for original, smooth and detail views (numpy views)."""
    views = {"original": [], "smooth": [], "detail": []}
    for img in images.double().numpy():
        smooth, detail = transform(img)
        for key, view in (("original", img), ("smooth", smooth), ("detail", detail)):
            views[key].append(view)
    out = {}
    with torch.no_grad():
        for key, stack in views.items():
            p = torch.softmax(model(torch.from_numpy(np.stack(stack)).float()), dim=1)
            out[key] = list(zip(p.argmax(1).tolist(), p.max(1).values.tolist()))
    return out


@pytest.mark.parametrize("split,parameter", [("frequency", 2), ("frequency", 3), ("svd", 1), ("svd", 2)])
def test_selection_matches_independent_definition(setup, split, parameter):
    model, x, y = setup
    if split == "frequency":
        names = ["original", f"low_r{parameter}", f"high_r{parameter}"]
        ref = reference_predictions(model, x, lambda img: numpy_low_high(img, parameter))
    else:
        names = ["original", f"svd_top{parameter}", f"svd_tail{parameter}"]
        ref = reference_predictions(model, x, lambda img: numpy_top_tail(img, parameter))
    probs = view_probabilities(model, x, names, batch_size=64)
    rows = select_hfc_examples(probs, y, split, parameter)
    expected = [
        i for i in range(N)
        if ref["original"][i][0] == y[i] and ref["detail"][i][0] == y[i] and ref["smooth"][i][0] != y[i]
    ]
    assert [r["index"] for r in rows] == expected
    for r in rows:
        i = r["index"]
        assert r["label"] == int(y[i])
        for key in ("original", "smooth", "detail"):
            assert r[f"pred_{key}"] == ref[key][i][0]
            assert r[f"conf_{key}"] == pytest.approx(ref[key][i][1], abs=1e-4)


def test_selection_on_hand_made_probabilities():
    eye = torch.eye(3)
    labels = torch.tensor([0, 1, 2, 0])
    probs = {
        "original": eye[[0, 1, 2, 1]],  # sample 3 wrong on the original
        "low_r4": eye[[1, 1, 0, 2]],  # sample 1 right on the LFC
        "high_r4": eye[[0, 1, 1, 0]],  # sample 2 wrong on the HFC
    }
    assert [r["index"] for r in select_hfc_examples(probs, labels, "frequency", 4)] == [0]


def test_tool_writes_csv_counts_and_galleries(setup, tmp_path):
    _, x, y = setup
    out = tmp_path / "fig2"
    find_tool.main(["--checkpoint", str(tiny_checkpoint()), "--radius", "2", "3", "--split", "both",
                    "--k", "1", "2", "--limit", str(N), "--gallery-size", "4", "--device", "cpu",
                    "--output", str(out)])
    counts = json.loads((out / "counts.json").read_text())
    with open(out / "examples.csv") as f:
        rows = list(csv.DictReader(f))
    assert counts["n_samples"] == N and counts["dataset"] == "digits"
    for split, per in counts["counts"].items():
        for param, n in per.items():
            assert n == sum(1 for r in rows if r["split"] == split and float(r["parameter"]) == float(param))
    assert set(counts["counts"]) == {"frequency", "svd"} and len(counts["counts"]["svd"]) == 2
    assert rows, "the tiny model should have some Fig. 2 examples at r = 2"
    for r in rows:  # every written row meets the definition, against the true labels
        label = int(y[int(r["index"])])
        assert int(r["label"]) == label
        assert int(r["pred_original"]) == label == int(r["pred_detail"]) != int(r["pred_smooth"])
    for g in counts["galleries"]:
        assert (out / g["path"]).stat().st_size > 0 and len(g["indices"]) <= 4
    assert len(counts["galleries"]) == sum(1 for per in counts["counts"].values() for n in per.values() if n)
    assert not list(out.glob(".*tmp*"))  # no half-written leftovers


@pytest.mark.parametrize("argv,message", [
    (["--checkpoint", "/nonexistent/run"], "no checkpoint"),
    (["--k", "2"], "--k is for the SVD split"),
    (["--split", "svd", "--k", "0"], "--k values must be >= 1"),
    (["--radius", "-1"], "--radius values must be"),
    (["--dataset", "imagenet"], "unknown dataset"),
])
def test_tool_user_errors_are_one_line(tmp_path, argv, message):
    # a later option overrides the same option given earlier
    args = ["--checkpoint", str(tiny_checkpoint()), "--output", str(tmp_path / "o"), "--device", "cpu"] + argv
    with pytest.raises(SystemExit) as exc:
        find_tool.main(args)
    text = str(exc.value.code)
    assert text.startswith("error: ") and message in text and "\n" not in text


def test_search_parameters_defaults_and_mistakes():
    from hfc_det.classification.find_examples import gallery_name, search_parameters
    from hfc_det.cli.helpers import UserError

    assert search_parameters("frequency", "cifar10", 32) == [("frequency", r) for r in (4.0, 8.0, 12.0, 16.0)]
    # k: 1/16, 1/8, 1/4 and 1/2 of the image side, each once
    assert search_parameters("svd", "cifar10", 32) == [("svd", k) for k in (2, 4, 8, 16)]
    assert search_parameters("svd", "digits", 8) == [("svd", k) for k in (1, 2, 4)]
    assert search_parameters("both", "cifar10", 32, radii=[3, 3, 5], ks=[4, 4]) == [
        ("frequency", 3), ("frequency", 5), ("svd", 4)]
    for kwargs, message in [({"split": "frequency", "radii": [0]}, "--radius values must be > 0"),
                            ({"split": "frequency", "radii": [-1]}, "--radius values must be finite and >= 0"),
                            ({"split": "svd", "radii": [4]}, "--radius is for the frequency split"),
                            ({"split": "frequency", "ks": [4]}, "--k is for the SVD split"),
                            ({"split": "svd", "ks": [0]}, "--k values must be >= 1")]:
        split = kwargs.pop("split")
        with pytest.raises(UserError, match=message):
            search_parameters(split, "cifar10", 32, **kwargs)
    assert gallery_name("frequency", 4.0) == "gallery_frequency_r4.png" and gallery_name("svd", 8) == "gallery_svd_k8.png"
