"""The synthetic shapes generator: determinism, valid COCO, right boxes/areas, texture knob."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from hfc_det.data.shapes import (
    SHAPE_CLASSES,
    ShapesSpec,
    make_shapes_dataset,
    render_image,
    shape_area,
    shape_perimeter,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = dict(num_train=6, num_val=3, num_conflict=2, image_size=96, min_size=12, max_size=40)


def _tree_bytes(folder):
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    spec = ShapesSpec(seed=3, **SMALL)
    a = make_shapes_dataset(spec, str(tmp_path / "a"))
    b = make_shapes_dataset(spec, str(tmp_path / "b"))
    bytes_a = _tree_bytes(os.path.dirname(a["train"][0]))
    bytes_b = _tree_bytes(os.path.dirname(b["train"][0]))
    assert len(bytes_a) == 6 + 3 + 2 + 4  # images, three jsons, spec.json
    assert bytes_a == bytes_b
    c = make_shapes_dataset(ShapesSpec(seed=4, **SMALL), str(tmp_path / "c"))
    bytes_c = _tree_bytes(os.path.dirname(c["train"][0]))
    assert bytes_c["train/000000.png"] != bytes_a["train/000000.png"]


def test_cache_is_reused_and_leaves_no_temporary_folder(tmp_path):
    spec = ShapesSpec(**SMALL)
    paths = make_shapes_dataset(spec, str(tmp_path))
    json_file = paths["train"][0]
    mtime = os.stat(json_file).st_mtime_ns
    assert make_shapes_dataset(spec, str(tmp_path)) == paths
    assert os.stat(json_file).st_mtime_ns == mtime
    assert os.listdir(tmp_path) == [spec.key()]


def test_coco_json_is_valid_with_boxes_and_areas_from_the_masks(tmp_path):
    spec = ShapesSpec(num_train=20, num_val=0, num_conflict=0, image_size=128, min_size=16, max_size=60, seed=1)
    json_file, image_root = make_shapes_dataset(spec, str(tmp_path))["train"]
    coco = COCO(json_file)
    assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == sorted(SHAPE_CLASSES)
    assert len(coco.getImgIds()) == 20
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) >= 20  # at least one object per image
    for ann in anns:
        img = coco.loadImgs(ann["image_id"])[0]
        assert os.path.isfile(os.path.join(image_root, img["file_name"]))
        m = mask_utils.decode(ann["segmentation"])
        assert m.shape == (img["height"], img["width"])
        ys, xs = np.nonzero(m)
        # COCO box convention: [x, y, w, h] with w = x_max - x_min + 1 in pixels
        expected = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        np.testing.assert_allclose(ann["bbox"], expected)
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]
        assert ann["area"] == m.sum()
        assert ann["iscrowd"] == 0


def test_single_object_areas_match_the_analytic_shape_area(tmp_path):
    spec = ShapesSpec(num_train=40, num_val=0, num_conflict=0, image_size=256, max_objects=1, min_size=30, max_size=90, seed=2)
    json_file, _ = make_shapes_dataset(spec, str(tmp_path))["train"]
    with open(json_file) as f:
        data = json.load(f)
    names = {c["id"]: c["name"] for c in data["categories"]}
    seen = set()
    for ann in data["annotations"]:
        kind, size = names[ann["category_id"]], ann["shape_size"]
        seen.add(kind)
        # Rasterisation moves the outline by at most about one pixel.
        assert abs(ann["area"] - shape_area(kind, size)) <= shape_perimeter(kind, size), (kind, size, ann["area"])
    assert seen == set(SHAPE_CLASSES)


def test_masks_cover_exactly_the_drawn_object_pixels(tmp_path):
    # One object per image: inside its mask the pixels are one colour plus the faint stripes,
    # so every channel spans at most 2 * amplitude (+ rounding); a misaligned mask would
    # take in background pixels of other colours.
    spec = ShapesSpec(num_train=15, num_val=0, num_conflict=0, max_objects=1, texture_amplitude=0.05, seed=5)
    json_file, image_root = make_shapes_dataset(spec, str(tmp_path))["train"]
    coco = COCO(json_file)
    for ann in coco.loadAnns(coco.getAnnIds()):
        img = coco.loadImgs(ann["image_id"])[0]
        pixels = np.asarray(Image.open(os.path.join(image_root, img["file_name"])).convert("RGB"))
        inside = pixels[mask_utils.decode(ann["segmentation"]).astype(bool)].astype(int)
        spread = inside.max(axis=0) - inside.min(axis=0)
        assert (spread <= 2 * 0.05 * 255 + 2).all(), spread


@pytest.mark.parametrize("correlation", [0.0, 0.3, 1.0])
def test_texture_agreement_rate_follows_the_knob(correlation):
    spec = ShapesSpec(image_size=128, min_size=16, max_size=50, texture_correlation=correlation, seed=11)
    agree = n = 0
    for i in range(120):
        _, objects = render_image(spec, np.random.default_rng([99, i]))
        agree += sum(o["texture_index"] == o["category_index"] for o in objects)
        n += len(objects)
    k = len(spec.classes)
    expected = correlation + (1 - correlation) / k  # own texture, else uniform over all classes
    sigma = math.sqrt(expected * (1 - expected) / n)
    assert abs(agree / n - expected) <= 4 * sigma + 1e-9, (agree / n, expected, n)


def test_recorded_texture_is_the_one_in_the_pixels(tmp_path):
    # Recover each object's stripe orientation from the image's spectrum (a crop well inside
    # the shape) and compare with the texture the json says it wears.
    classes = ("circle", "square", "triangle")  # a ring's centre is a hole; plaids at 0, +-45, 90 deg
    spec = ShapesSpec(
        num_train=16, num_val=0, num_conflict=0, image_size=256, max_objects=1, min_size=80, max_size=90,
        classes=classes, texture_correlation=0.0, texture_amplitude=0.06, texture_period=6.0, seed=7,
    )
    json_file, image_root = make_shapes_dataset(spec, str(tmp_path))["train"]
    with open(json_file) as f:
        data = json.load(f)
    angles = {c["id"]: c["texture_angle_deg"] for c in data["categories"]}
    files = {im["id"]: im["file_name"] for im in data["images"]}
    textures = set()
    for ann in data["annotations"]:
        gray = np.asarray(Image.open(os.path.join(image_root, files[ann["image_id"]])).convert("L"), float)
        cx, cy = (int(round(v)) for v in ann["shape_center"])
        half = int(0.18 * ann["shape_size"])  # the square crop stays inside a triangle
        crop = gray[cy - half : cy + half, cx - half : cx + half]
        spec2 = np.abs(np.fft.fft2(crop - crop.mean(), s=(128, 128)))
        ky, kx = np.unravel_index(np.argmax(spec2), spec2.shape)
        fy, fx = np.fft.fftfreq(128)[ky], np.fft.fftfreq(128)[kx]
        measured = math.degrees(math.atan2(fy, fx)) % 180
        # The plaid has peaks at +a and -a: compare with the nearer one.
        distance = {tid: min(min(abs(measured - b) % 180, 180 - abs(measured - b) % 180) for b in (a, -a))
                    for tid, a in angles.items()}
        assert min(distance, key=distance.get) == ann["texture_category_id"], (measured, ann)
        assert 1 / math.hypot(fx, fy) == pytest.approx(spec.texture_period, rel=0.25)
        textures.add(ann["texture_category_id"])
    assert len(textures) >= 3  # correlation 0: textures vary independently of the class


def test_bad_values_raise_clear_errors():
    with pytest.raises(ValueError, match="texture_correlation"):
        ShapesSpec(texture_correlation=1.5)
    with pytest.raises(ValueError, match="classes"):
        ShapesSpec(classes=("hexagon",))
    with pytest.raises(ValueError, match="min_objects"):
        ShapesSpec(min_objects=3, max_objects=2)


def _load_tool(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_shapes_cli_writes_dataset_and_rejects_bad_values(tmp_path):
    _load_tool("make_shapes").main(["--output", str(tmp_path), "--num-train", "2", "--num-val", "1", "--num-conflict", "1"])
    (key,) = os.listdir(tmp_path)
    assert len(COCO(os.path.join(tmp_path, key, "instances_val.json")).getImgIds()) == 1
    tool = os.path.join(REPO, "tools", "make_shapes.py")
    bad = subprocess.run([sys.executable, tool, "--texture-correlation", "2"], capture_output=True, text=True)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == ["error: texture_correlation must be in [0, 1], got 2.0"]


def test_a_mirrored_texture_is_still_its_class_texture():
    # detectron2 flips training images; the plaid (+a and -a stripes) has a spectrum that is
    # symmetric under kx -> -kx, so a mirror cannot turn one class's texture into another's.
    from hfc_det.data.shapes import texture_pattern

    spec = ShapesSpec(image_size=128, min_size=20, max_size=60, texture_period=6.0)
    for index in range(len(spec.classes)):
        mag = np.abs(np.fft.fft2(texture_pattern(spec, index, (0.3, 2.1))))
        mirrored = np.roll(mag[:, ::-1], 1, axis=1)  # |F| at (ky, -kx)
        assert np.abs(mag - mirrored).max() <= 0.05 * mag.max(), index
    # A single stripe at 22.5 degrees (what a one-sided texture would be) is not symmetric.
    yy, xx = np.mgrid[0:128, 0:128]
    a = math.radians(22.5)
    single = np.sin(2 * math.pi * (xx * math.cos(a) + yy * math.sin(a)) / spec.texture_period)
    mag = np.abs(np.fft.fft2(single))
    assert np.abs(mag - np.roll(mag[:, ::-1], 1, axis=1)).max() > 0.5 * mag.max()
