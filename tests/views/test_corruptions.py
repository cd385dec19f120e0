"""COCO-C corruption views: pixel for pixel the library's own ``corrupt`` under the same seed,
the same in every process and re-run, numpy's global generator left as it was."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

imagecorruptions = pytest.importorskip("imagecorruptions")
from imagecorruptions import corrupt  # noqa: E402
from skimage.data import astronaut  # noqa: E402

from hfc_det.views import corruption_view_names  # noqa: E402
from hfc_det.views.corruptions import (  # noqa: E402
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    CORRUPTION_FAMILIES,
    corrupt_decoded,
    corruption_views,
)
from hfc_det.views.grammar import canonical_view_name, compute_views, parse_view, view_axis  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# The library's 15 benchmark and 4 extra corruptions, written out by hand (its own lists).
BENCHMARK = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression"]
EXTRA = ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
IMAGE_ID = 139


def photo(h=64, w=72, top=100, left=180) -> np.ndarray:
    """A real photo's crop, uint8 (H, W, 3) RGB (not square: rows and columns must not swap)."""
    return np.ascontiguousarray(astronaut()[top:top + h, left:left + w])


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()


def expected_seed(key, view: str) -> int:
    """The documented seed, written independently: SHA-256 of "<id>|<view name>", first 4 bytes, little-endian."""
    return int.from_bytes(hashlib.sha256(f"{key}|{view}".encode()).digest()[:4], "little")


def library(image: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """The library's own call, seeded as the module doc says: the global generator, and the
    ``seed`` keyword of the two corruptions that ignore it."""
    np.random.seed(seed)
    kwargs = {"seed": seed} if corruption in ("glass_blur", "impulse_noise") else {}
    return corrupt(image, corruption_name=corruption, severity=severity, **kwargs)


def test_the_lists_are_the_librarys():
    assert list(BENCHMARK_CORRUPTIONS) == BENCHMARK == imagecorruptions.get_corruption_names("common")
    assert list(ALL_CORRUPTIONS) == BENCHMARK + EXTRA == imagecorruptions.get_corruption_names("all")
    for family, names in CORRUPTION_FAMILIES.items():
        assert list(names) == imagecorruptions.get_corruption_names(family)


@pytest.mark.parametrize("index", range(19))
def test_equals_the_library_pixel_for_pixel(index):
    """All 19 corruptions, each at one severity (the five severities in turn)."""
    corruption, severity = (BENCHMARK + EXTRA)[index], 1 + index % 5
    name = f"corrupt_{corruption}_s{severity}"
    image = photo()
    want = library(image, corruption, severity, expected_seed(IMAGE_ID, name))
    got = compute_views(chw(image), [name], seed=IMAGE_ID)[name]
    assert got.dtype == torch.float32 and got.shape == (3, 64, 72)
    assert torch.equal(got, chw(want))
    assert not torch.equal(got, chw(image))  # it did corrupt


@pytest.mark.parametrize("corruption", ["glass_blur", "impulse_noise", "gaussian_noise", "fog", "frost"])
def test_all_severities_of_the_random_ones(corruption):
    image = photo()
    names = [f"corrupt_{corruption}_s{s}" for s in range(1, 6)]
    got = compute_views(chw(image), names, seed=IMAGE_ID)
    for s, name in enumerate(names, start=1):
        assert torch.equal(got[name], chw(library(image, corruption, s, expected_seed(IMAGE_ID, name))))


def test_global_generator_is_restored():
    np.random.seed(5)
    want = np.random.random(3)
    np.random.seed(5)
    compute_views(chw(photo()), ["corrupt_gaussian_noise_s3", "corrupt_snow_s2", "corrupt_glass_blur_s1"], seed=1)
    assert np.array_equal(np.random.random(3), want)  # as if no corruption had drawn


def test_the_unseeded_corruptions_draw_no_random_number():
    """corrupt_image skips the seeding for DETERMINISTIC_CORRUPTIONS: the library must
    leave numpy's global generator where it was, at every severity."""
    from hfc_det.views.corruptions import DETERMINISTIC_CORRUPTIONS

    image = photo()
    for corruption in sorted(DETERMINISTIC_CORRUPTIONS):
        for severity in range(1, 6):
            np.random.seed(11)
            corrupt(image, corruption_name=corruption, severity=severity)
            assert np.random.random() == np.random.RandomState(11).random_sample(), (corruption, severity)


def _digests(image_id: int) -> dict:
    """Digests of the views of the corruptions that draw random numbers (the rest cannot differ)."""
    random = ["gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "snow", "frost", "fog",
              "elastic_transform", "speckle_noise", "spatter"]
    out = compute_views(chw(photo()), [f"corrupt_{c}_s3" for c in random], seed=image_id)
    return {k: hashlib.sha256(v.numpy().tobytes()).hexdigest() for k, v in out.items()}


def test_repeats_across_processes_and_reruns():
    script = (
        "import hashlib, json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_corruptions as t\n"
        "print(json.dumps(t._digests(7)))\n"
    )
    # another process with its own str hashes (hash() must not leak into the seed)
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    here = _digests(7)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == here == _digests(7)
    assert _digests(8) != here  # another image id, other noise


def test_seed_none_uses_the_image_bytes_per_image():
    a, b = photo(), photo(top=300, left=40)
    batch = torch.stack([chw(a), chw(b), chw(a)])
    got = corruption_views(batch, [("shot_noise", 2)])["corrupt_shot_noise_s2"]
    assert torch.equal(got[0], got[2]) and not torch.equal(got[0], got[1])
    alone = corruption_views(chw(b), [("shot_noise", 2)])["corrupt_shot_noise_s2"]
    assert torch.equal(got[1], alone)
    ids = corruption_views(batch, [("shot_noise", 2)], seed=[1, 2, 3])["corrupt_shot_noise_s2"]
    assert torch.equal(ids[1], corruption_views(chw(b), [("shot_noise", 2)], seed=2)["corrupt_shot_noise_s2"])
    with pytest.raises(ValueError, match="one image id per image"):
        corruption_views(batch, [("shot_noise", 2)], seed=4)


def test_unit_scale_and_numpy_input():
    """The classification toolkit's [0, 1] images: the same pixels divided by 255, type kept."""
    image = photo()
    name = "corrupt_zoom_blur_s2"
    want = chw(library(image, "zoom_blur", 2, expected_seed(IMAGE_ID, name))) / 255
    got = compute_views((chw(image) / 255).numpy(), [name], seed=IMAGE_ID)[name]
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-7)


