"""The shapes' texture cue reaches the network and one radius removes it; cue-conflict split.

Measured from rendered pixels (FFT peaks, a classifier trained on them), never from the
spec's own numbers.
"""
import json
import math
import os

import numpy as np
import pytest
import torch

from hfc_det.data.shapes import ShapesSpec, draw_shape_mask, make_shapes_dataset, paint_object, render_image
from hfc_det.views.frequency import split_frequencies

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REMOVING_RADIUS, KEEPING_RADIUS = 24, 48  # the demo's radii on either side of the texture


def _test_time_resize(image):
    """The demo config's test-time resize (detectron2's own augmentation), as the model sees it."""
    pytest.importorskip("detectron2")
    from detectron2.data import detection_utils

    from hfc_det.config import get_cfg

    cfg = get_cfg("demo/retinanet_R18_FPN_shapes")
    (aug,) = detection_utils.build_augmentation(cfg, is_train=False)
    return aug.get_transform(image).apply_image(image)


def _interior_crops(spec, n_images, seed):
    """(crop, object, full image) for solid objects (circles, squares), crops well inside them."""
    out = []
    for i in range(n_images):
        image, objects = render_image(spec, np.random.default_rng([seed, i]))
        for o in objects:
            if spec.classes[o["category_index"]] in ("circle", "square") and o["shape_size"] >= 30:
                out.append((o, image))
    return out


def test_texture_frequency_at_the_network_input_is_between_the_removing_and_keeping_radii():
    spec = ShapesSpec()  # the demo's data
    found = 0
    for obj, image in _interior_crops(spec, 40, seed=5):
        seen = _test_time_resize(image).astype(np.float64)  # (H', W', 3) what the network gets
        scale = seen.shape[1] / image.shape[1]
        gray = seen.mean(axis=2)
        cx, cy = (v * scale for v in obj["center"])
        half = int(0.3 * obj["shape_size"] * scale)
        box = (slice(int(obj["center"][1]) - int(half / scale), int(obj["center"][1]) + int(half / scale)),
               slice(int(obj["center"][0]) - int(half / scale), int(obj["center"][0]) + int(half / scale)))
        if not obj["mask"][box].all():  # partly covered by a later object: edges in the crop
            continue
        crop = gray[int(cy) - half : int(cy) + half, int(cx) - half : int(cx) + half]
        pad = 512
        mag = np.abs(np.fft.fft2((crop - crop.mean()) * np.outer(np.hanning(len(crop)), np.hanning(len(crop))),
                                 s=(pad, pad)))
        ky, kx = np.unravel_index(np.argmax(mag), mag.shape)
        f = math.hypot(np.fft.fftfreq(pad)[ky], np.fft.fftfreq(pad)[kx])  # cycles per input pixel
        period = 1 / f
        bins = f * seen.shape[0]  # distance from the centre of the whole input's spectrum
        assert 3.6 <= period <= 4.4, period  # >= 4 px as specified, up to the crop's resolution
        assert REMOVING_RADIUS + 4 <= bins <= KEEPING_RADIUS - 8, bins
        found += 1
    assert found >= 10


@pytest.mark.parametrize("amplitude", [0.06, 0.15])
def test_lfc_at_the_removing_radius_takes_the_texture_and_keeps_the_shape(amplitude):
    # One square on a flat background, drawn with and without its texture (rounded to uint8
    # as saved): the difference is the texture. The LFC at r = 24 must take (almost) all of
    # it, r = 48 must keep (almost) all of it; the untextured square itself keeps its level.
    spec = ShapesSpec(texture_amplitude=amplitude)
    size = spec.image_size
    rng = np.random.default_rng(0)
    mask = draw_shape_mask("square", 40, 0.0, (size / 2, size / 2), (size, size))
    inner = draw_shape_mask("square", 24, 0.0, (size / 2, size / 2), (size, size)).astype(bool)
    for texture in range(len(spec.classes)):
        drawn = []
        for amp in (amplitude, 0.0):
            image = np.full((size, size, 3), 0.3, np.float32)
            paint_object(image, mask, np.array([0.7, 0.6, 0.5], np.float32), ShapesSpec(texture_amplitude=amp),
                         texture, tuple(rng.uniform(0, 6, 2)))
            drawn.append(np.round(image[..., 0] * 255).astype(np.float64))
        textured, plain = drawn
        residual = {r: split_frequencies(textured, r)[0] - split_frequencies(plain, r)[0]
                    for r in (REMOVING_RADIUS, KEEPING_RADIUS)}
        spread = (textured - plain)[inner].std()
        assert residual[REMOVING_RADIUS][inner].std() < 0.1 * spread, texture
        assert residual[KEEPING_RADIUS][inner].std() > 0.9 * spread, texture
        low_plain = split_frequencies(plain, REMOVING_RADIUS)[0]
        assert np.abs(low_plain[inner] - plain[inner]).max() < 0.05 * (plain.max() - plain.min())
        outside = ~mask.astype(bool)
        assert abs(low_plain[outside].mean() - plain[outside].mean()) < 1


