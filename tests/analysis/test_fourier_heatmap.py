"""tools/fourier_heatmap.py on the digits LeNet: cells against a direct numpy loop, the
symmetric map, resume, and one-line errors for bad input."""
import json
import zlib

import numpy as np
import pytest
import torch

from helpers.cifar_fixture import call_tool_main
from helpers.tiny_classifier import tiny_checkpoint
from hfc_det.classification import load_checkpoint, load_dataset
from hfc_det.analysis.heatmap import PARTIAL_FILE


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def direct_error(model, x, y, u, v, eps, seed=0):
    """The definition written out: per image and channel a seeded sign, the normalised
    cosine of frequency (u, v), clip to [0, 1], then the error rate in %."""
    n, c, h, w = x.shape
    i, j = np.ogrid[:h, :w]
    basis = np.cos(2 * np.pi * (u * i / h + v * j / w))
    basis /= np.linalg.norm(basis)
    wrong = 0
    for k in range(n):
        image = x[k].numpy()
        rng = np.random.default_rng([seed, zlib.crc32(image.astype(np.float32).tobytes())])
        signs = rng.integers(0, 2, size=c) * 2 - 1
        pert = np.clip(image + eps * signs[:, None, None] * basis, 0, 1)
        with torch.no_grad():
            pred = model(torch.from_numpy(pert[None]).float()).argmax(1).item()
        wrong += pred != y[k].item()
    return 100.0 * wrong / n


TOOL = __import__("pathlib").Path(__file__).resolve().parents[2] / "tools" / "fourier_heatmap.py"


def run(*args):
    """The tool's main in this process: 0, or its ``error: ...`` message."""
    return call_tool_main(TOOL, *map(str, args))


def test_classifier_heatmap_cells_against_a_direct_loop(tmp_path, capsys):
    ckpt = tiny_checkpoint()
    out = tmp_path / "heat"
    assert run("--checkpoint", ckpt.parent, "--grid", 2, "--eps", 1.5, "--max-images", 120,
               "--output", out, "--no-progress", "--batch-size", 50) == 0
    said = capsys.readouterr().out
    assert "13 cells" in said and "13 to do" in said and "1560 forward passes" in said and "ETA" in said
    record = json.loads((out / "heatmap.json").read_text())
    heat = np.load(out / "heatmap.npy")
    assert heat.shape == (5, 5) and record["frequencies"] == [-2, -1, 0, 1, 2] and record["images"] == 120
    np.testing.assert_array_equal(heat, heat[::-1, ::-1])
    assert (out / "heatmap.png").stat().st_size > 5000
    model, _ = load_checkpoint(ckpt)
    _, _, x, y = load_dataset("digits")
    x, y = x[:120], y[:120]
    cells = {(c["u"], c["v"]): c["error"] for c in record["cells"]}
    for u, v in [(0, 0), (1, -2), (2, 1)]:
        want = direct_error(model, x, y, u, v, 1.5)
        assert cells[(u, v)] == pytest.approx(want, abs=1e-9)
        assert heat[u + 2, v + 2] == pytest.approx(want) and heat[-u + 2, -v + 2] == pytest.approx(want)
    assert record["clean_error"] == pytest.approx(direct_error(model, x, y, 0, 0, 1e-12), abs=1e-9)
    # the perturbation matters: some cell is worse than the clean images
    assert heat.max() > record["clean_error"]


def test_resume_evaluates_only_missing_cells(tmp_path, capsys):
    ckpt = tiny_checkpoint()
    out = tmp_path / "heat"
    common = ["--checkpoint", ckpt, "--grid", 1, "--eps", 1, "--max-images", 50, "--output", out, "--no-progress"]
    assert run(*common) == 0
    first = json.loads((out / "heatmap.json").read_text())
    partial = json.loads((out / PARTIAL_FILE).read_text())
    partial["cells"] = partial["cells"][:2]  # as if interrupted after two cells
    (out / PARTIAL_FILE).write_text(json.dumps(partial))
    capsys.readouterr()
    assert run(*common) == 0
    said = capsys.readouterr().out
    assert "5 cells" in said and "3 to do" in said
    assert json.loads((out / "heatmap.json").read_text())["cells"] == first["cells"]
    msg = run(*common[:-3], "--eps", 2, "--output", out, "--no-progress")
    assert "other settings" in str(msg) and "\n" not in str(msg)
    assert run(*common[:-3], "--eps", 2, "--output", out, "--no-progress", "--fresh") == 0


@pytest.mark.parametrize("args,message", [
    (["--grid", "0"], "--grid must be an integer >= 1"),
    (["--eps", "0"], "--eps must be a finite number > 0"),
    (["--eps", "-1"], "--eps must be a finite number > 0"),
    (["--grid", "5"], "past the Nyquist frequency of 8x8"),
    (["--step", "0"], "--step must be"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    msg = run("--checkpoint", tiny_checkpoint(), "--output", tmp_path / "o", *args)
    assert isinstance(msg, str) and msg.startswith("error: ") and message in msg and "\n" not in msg


def test_wrong_kind_of_checkpoint(tmp_path):
    detector_like = tmp_path / "model_final.pth"
    torch.save({"model": {"backbone.conv.weight": torch.zeros(1)}, "iteration": 3}, detector_like)
    msg = run("--checkpoint", detector_like, "--output", tmp_path / "o")
    assert "not a tools/train_cifar.py checkpoint" in msg and "MODEL.WEIGHTS" in msg and "\n" not in msg
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    msg = run("--checkpoint", tmp_path / "junk.pth", "--output", tmp_path / "o")
    assert "is not a torch checkpoint" in msg


def test_checkpoint_heatmap_records_what_the_cells_depend_on(tmp_path):
    """The package function behind the tool, called directly: the cells are the direct loop's,
    and the settings gain the checkpoint's SHA-256 (of the file, computed here), the dataset
    and the model."""
    import hashlib

    from hfc_det.classification.fourier_heatmap import checkpoint_heatmap

    ckpt = tiny_checkpoint()
    settings = {"grid": 1, "step": 1, "eps": 2.0, "seed": 0, "max_images": 40}
    record = checkpoint_heatmap(ckpt, settings, tmp_path, max_images=40, batch_size=16, device="cpu",
                                progress=False)
    assert record["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert record["dataset"] == "digits" and settings["checkpoint_sha256"] == record["checkpoint_sha256"]
    model, _ = load_checkpoint(ckpt)
    _, _, x, y = load_dataset("digits")
    cells = {(c["u"], c["v"]): c["error"] for c in record["cells"]}
    assert cells[(1, 0)] == pytest.approx(direct_error(model, x[:40], y[:40], 1, 0, 2.0), abs=1e-9)
    with pytest.raises(ValueError, match="--batch-size must be >= 1"):
        checkpoint_heatmap(ckpt, dict(settings), tmp_path / "o", batch_size=0)