def test_classification_tracked_views():
    """``train_cifar.py --track-views``: tracked_views on [0, 1] 32x32 images (no ids: bytes seed)."""
    from hfc_det.classification.data import tracked_views

    image = photo(32, 32)
    images = (chw(image) / 255)[None]
    name = "corrupt_gaussian_noise_s4"
    got = tracked_views(images, [4], views=[name])[name][0]
    key = "sha256:" + hashlib.sha256(image.tobytes()).hexdigest()  # the documented stand-in for an id
    want = library(image, "gaussian_noise", 4, expected_seed(key, name))
    torch.testing.assert_close(got * 255, chw(want), atol=1e-4, rtol=0)
    # the same picture in 0..255 and BGR gets the same noise
    bgr = corruption_views(chw(image).flip(0), [("gaussian_noise", 4)], channels="BGR")[name]
    assert torch.equal(bgr.flip(0), chw(want))


def test_bgr_path_is_the_rgb_path_flipped():
    image = photo()
    pairs = [("frost", 3), ("snow", 4), ("spatter", 2)]
    bgr = corrupt_decoded(np.ascontiguousarray(image[..., ::-1]), pairs, IMAGE_ID, "BGR")
    rgb = compute_views(chw(image), [f"corrupt_{c}_s{s}" for c, s in pairs], seed=IMAGE_ID)
    for k, (c, s) in enumerate(pairs):
        assert torch.equal(bgr[k].flip(0), rgb[f"corrupt_{c}_s{s}"])
    via_views = corruption_views(chw(image).flip(0), pairs, seed=IMAGE_ID, channels="BGR")
    assert torch.equal(via_views["corrupt_frost_s3"], bgr[0])


def test_grammar_round_trip():
    names = corruption_view_names("all")
    assert len(names) == 95 and names[0] == "corrupt_gaussian_noise_s1" and names[-1] == "corrupt_saturate_s5"
    for name in names:
        kind, (corruption, severity) = parse_view(name)
        assert kind == "corrupt" and name == f"corrupt_{corruption}_s{severity}"
        assert canonical_view_name(name) == name and view_axis(name) == ("severity", float(severity))
    assert canonical_view_name("corrupt_fog_s03") == "corrupt_fog_s3"


def test_shorthands():
    assert len(corruption_view_names()) == 75
    assert corruption_view_names("fog", [3, 1, 3]) == ["corrupt_fog_s3", "corrupt_fog_s1"]
    assert corruption_view_names(["fog", "benchmark"], [2])[:2] == ["corrupt_fog_s2", "corrupt_gaussian_noise_s2"]
    assert len(corruption_view_names(["benchmark", "all"], [1])) == 19