def _texture_crops(spec, n, rng, crop=24, square=36):
    """``n`` crops (n, 3, crop, crop) inside identical squares that differ only in texture
    (and a random colour and phase), with their LFC at REMOVING_RADIUS; labels = texture."""
    size = spec.image_size
    orig, low, labels = [], [], []
    for _ in range(n):
        label = int(rng.integers(len(spec.classes)))
        centre = rng.uniform(square, size - square, 2)
        image = np.full((size, size, 3), rng.uniform(0.2, 0.8, 3), np.float32)
        mask = draw_shape_mask("square", square, 0.0, tuple(centre), (size, size))
        paint_object(image, mask, rng.uniform(0.15, 0.85, 3).astype(np.float32), spec, label,
                     tuple(rng.uniform(0, 2 * math.pi, 2)))
        image = np.clip(np.round(image * 255), 0, 255).astype(np.float32).transpose(2, 0, 1)  # as saved
        lfc, _ = split_frequencies(image, REMOVING_RADIUS)
        x0, y0 = (int(c) - crop // 2 for c in centre)
        orig.append(image[:, y0 : y0 + crop, x0 : x0 + crop])
        low.append(lfc[:, y0 : y0 + crop, x0 : x0 + crop])
        labels.append(label)
    as_tensor = lambda a: torch.from_numpy(np.stack(a) / 255.0 - 0.5).float()  # noqa: E731
    return as_tensor(orig), as_tensor(low), torch.tensor(labels)


def test_a_texture_only_classifier_is_accurate_on_originals_and_at_chance_on_the_lfc():
    torch.manual_seed(0)
    spec = ShapesSpec()  # the demo's texture: period 4 px, amplitude 0.15
    rng = np.random.default_rng(1)
    train_x, _, train_y = _texture_crops(spec, 500, rng)
    test_x, test_low, test_y = _texture_crops(spec, 300, rng)
    k = len(spec.classes)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 5, padding=2), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, k),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(400):
        idx = torch.randint(len(train_x), (64,))
        loss = torch.nn.functional.cross_entropy(model(train_x[idx]), train_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(test_x).argmax(1) == test_y).float().mean().item()
        acc_low = (model(test_low).argmax(1) == test_y).float().mean().item()
    print(f"texture-only classifier: original {acc:.3f}, LFC r={REMOVING_RADIUS} {acc_low:.3f} (chance {1 / k:.2f})")
    assert acc >= 0.9
    # chance is 1/k = 0.2; 0.32 is 5 standard deviations above it for 300 samples
    assert acc_low <= 1 / k + 5 * math.sqrt(0.2 * 0.8 / len(test_y))


def test_conflict_split_gives_every_object_another_class_texture_and_relabels_by_it(tmp_path):
    from hfc_det.experiments.cue_conflict import relabel_by_texture

    spec = ShapesSpec(num_train=0, num_val=0, num_conflict=30, seed=4)
    json_file, _ = make_shapes_dataset(spec, str(tmp_path))["conflict"]
    with open(json_file) as f:
        data = json.load(f)
    anns = data["annotations"]
    assert len(anns) >= 30
    assert all(a["texture_category_id"] != a["category_id"] for a in anns)
    # every other class's texture occurs: the conflict is not one fixed swap
    pairs = {(a["category_id"], a["texture_category_id"]) for a in anns}
    assert len(pairs) >= 12
    relabelled = relabel_by_texture(data)
    assert [a["category_id"] for a in relabelled["annotations"]] == [a["texture_category_id"] for a in anns]
    assert [a["shape_category_id"] for a in relabelled["annotations"]] == [a["category_id"] for a in anns]
    assert [a["bbox"] for a in relabelled["annotations"]] == [a["bbox"] for a in anns]
    assert data["annotations"][0]["category_id"] == anns[0]["category_id"]  # input unchanged
    with pytest.raises(ValueError, match="texture_category_id"):
        relabel_by_texture({"annotations": [{"id": 1, "category_id": 1}]})
