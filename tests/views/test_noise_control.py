"""The control view noise_r{R}: its norm against numpy's FFT split, its determinism across
processes and re-runs, its name grammar, and its place in the mapper and the config."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hfc_det.views.noise_control import matched_noise, noise_view_name
from hfc_det.views.grammar import compute_views, parse_view

ROOT = Path(__file__).resolve().parents[2]


def numpy_high(image_chw: np.ndarray, r: float) -> np.ndarray:
    """The paper's HFC written out: fftshift(fft2), keep distance >= r, real(ifft2)."""
    h, w = image_chw.shape[-2:]
    i, j = np.ogrid[:h, :w]
    keep = np.hypot(i - h // 2, j - w // 2) >= r
    f = np.fft.fftshift(np.fft.fft2(image_chw), axes=(-2, -1))
    return np.real(np.fft.ifft2(np.fft.ifftshift(f * keep, axes=(-2, -1))))


@pytest.fixture
def image():
    return np.random.default_rng(0).uniform(0, 255, (3, 37, 50))  # odd height, not square


@pytest.mark.parametrize("radius", [3, 8.5, 16])
def test_norm_per_channel_equals_the_hfc_norm(image, radius):
    name = noise_view_name(radius)
    views = compute_views(image, ["original", name], seed=42)
    change = views[name] - image
    for c in range(3):
        want = np.linalg.norm(numpy_high(image, radius)[c])
        assert np.linalg.norm(change[c]) == pytest.approx(want, rel=1e-12)
    # white, not shaped like the HFC: about zero-mean, its spectrum flat across radii
    assert abs(change.mean()) < 4 * change.std() / np.sqrt(change.size)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(change), axes=(-2, -1))) ** 2
    h, w = image.shape[-2:]
    i, j = np.ogrid[:h, :w]
    inner = np.hypot(i - h // 2, j - w // 2) < radius
    assert 0.5 < spectrum[:, inner].mean() / spectrum[:, ~inner].mean() < 2


def test_float32_tensor_keeps_type_and_norm(image):
    x = torch.from_numpy(image).float()
    out = compute_views(x, ["noise_r8"], seed=7)["noise_r8"]
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == x.shape
    want = np.linalg.norm(numpy_high(image.astype(np.float32).astype(np.float64), 8), axis=(-2, -1))
    got = np.linalg.norm((out.double() - x.double()).numpy(), axis=(-2, -1))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_seeded_by_image_id(image):
    a = compute_views(image, ["noise_r8", "noise_r16"], seed=3)
    b = compute_views(image, ["noise_r8"], seed=3)
    c = compute_views(image, ["noise_r8"], seed=4)
    np.testing.assert_array_equal(a["noise_r8"], b["noise_r8"])  # same id, same noise
    assert not np.allclose(a["noise_r8"], c["noise_r8"])
    # one draw per image: the radii scale the same noise
    n8, n16 = a["noise_r8"] - image, a["noise_r16"] - image
    k = n16[0] / n8[0]
    assert np.allclose(k, k.flat[0])


_CHILD = """
import hashlib, sys
import numpy as np
from hfc_det.views.grammar import compute_views
x = np.random.default_rng(0).uniform(0, 255, (3, 37, 50))
print(hashlib.sha256(compute_views(x, ["noise_r8"], seed=123)["noise_r8"].tobytes()).hexdigest())
"""


def test_same_noise_in_another_process(image):
    """Another interpreter (another run, another worker) draws the same bytes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, cwd=ROOT)
    assert child.returncode == 0, child.stderr
    here = hashlib.sha256(compute_views(image, ["noise_r8"], seed=123)["noise_r8"].tobytes()).hexdigest()
    assert child.stdout.strip() == here


def test_zero_hfc_gives_zero_noise():
    flat = np.full((2, 8, 8), 5.0)
    np.testing.assert_array_equal(matched_noise(np.zeros_like(flat), 1), 0)
    np.testing.assert_allclose(compute_views(flat, ["noise_r100"], seed=1)["noise_r100"], flat)


def test_names():
    assert noise_view_name(16) == "noise_r16" and noise_view_name(2.5) == "noise_r2.5"
    assert parse_view("noise_r16") == ("noise", 16.0) and parse_view("noise_r2.5") == ("noise", 2.5)
    for bad in ("noise_r", "noise", "noise_rx", "noise_r-3", "noise_r0"):
        with pytest.raises(ValueError, match=r"noise_r<R>|radius"):
            parse_view(bad)
    with pytest.raises(ValueError, match="needs a seed"):
        compute_views(np.zeros((4, 4)), ["noise_r2"])


def test_config_and_mapper(tmp_path):
    """HFC.VIEWS 'noise' adds noise_r{R} per radius; the mapper seeds it by image id."""
    import hfc_det.compat  # noqa: F401
    from detectron2.data import DatasetCatalog

    from helpers.coco_fixture import make_coco_fixture
    from hfc_det.config import get_cfg, views_from_cfg
    from hfc_det.data import FrequencyDatasetMapper, resolve_dataset

    opts = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "160",
            "HFC.RADII", "[8, 16]", "HFC.VIEWS", "['original', 'low', 'noise']"]
    cfg = get_cfg("retinanet_R50_FPN", opts)
    assert views_from_cfg(cfg) == ["original", "low_r8", "low_r16", "noise_r8", "noise_r16"]
    with pytest.raises(ValueError, match="HFC.RADII is empty"):
        get_cfg("retinanet_R50_FPN", opts + ["HFC.RADII", "[]"])
    json_file, image_root = make_coco_fixture(tmp_path)
    dicts = DatasetCatalog.get(resolve_dataset(json_file=json_file, image_root=image_root))
    mapper = FrequencyDatasetMapper(cfg)
    d = dicts[0]
    out, again = mapper(d), mapper(dict(d))
    assert list(out["views"]) == views_from_cfg(cfg)
    torch.testing.assert_close(out["views"]["noise_r8"], again["views"]["noise_r8"], rtol=0, atol=0)
    other = mapper({**d, "image_id": d["image_id"] + 1000})
    assert not torch.allclose(out["views"]["noise_r8"], other["views"]["noise_r8"])
    # before the resize, the noise has the HFC's norm at the image's own resolution
    x = out["views"]["original"].double()
    n8, n16 = out["views"]["noise_r8"].double() - x, out["views"]["noise_r16"].double() - x
    assert 0 < float(n16.norm()) < float(n8.norm())  # a larger radius leaves a weaker HFC