@pytest.mark.parametrize("name, message", [
    ("corrupt_foggy_s3", "unknown corruption 'foggy'"),
    ("corrupt_fog_s6", "severity must be an integer 1 to 5, got '6'"),
    ("corrupt_fog_s0", "severity must be an integer 1 to 5"),
    ("corrupt_fog_s-1", "severity must be an integer 1 to 5"),
    ("corrupt_fog", "expected corrupt_<CORRUPTION>_s<SEVERITY>"),
    ("corrupt_Fog_s3", "expected corrupt_<CORRUPTION>_s<SEVERITY>"),
])
def test_bad_view_names_are_one_line_errors(name, message):
    with pytest.raises(ValueError) as info:
        parse_view(name)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("corruptions, severities, message", [
    (["fogg"], [1], "unknown corruption 'fogg': expected benchmark, all or one of"),
    ("benchmark", [6], "severity must be an integer 1 to 5, got 6"),
    ("benchmark", ["x"], "got 'x'"),
    ("benchmark", [2.5], "got 2.5"),
    ([], [1], "at least one corruption"),
])
def test_bad_shorthands_are_one_line_errors(corruptions, severities, message):
    with pytest.raises(ValueError) as info:
        corruption_view_names(corruptions, severities)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("images, message", [
    (torch.zeros(3, 31, 64), "at least 32x32 px"),
    (torch.zeros(1, 64, 64), "colour images"),
    (torch.zeros(64, 64), "colour images"),
])
def test_bad_images_are_one_line_errors(images, message):
    with pytest.raises(ValueError) as info:
        compute_views(images, ["corrupt_fog_s1"], seed=0)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_library_names_the_pin(monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecorruptions", None)
    with pytest.raises(ImportError) as info:
        compute_views(chw(photo()), ["corrupt_fog_s1"], seed=0)
    assert "imagecorruptions-imaug==1.1.5" in str(info.value) and "--no-deps" in str(info.value)


# -- the detection mapper: corrupt the decoded image at its own size, then resize -------------

@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    import hfc_det.compat  # noqa: F401  (before detectron2)
    pytest.importorskip("detectron2")
    from detectron2.data import DatasetCatalog

    from helpers.coco_fixture import make_coco_fixture
    from hfc_det.data import resolve_dataset

    json_file, image_root = make_coco_fixture(tmp_path_factory.mktemp("coco"))
    name = resolve_dataset(json_file=json_file, image_root=image_root)
    return {d["file_name"].rsplit("/", 1)[-1]: d for d in DatasetCatalog.get(name)}


@pytest.mark.parametrize("stage", ["before_resize", "after_resize"])
def test_mapper_corrupts_before_the_resize_whatever_the_stage(coco, stage):
    from PIL import Image, ImageOps

    from hfc_det.config import get_cfg
    from hfc_det.data import FrequencyDatasetMapper, resize_views

    d = coco["coffee.jpg"]
    names = ["corrupt_motion_blur_s2", "original", "low_r8", "corrupt_jpeg_compression_s5"]
    cfg = get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "96",
                                        "INPUT.MAX_SIZE_TEST", "160", "HFC.VIEWS", str(names),
                                        "HFC.FILTER_STAGE", stage])
    out = FrequencyDatasetMapper(cfg)(d)
    assert sorted(out["views"]) == sorted(names)
    rgb = np.asarray(ImageOps.exif_transpose(Image.open(d["file_name"])).convert("RGB"))  # independent decode
    h, w = out["views"]["original"].shape[-2:]
    assert (h, w) != rgb.shape[:2]
    for name in (names[0], names[3]):
        _, (corruption, severity) = parse_view(name)
        full = library(rgb, corruption, severity, expected_seed(d["image_id"], name))  # at the image's own size
        bgr = torch.from_numpy(np.ascontiguousarray(full[..., ::-1].transpose(2, 0, 1))).float()
        torch.testing.assert_close(out["views"][name], resize_views(bgr[None], h, w)[0], atol=1e-3, rtol=0)


def test_mapper_refuses_grayscale_format_for_corruptions():
    import hfc_det.compat  # noqa: F401  (before detectron2)
    pytest.importorskip("detectron2")
    from hfc_det.config import get_cfg
    from hfc_det.data import FrequencyDatasetMapper

    cfg = get_cfg("retinanet_R50_FPN", ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.FORMAT", "L",
                                        "HFC.VIEWS", "['original', 'corrupt_fog_s1']"])
    with pytest.raises(ValueError, match="INPUT.FORMAT RGB or BGR"):
        FrequencyDatasetMapper(cfg)
