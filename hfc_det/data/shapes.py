"""A seeded generator of a COCO-format detection dataset of coloured shapes.

Why it exists: ``make demo`` must run the whole LFC/HFC experiment on a machine with no COCO
and no model-zoo weights, and it should also make the paper's hypothesis controllable.
Each object's label is carried by its *shape* (a low-frequency cue) and, as much as
``texture_correlation`` says, by a sinusoidal plaid texture whose orientation depends on a
class (a high-frequency cue: two stripe orientations +-a, which a mirror maps onto itself).

Why these defaults: the images are drawn at the detector's input size (128 px), so no resize
attenuates the texture on its way to the network. The texture period is 4 px, i.e. 128 / 4 =
32 frequency bins from the centre of the 128 px image's spectrum at every orientation: an
LFC view with ``r = 24`` removes it (objects of 15-45 px are still nearly intact at that
radius), ``r = 48`` keeps it. The amplitude (``texture_amplitude``, +-0.15 intensity by
default) decides whether a detector takes the texture shortcut at all.

Texture knob: with probability ``texture_correlation`` an object wears its own class's
texture; otherwise it wears the texture of a class drawn uniformly from *all* classes. At
0.0 the texture is independent of the class (it carries no information about the label);
the expected agreement rate is ``p + (1 - p) / K`` for ``K`` classes. Every annotation
records the texture it got (``texture_category_id``) so this can be checked.

Cue-conflict split (``conflict``, ``num_conflict`` images): scenes drawn as in the other splits, but
every object wears *another* class's texture (uniform over the other ``K - 1``), whatever
``texture_correlation`` says: the detection analogue of Geirhos et al.'s shape-vs-texture
images. Its ``category_id`` is the shape;
:func:`hfc_det.experiments.cue_conflict.relabel_by_texture` gives the texture labels.

Determinism: every image has its own random stream seeded by ``(seed, split, index)``, PNGs
are written with fixed settings and the json is dumped with sorted keys, so the same spec
gives the same bytes. Images are RGB ``uint8``, ``image_size x image_size``; sizes, boxes
and areas are in pixels of that image.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
from typing import Dict, List, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

__all__ = [
    "SHAPE_CLASSES",
    "draw_shape_mask",
    "dataset_paths",
    "register_shapes",
    "ShapesSpec",
    "render_image",
    "write_split",
    "make_shapes_dataset",
    "shape_area",
    "shape_perimeter",
    "texture_pattern",
    "SHAPES_SPLITS",
]

#: Class names, in category-id order (ids start at 1, as in COCO).
SHAPE_CLASSES: Tuple[str, ...] = ("circle", "square", "triangle", "ring", "cross")

# Bumped whenever the drawing changes, so cached datasets made by older code are not reused.
GENERATOR_VERSION = 3

_RING_INNER = 0.55  # inner radius of a ring as a fraction of its outer radius
_CROSS_WIDTH = 1.0 / 3.0  # bar width of a cross as a fraction of its arm length
_SPLIT_INDEX = {"train": 0, "val": 1, "test": 2, "conflict": 3}
#: The splits :func:`make_shapes_dataset` writes.
SHAPES_SPLITS: Tuple[str, ...] = ("train", "val", "conflict")
_FIXED_POINT = 4  # cv2 drawing with 1/16 px precision


@dataclasses.dataclass(frozen=True)
class ShapesSpec:
    """Everything that decides the dataset's bytes (and therefore its cache key).

    Sizes are in pixels of a ``image_size x image_size`` image; ``size`` is a circle's or
    ring's diameter, a square's or triangle's side, a cross's arm length. Colours and the
    texture amplitude are in [0, 1] intensity units.
    """

    num_train: int = 600
    num_val: int = 100
    num_conflict: int = 100
    image_size: int = 128
    min_objects: int = 1
    max_objects: int = 4
    min_size: float = 15.0
    max_size: float = 45.0
    classes: Tuple[str, ...] = SHAPE_CLASSES
    texture_correlation: float = 1.0
    texture_amplitude: float = 0.15
    texture_period: float = 4.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "classes", tuple(self.classes))
        unknown = [c for c in self.classes if c not in SHAPE_CLASSES]
        if unknown or not self.classes:
            raise ValueError(f"classes must be a non-empty subset of {SHAPE_CLASSES}, got {unknown}")
        if not 0.0 <= self.texture_correlation <= 1.0:
            raise ValueError(f"texture_correlation must be in [0, 1], got {self.texture_correlation}")
        if not 0.0 <= self.texture_amplitude <= 0.5:
            raise ValueError(f"texture_amplitude must be in [0, 0.5], got {self.texture_amplitude}")
        if self.texture_period < 2.0:
            raise ValueError(f"texture_period must be >= 2 px (Nyquist), got {self.texture_period}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {self.image_size}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(
                f"need 1 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}"
            )
        if not 4 <= self.min_size <= self.max_size <= self.image_size / 1.5:
            raise ValueError(
                f"need 4 <= min_size <= max_size <= image_size / 1.5, got "
                f"{self.min_size}, {self.max_size} for image_size {self.image_size}"
            )
        if self.num_train < 0 or self.num_val < 0 or self.num_conflict < 0:
            raise ValueError("num_train, num_val and num_conflict must be >= 0")
        if self.num_conflict and len(self.classes) < 2:
            raise ValueError("a cue-conflict split needs at least 2 classes (or num_conflict 0)")

    @classmethod
    def from_options(cls, options) -> "ShapesSpec":
        """Build from a mapping whose keys name fields in any case (``cfg.SHAPES``,
        ``vars(argparse_namespace)``); keys that are not fields are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k.lower(): v for k, v in dict(options).items() if k.lower() in names})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        return d

    def key(self) -> str:
        """Short hash of the spec and the generator version: the cache folder's name."""
        payload = json.dumps({"v": GENERATOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def texture_angle(self, category_index: int) -> float:
        """Plaid half-angle (radians) of class ``category_index`` (0-based), evenly spread
        over [0, pi/2]: the texture is stripes at +angle and -angle (see :func:`texture_pattern`)."""
        return 0.5 * math.pi * category_index / max(len(self.classes) - 1, 1)


# ----------------------------------------------------------------------------- geometry
def shape_area(kind: str, size: float) -> float:
    """Analytic area (px^2) of a shape of the given ``size`` (see :class:`ShapesSpec`)."""
    if kind == "circle":
        return math.pi * size * size / 4
    if kind == "ring":
        return math.pi * size * size / 4 * (1 - _RING_INNER**2)
    if kind == "square":
        return size * size
    if kind == "triangle":
        return math.sqrt(3) / 4 * size * size
    if kind == "cross":
        w = _CROSS_WIDTH * size
        return 2 * size * w - w * w
    raise ValueError(f"unknown shape {kind!r}")


def shape_perimeter(kind: str, size: float) -> float:
    """Analytic outline length (px) of a shape; rasterisation error scales with it."""
    if kind == "circle":
        return math.pi * size
    if kind == "ring":
        return math.pi * size * (1 + _RING_INNER)
    if kind == "square":
        return 4 * size
    if kind == "triangle":
        return 3 * size
    if kind == "cross":
        return 4 * size  # 12 edges: 8 of (size - w) / 2 and 4 of w
    raise ValueError(f"unknown shape {kind!r}")


def _extent(kind: str, size: float) -> float:
    """Half-width of a disc that contains the shape at any rotation (px)."""
    if kind in ("circle", "ring"):
        return size / 2
    if kind == "square":
        return size / math.sqrt(2)
    if kind == "triangle":
        return size / math.sqrt(3)
    if kind == "cross":
        return math.hypot(size / 2, _CROSS_WIDTH * size / 2)
    raise ValueError(f"unknown shape {kind!r}")


def _rotated(points: np.ndarray, angle: float, center: Tuple[float, float]) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return points @ rot.T + np.asarray(center)


def _fill_polygon(canvas: np.ndarray, points: np.ndarray) -> None:
    pts = np.round(points * (1 << _FIXED_POINT)).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=_FIXED_POINT)


def _fill_disc(canvas: np.ndarray, center, radius: float, value: int) -> None:
    scale = 1 << _FIXED_POINT
    c = (int(round(center[0] * scale)), int(round(center[1] * scale)))
    cv2.circle(canvas, c, int(round(radius * scale)), value, -1, cv2.LINE_8, _FIXED_POINT)


def draw_shape_mask(kind: str, size: float, angle: float, center, shape: Tuple[int, int]) -> np.ndarray:
    """Binary ``uint8`` mask (H, W) of one shape centred at ``center = (x, y)`` px."""
    canvas = np.zeros(shape, np.uint8)
    half = size / 2
    if kind == "circle":
        _fill_disc(canvas, center, half, 1)
    elif kind == "ring":
        _fill_disc(canvas, center, half, 1)
        _fill_disc(canvas, center, half * _RING_INNER, 0)
    elif kind == "square":
        pts = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
        _fill_polygon(canvas, _rotated(pts, angle, center))
    elif kind == "triangle":
        r = size / math.sqrt(3)  # circumradius of an equilateral triangle
        a = np.array([-math.pi / 2, math.pi / 6, 5 * math.pi / 6])
        pts = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
        _fill_polygon(canvas, _rotated(pts, angle, center))
    elif kind == "cross":
        w = _CROSS_WIDTH * size / 2
        bar = np.array([[-half, -w], [half, -w], [half, w], [-half, w]])
        _fill_polygon(canvas, _rotated(bar, angle, center))
        _fill_polygon(canvas, _rotated(bar[:, ::-1], angle, center))
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return canvas


# ----------------------------------------------------------------------------- rendering
def _smooth_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float32 in [0, 1]: a 4x4 random colour grid, bicubically upsampled."""
    grid = rng.uniform(0.1, 0.9, size=(4, 4, 3)).astype(np.float32)
    return np.clip(cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def texture_pattern(spec: ShapesSpec, texture_index: int, phases: Tuple[float, float]) -> np.ndarray:
    """(H, W) float32 in [-1, 1], ``H = W = image_size``: the mean of two sinusoids of period ``texture_period`` at
    +angle and -angle of the class (a plaid).

    Why two: a horizontal or vertical mirror (detectron2's flip augmentation) turns a stripe
    at +a into one at -a; with both present, a mirrored texture is still its class's texture.
    """
    angle = spec.texture_angle(texture_index)
    yy, xx = np.mgrid[0 : spec.image_size, 0 : spec.image_size].astype(np.float32)
    k = 2 * math.pi / spec.texture_period
    plus = np.sin(k * (xx * math.cos(angle) + yy * math.sin(angle)) + phases[0])
    minus = np.sin(k * (xx * math.cos(angle) - yy * math.sin(angle)) + phases[1])
    return (0.5 * (plus + minus)).astype(np.float32)


def _pick_texture(spec: ShapesSpec, rng: np.random.Generator, category_index: int, conflict: bool) -> int:
    if conflict:  # any class's texture but its own
        other = int(rng.integers(len(spec.classes) - 1))
        return other + (other >= category_index)
    if rng.random() < spec.texture_correlation:
        return category_index
    return int(rng.integers(len(spec.classes)))


def paint_object(image: np.ndarray, mask: np.ndarray, colour: np.ndarray, spec: ShapesSpec,
                 texture_index: int, phases: Tuple[float, float]) -> None:
    """Fill ``mask`` (H, W) of the float (H, W, 3) ``image`` in place with ``colour`` (3,)
    plus ``texture_amplitude`` times the class ``texture_index``'s plaid (all in [0, 1])."""
    fill = colour[None, None, :] + spec.texture_amplitude * texture_pattern(spec, texture_index, phases)[..., None]
    sel = mask.astype(bool)
    image[sel] = fill[sel]


def render_image(spec: ShapesSpec, rng: np.random.Generator, conflict: bool = False) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image; with ``conflict`` every object wears another class's texture.

    Returns ``(image, objects)``: ``image`` is (H, W, 3) ``uint8`` RGB; each object is a dict
    with ``category_index`` (0-based), ``texture_index``, ``shape_size`` (px),
    ``shape_angle`` (radians), ``center`` (x, y px) and ``mask``, the *visible* (H, W)
    ``uint8`` mask after later objects have been drawn on top.
    """
    size = spec.image_size
    image = _smooth_background(rng, size)
    objects: List[dict] = []
    occupied = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(spec.min_objects, spec.max_objects + 1))):
        category_index = int(rng.integers(len(spec.classes)))
        kind = spec.classes[category_index]
        shape_size = float(rng.uniform(spec.min_size, spec.max_size))
        angle = float(rng.uniform(0, 2 * math.pi))
        reach = _extent(kind, shape_size) + 1
        mask = None
        # A few tries at a place that hides at most a third of any earlier object (and of
        # this one), so every box stays a fair detection target.
        for _try in range(20):
            center = (float(rng.uniform(reach, size - reach)), float(rng.uniform(reach, size - reach)))
            candidate = draw_shape_mask(kind, shape_size, angle, center, (size, size))
            area = int(candidate.sum())
            if area == 0 or int((candidate & occupied).sum()) > area / 3:
                continue
            if all(int((o["mask"] & ~candidate & 1).sum()) >= o["full_area"] * 2 / 3 for o in objects):
                mask = candidate
                break
        if mask is None:
            continue
        # A colour that stands out from the background under the shape.
        local = image[mask.astype(bool)].mean(axis=0)
        for _try in range(10):
            colour = rng.uniform(0.15, 0.85, size=3).astype(np.float32)
            if np.abs(colour - local).max() > 0.3:
                break
        texture_index = _pick_texture(spec, rng, category_index, conflict)
        phases = (float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi)))
        paint_object(image, mask, colour, spec, texture_index, phases)
        for o in objects:
            o["mask"] = o["mask"] & ~mask & 1
        occupied |= mask
        objects.append(
            dict(
                category_index=category_index,
                texture_index=texture_index,
                shape_size=shape_size,
                shape_angle=angle,
                center=center,
                mask=mask,
                full_area=int(mask.sum()),
            )
        )
    for o in objects:
        o.pop("full_area")
    out = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    return out, objects


def _image_rng(spec: ShapesSpec, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, _SPLIT_INDEX[split], index])


def _annotation(obj: dict, ann_id: int, image_id: int) -> dict:
    rle = mask_utils.encode(np.asfortranarray(obj["mask"]))
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": obj["category_index"] + 1,
        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        "area": float(mask_utils.area(rle)),
        "iscrowd": 0,
        "segmentation": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")},
        # Not COCO fields: what the generator chose, so tests and analyses can check it.
        "texture_category_id": obj["texture_index"] + 1,
        "shape_size": round(obj["shape_size"], 4),
        "shape_angle": round(obj["shape_angle"], 6),
        "shape_center": [round(c, 4) for c in obj["center"]],
    }


def write_split(spec: ShapesSpec, split: str, num_images: int, root: str, progress: bool = False) -> str:
    """Write ``root/<split>/NNNNNN.png`` and ``root/instances_<split>.json``; returns the json path."""
    if split not in _SPLIT_INDEX:
        raise ValueError(f"split must be one of {sorted(_SPLIT_INDEX)}, got {split!r}")
    image_dir = os.path.join(root, split)
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    indices = range(num_images)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"shapes {split}", unit="img")
    for index in indices:
        image, objects = render_image(spec, _image_rng(spec, split, index), conflict=split == "conflict")
        file_name = f"{index:06d}.png"
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        cv2.imwrite(os.path.join(image_dir, file_name), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        image_id = index + 1
        images.append({"id": image_id, "file_name": file_name, "width": spec.image_size, "height": spec.image_size})
        for obj in objects:
            annotations.append(_annotation(obj, len(annotations) + 1, image_id))
    coco = {
        "info": {
            "description": "hfc_det synthetic shapes",
            "generator_version": GENERATOR_VERSION,
            "spec": spec.to_dict(),
            "split": split,
        },
        "licenses": [],
        "categories": [
            {
                "id": i + 1,
                "name": name,
                "supercategory": "shape",
                "texture_angle_deg": round(math.degrees(spec.texture_angle(i)), 4),
            }
            for i, name in enumerate(spec.classes)
        ],
        "images": images,
        "annotations": annotations,
    }
    json_path = os.path.join(root, f"instances_{split}.json")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(coco, f, sort_keys=True, separators=(",", ":"))
    return json_path


def dataset_paths(spec: ShapesSpec, root: str) -> Dict[str, Tuple[str, str]]:
    """``{split: (json_file, image_root)}`` of the cached dataset for ``spec`` under ``root``."""
    folder = os.path.join(root, spec.key())
    return {
        split: (os.path.join(folder, f"instances_{split}.json"), os.path.join(folder, split))
        for split in SHAPES_SPLITS
    }


def make_shapes_dataset(
    spec: ShapesSpec, root: str, progress: bool = False, force: bool = False
) -> Dict[str, Tuple[str, str]]:
    """Generate (or reuse) the train and val splits of ``spec`` under ``root/<spec.key()>``.

    The dataset is built in a temporary sibling folder and renamed into place when complete,
    so an interrupted run never leaves a folder that a later run would trust.
    Returns :func:`dataset_paths`.
    """
    folder = os.path.join(root, spec.key())
    if force and os.path.isdir(folder):
        shutil.rmtree(folder)
    if not os.path.isdir(folder):
        os.makedirs(root, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{spec.key()}.tmp-", dir=root)
        try:
            for split in SHAPES_SPLITS:
                write_split(spec, split, getattr(spec, f"num_{split}"), tmp, progress)
            with open(os.path.join(tmp, "spec.json"), "w", encoding="utf-8") as f:
                json.dump({"generator_version": GENERATOR_VERSION, **spec.to_dict()}, f, indent=2, sort_keys=True)
            try:
                os.rename(tmp, folder)
            except OSError:  # another process finished the same dataset first: keep theirs
                if not os.path.isdir(folder):
                    raise
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp)
    return dataset_paths(spec, root)


def register_shapes(spec: ShapesSpec, root: str, prefix: str = "shapes", progress: bool = False) -> Dict[str, str]:
    """Make (cached) and register the splits with detectron2 as ``<prefix>_train``/``_val``.

    Returns ``{split: dataset_name}``. A name already registered for another spec's files is
    re-registered, so one process can train on several specs in turn.
    """
    import hfc_det.compat  # noqa: F401  (before detectron2)
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from hfc_det.data.datasets import register_coco_json

    paths = make_shapes_dataset(spec, root, progress=progress)
    names = {}
    for split, (json_file, image_root) in paths.items():
        name = f"{prefix}_{split}"
        if name in DatasetCatalog.list():
            known = MetadataCatalog.get(name).get("json_file", "")
            if os.path.abspath(known) != os.path.abspath(json_file):
                DatasetCatalog.remove(name)
                MetadataCatalog.remove(name)
        names[split] = register_coco_json(name, json_file, image_root)
    return names
