"""FrequencyDatasetMapper: one decode, float views, the split checked with numpy's FFT."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import hfc_det.compat  # noqa: F401
from detectron2.data import DatasetCatalog, DatasetMapper, build_detection_test_loader

from helpers.coco_fixture import make_coco_fixture
from hfc_det.config import get_cfg
from hfc_det.data import FrequencyDatasetMapper, resolve_dataset, resize_views

SMALL = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "160"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    json_file, image_root = make_coco_fixture(tmp_path_factory.mktemp("coco"), corrupt_image=True, thin_image=True)
    name = resolve_dataset(json_file=json_file, image_root=image_root)
    return {d["file_name"].rsplit("/", 1)[-1]: d for d in DatasetCatalog.get(name)}, name


def mapper(*opts):
    return FrequencyDatasetMapper(get_cfg("retinanet_R50_FPN", SMALL + list(opts)))


def numpy_low(image_chw: np.ndarray, r: float) -> np.ndarray:
    """The paper's split written out: fftshift(fft2), centred disc < r, real(ifft2)."""
    h, w = image_chw.shape[-2:]
    i, j = np.ogrid[:h, :w]
    mask = np.hypot(i - h // 2, j - w // 2) < r
    f = np.fft.fftshift(np.fft.fft2(image_chw.astype(np.float64)), axes=(-2, -1))
    return np.real(np.fft.ifft2(np.fft.ifftshift(f * mask, axes=(-2, -1))))


def decoded_bgr(path) -> np.ndarray:
    """Independent decode: PIL + EXIF transpose, RGB -> BGR, as CHW float64."""
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    return np.asarray(img)[:, :, ::-1].transpose(2, 0, 1).astype(np.float64)


def test_views_before_resize_match_numpy_split(dataset):
    dicts, _ = dataset
    d = dicts["coffee.jpg"]
    out = mapper("HFC.RADII", "[8, 20]")(d)
    assert list(out["views"]) == ["original", "low_r8", "low_r20", "high_r8", "high_r20"]
    x = decoded_bgr(d["file_name"])
    h, w = out["views"]["original"].shape[-2:]
    assert min(h, w) == 96 and abs(w / h - 600 / 400) < 0.02
    for r in (8, 20):
        low = numpy_low(x, r)
        want_low = resize_views(torch.from_numpy(low)[None], h, w)[0].float()
        want_high = resize_views(torch.from_numpy(x - low)[None], h, w)[0].float()
        assert out["views"][f"low_r{r}"].dtype == torch.float32
        torch.testing.assert_close(out["views"][f"low_r{r}"], want_low, atol=2e-3, rtol=0)
        torch.testing.assert_close(out["views"][f"high_r{r}"], want_high, atol=2e-3, rtol=0)
        # float all the way: the HFC's negative values and the LFC's overshoot survive
        assert out["views"][f"high_r{r}"].min() < -20
        torch.testing.assert_close(out["views"][f"low_r{r}"] + out["views"][f"high_r{r}"],
                                   out["views"]["original"], atol=1e-3, rtol=0)
    assert out["height"] == 400 and out["width"] == 600 and out["image_id"] == d["image_id"]


def test_views_after_resize_split_what_the_network_sees(dataset):
    dicts, _ = dataset
    out = mapper("HFC.RADII", "[8]", "HFC.FILTER_STAGE", "after_resize")(dicts["astronaut.jpg"])
    original = out["views"]["original"].double().numpy()
    low = numpy_low(original, 8)
    np.testing.assert_allclose(out["views"]["low_r8"].numpy(), low, atol=2e-3)
    np.testing.assert_allclose(out["views"]["high_r8"].numpy(), original - low, atol=2e-3)


def test_original_view_matches_detectron2_uint8_path(dataset):
    """Our float antialiased resize vs detectron2's DatasetMapper (PIL, uint8): rounding only."""
    dicts, _ = dataset
    cfg = get_cfg("retinanet_R50_FPN", SMALL)
    for name in ("coffee.jpg", "chelsea_exif6.jpg", "ball_cmyk.jpg", "camera_gray.png", "ball_rgba.png"):
        ours = mapper()(dicts[name])["views"]["original"]
        theirs = DatasetMapper(cfg, is_train=False)(dict(dicts[name]))["image"].float()
        assert ours.shape == theirs.shape, name
        diff = (ours - theirs).abs()
        assert diff.mean() < 0.6 and diff.max() <= 3.0, (name, float(diff.mean()), float(diff.max()))


def test_exif_rotation_grayscale_rgba_cmyk(dataset):
    dicts, _ = dataset
    m = mapper()
    upright = m(dicts["chelsea.png"])["views"]["original"]
    rotated = m(dicts["chelsea_exif6.jpg"])["views"]["original"]
    assert rotated.shape == upright.shape
    assert (rotated - upright).abs().mean() < 4  # the same picture, up to JPEG
    gray = m(dicts["camera_gray.png"])["views"]["original"]
    assert gray.shape[0] == 3 and torch.equal(gray[0], gray[1])
    for name in ("ball_rgba.png", "ball_cmyk.jpg"):
        assert m(dicts[name])["views"]["original"].shape[0] == 3


def test_image_smaller_than_radius(dataset):
    dicts, _ = dataset
    out = mapper("HFC.RADII", "[128]")(dicts["ball_tiny.png"])
    torch.testing.assert_close(out["views"]["low_r128"], out["views"]["original"])
    assert out["views"]["high_r128"].abs().max() == 0


@pytest.mark.parametrize("scaling", ["max", "minmax"])
def test_hfc_scaling(dataset, scaling):
    dicts, _ = dataset
    raw = mapper("HFC.RADII", "[8]")(dicts["astronaut.jpg"])["views"]
    scaled = mapper("HFC.RADII", "[8]", "HFC.HFC_SCALING", scaling)(dicts["astronaut.jpg"])["views"]
    torch.testing.assert_close(scaled["low_r8"], raw["low_r8"])  # only HFC views are scaled
    h = raw["high_r8"].double()
    want = h / h.max() * 255 if scaling == "max" else (h - h.min()) / (h.max() - h.min()) * 255
    torch.testing.assert_close(scaled["high_r8"].double(), want, atol=1e-3, rtol=0)


def test_unreadable_image_is_marked_not_raised(dataset):
    dicts, _ = dataset
    out = mapper()(dicts["corrupt.jpg"])
    assert "views" not in out and "OSError" in out["skipped"]
    assert out["image_id"] == dicts["corrupt.jpg"]["image_id"]


def test_too_thin_image_is_marked_not_raised(dataset):
    # 3x2000 px at a 160 px longest edge: 3 * 160 / 2000 = 0.24 rows, rounded to 0
    dicts, _ = dataset
    out = mapper()(dicts["thin.png"])
    assert "views" not in out and "3x2000" in out["skipped"] and "too thin" in out["skipped"]
    assert out["image_id"] == dicts["thin.png"]["image_id"]
    assert "views" in mapper("INPUT.MAX_SIZE_TEST", "1333")(dicts["thin.png"])  # 3 * 1333 / 2000 = 2 rows


def test_works_with_detectron2_test_loader(dataset):
    dicts, name = dataset
    cfg = get_cfg("retinanet_R50_FPN", SMALL + ["HFC.VIEWS", "['original', 'low']", "DATALOADER.NUM_WORKERS", "0"])
    batches = list(build_detection_test_loader(cfg, name, mapper=FrequencyDatasetMapper(cfg)))
    assert len(batches) == len(dicts)
    readable = [b[0] for b in batches if "skipped" not in b[0]]
    assert len(readable) == len(dicts) - 2  # corrupt.jpg and thin.png
    assert all(list(b["views"]) == ["original", "low_r128"] for b in readable)


def test_band_and_blur_views_through_hfc_views(dataset):
    # HFC.VIEWS mixes kinds (expanded over HFC.RADII) and full view names; checked against
    # numpy's FFT with the ring mask and the Gaussian transfer function, after the resize.
    dicts, _ = dataset
    d = dicts["coffee.jpg"]
    out = mapper("HFC.RADII", "[8]", "HFC.VIEWS", "['original', 'low', 'band_r4-12', 'blur_s2']")(d)
    assert list(out["views"]) == ["original", "low_r8", "band_r4-12", "blur_s2"]
    x = decoded_bgr(d["file_name"])
    h, w = out["views"]["original"].shape[-2:]
    band = numpy_low(x, 12) - numpy_low(x, 4)
    fy, fx = np.fft.fftfreq(x.shape[1])[:, None], np.fft.fftfreq(x.shape[2])[None, :]
    blur = np.real(np.fft.ifft2(np.fft.fft2(x) * np.exp(-2 * np.pi ** 2 * 4 * (fy ** 2 + fx ** 2))))
    for name, want in (("band_r4-12", band), ("blur_s2", blur)):
        want = resize_views(torch.from_numpy(want)[None], h, w)[0].float()
        torch.testing.assert_close(out["views"][name], want, atol=2e-3, rtol=0)


@pytest.mark.parametrize("views,message", [
    ("['original', 'band_r12-4']", "0 <= a < b"),
    ("['blur_s-2']", "sigma must be > 0"),
    ("['original', 'mid']", "unknown view 'mid'"),
])
def test_bad_hfc_views_are_one_line_errors(views, message):
    with pytest.raises(ValueError, match=message) as info:
        mapper("HFC.VIEWS", views)
    assert "\n" not in str(info.value) and "HFC.VIEWS" in str(info.value)
