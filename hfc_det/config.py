"""The one detection config entry: this project's keys (``cfg.HFC.*``, ``cfg.SHAPES.*``),
:func:`get_cfg` (detectron2's defaults + those keys + a yaml + ``KEY VALUE`` overrides, with
one-line errors) and the config-file lookup of the tools.

Follows detectron2's project convention (``add_<x>_config`` on a fresh config before
merging a yaml); every tool and the trainer build their config through :func:`get_cfg`,
so a config that trains (with ``SHAPES`` keys) is one that evaluates.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import yaml

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg as detectron2_default_cfg

from hfc_det.data.shapes import ShapesSpec
# The parser-side names live in the detectron2-free hfc_det.cli.options (so --help needs no torch);
# re-exported here for code that reads them from the config module.
from hfc_det.cli.options import (  # noqa: F401
    CONFIG_DIR,
    FILTER_STAGES,
    HFC_SCALINGS,
    ZOO_PREFIX,
    available_configs,
    check_overrides,
    resolve_config_file,
)

__all__ = [
    "add_hfc_config",
    "add_shapes_config",
    "get_cfg",
    "check_device",
    "num_classes",
    "check_overrides",
    "FILTER_STAGES",
    "HFC_SCALINGS",
    "VIEW_SHORTHANDS",
    "CONFIG_DIR",
    "available_configs",
    "resolve_config_file",
    "resolve_zoo_config",
    "views_from_cfg",
    "images_per_batch",
    "DEFAULT_IMAGES_PER_BATCH",
]

#: Kinds of view that cfg.HFC.VIEWS expands over cfg.HFC.RADII ("noise" is the control view
#: noise_r{R}, hfc_det.views.noise_control); any other entry is a full view name (band_r8-16,
#: blur_s2, ...: see hfc_det.views.grammar).
VIEW_SHORTHANDS = ("original", "low", "high", "noise")

def add_hfc_config(cfg: CN) -> CN:
    """Add the ``cfg.HFC`` and ``cfg.SHAPES`` keys to ``cfg`` (in place; also returned). Idempotent."""
    add_shapes_config(cfg)
    if "HFC" in cfg:
        return cfg
    cfg.HFC = CN()
    # Radii of the low-pass mask in frequency bins (distance < R from the zero frequency is
    # "low"). One pair of views (low_rR, high_rR) per radius; the paper's COCO run used 128.
    cfg.HFC.RADII = [128]
    # Which views to evaluate: the kinds "original", "low", "high", "noise" (low/high/noise
    # at every radius of RADII) and any full view name of hfc_det.views.grammar: "band_r8-16"
    # (frequencies at distance 8 <= d < 16), "blur_s2" (Gaussian blur, sigma 2 px),
    # "svd_top4", ... Gains and losses are measured against "original", so keep it when you
    # want them. "noise" is the control noise_r{R}: the original plus white noise with the
    # L2 norm (per image and channel) of its HFC at R, seeded by the image id
    # (hfc_det.views.noise_control).
    cfg.HFC.VIEWS = ["original", "low", "high"]
    # COCO-C corruption views (hfc_det.views.corruptions), added after VIEWS: corruption names,
    # "benchmark" (the 15 of mPC) or "all" (the 19), each at every severity of SEVERITIES (1-5):
    # CORRUPTIONS ["fog"] with SEVERITIES [3] is the view corrupt_fog_s3 (eval_lfc.py's
    # --corruptions / --severities). Applied to the decoded image before the resize whatever
    # FILTER_STAGE says, as the benchmark does.
    cfg.HFC.CORRUPTIONS = []
    cfg.HFC.SEVERITIES = [1, 2, 3, 4, 5]
    # Where the split applies:
    #   "before_resize": on the decoded image at its own resolution, then every view goes
    #     through the test-time resize (the paper filtered the dataset's images);
    #   "after_resize": on the resized image, i.e. on exactly what the network sees.
    # With before_resize a radius means the same frequency band of every source image;
    # with after_resize it means the same band of the network's input.
    cfg.HFC.FILTER_STAGE = "before_resize"
    # How a high-frequency view is scaled before the model (it is centred near 0 and has
    # negative values; the model's PIXEL_MEAN/STD normalisation follows either way):
    #   "none": as is, float, no clipping (default);
    #   "max": the authors' per-image rescale img / img.max() * 255;
    #   "minmax": (img - min) / (max - min) * 255, i.e. onto the pixel range [0, 255].
    cfg.HFC.HFC_SCALING = "none"
    # Kernel smoothing (Section 6.3, Eq. 3) of the model's first convolution after its
    # weights load: each 3x3-neighbourhood weight rho (0 = off). Lets the smoothed detector
    # be evaluated on the same views (hfc_det.analysis.smoothing.smooth_first_layer).
    cfg.HFC.SMOOTH_RHO = 0.0
    # Score threshold T of the strict per-image AP (hfc_det.metrics.strict_ap), in [0, 1]:
    # a category with no ground truth in an image but a detection there scoring >= T counts
    # as AP 0 in that image's mean. Changes no detection (a resumed run may change it).
    cfg.HFC.STRICT_SCORE = 0.5
    # Images whose views go through the model together (their views in one batch of
    # N x len(views)). 0: by device (1 on CPU, where batching measured no faster;
    # DEFAULT_IMAGES_PER_BATCH["cuda"] on a GPU). Only images of the same padded size share
    # a batch, so detections are those of N = 1 (padding an image further would change them).
    cfg.HFC.IMAGES_PER_BATCH = 0
    # bf16 autocast of the model on CUDA (evaluation only; refused on CPU). Detections
    # differ from float32 slightly (benchmarks/RESULTS.md gives the AP difference).
    cfg.HFC.AMP = False
    # Where the model comes from (eval_lfc sets these; hfc_det.evaluation.model_source):
    # CONFIG_SYSTEM "yacs" (a .yaml: detectron2's build_model(cfg)) or "lazy" (a LazyConfig .py:
    # instantiate(cfg.model) of CONFIG_FILE after its key=value LAZY_OVERRIDES; this config then
    # carries the HFC keys, device, weights and the test loader's resize and image format).
    # CONFIG_FILE: "zoo:<name>" for detectron2's model zoo, else the file's absolute path.
    cfg.HFC.CONFIG_SYSTEM = "yacs"
    cfg.HFC.CONFIG_FILE = ""
    cfg.HFC.LAZY_OVERRIDES = []
    # Evaluate weights that leave some of the model's tensors uninitialised (missing, or of
    # another shape: another architecture or class count) instead of refusing them; the keys
    # go into summary.json. Off: a partly random model's near-zero AP is no finding.
    cfg.HFC.ALLOW_PARTIAL_WEIGHTS = False
    return cfg


def add_shapes_config(cfg: CN) -> CN:
    """Add ``cfg.SHAPES``: the synthetic dataset behind the ``shapes_train``/``shapes_val`` names.

    One key per :class:`hfc_det.data.shapes.ShapesSpec` field, upper-cased, with the same
    defaults and meaning (sizes in px, texture amplitude in [0, 1] intensity,
    TEXTURE_CORRELATION = probability an object wears its own class's texture), plus
    ``SHAPES.ROOT``, the cache folder (one sub-folder per spec hash). Idempotent.
    """
    if "SHAPES" in cfg:
        return cfg
    cfg.SHAPES = CN()
    cfg.SHAPES.ROOT = "output/demo/shapes"
    for name, value in ShapesSpec().to_dict().items():
        setattr(cfg.SHAPES, name.upper(), value)
    return cfg


#: The config key that holds a detector's class count, by ``MODEL.META_ARCHITECTURE``.
NUM_CLASSES_KEYS = {"RetinaNet": "MODEL.RETINANET.NUM_CLASSES", "GeneralizedRCNN": "MODEL.ROI_HEADS.NUM_CLASSES",
                    "PanopticFPN": "MODEL.ROI_HEADS.NUM_CLASSES"}


def num_classes(cfg: CN) -> Optional[Tuple[str, int]]:
    """``(key, class count)`` of the model ``cfg`` builds; None for another architecture."""
    key = NUM_CLASSES_KEYS.get(cfg.MODEL.META_ARCHITECTURE)
    if key is None:
        return None
    node = cfg
    for part in key.split("."):
        node = node[part]
    return key, int(node)


def check_device(cfg: CN) -> None:
    """The one CUDA policy, checked by whatever builds a model from ``cfg`` (eval_lfc's
    setup, the trainer): a cuda ``MODEL.DEVICE`` without a CUDA device is a one-line
    ``ValueError``, never a silent fall-back to the CPU (:func:`hfc_det.cli.helpers.resolve_device`
    is the same policy for the classification tools)."""
    if str(cfg.MODEL.DEVICE).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("MODEL.DEVICE is cuda but torch sees no CUDA device: add MODEL.DEVICE cpu")


#: HFC.IMAGES_PER_BATCH 0 means this, per device type (CPU: measured, bench_eval.py; CUDA:
#: a guess until a GPU run of benchmarks/gpu_check.sh measures it).
DEFAULT_IMAGES_PER_BATCH = {"cpu": 1, "cuda": 4}


def images_per_batch(cfg: CN) -> int:
    """``cfg.HFC.IMAGES_PER_BATCH``, with 0 resolved by ``cfg.MODEL.DEVICE``."""
    n = int(cfg.HFC.IMAGES_PER_BATCH)
    return n if n > 0 else DEFAULT_IMAGES_PER_BATCH.get(str(cfg.MODEL.DEVICE).split(":")[0], 1)


def views_from_cfg(cfg: CN) -> List[str]:
    """The view names ``cfg`` asks for, in evaluation order: original, low_r*, high_r*,
    noise_r*, then the full view names of ``HFC.VIEWS`` in their order, then the corruption
    views ``corrupt_<name>_s<severity>`` of ``HFC.CORRUPTIONS`` x ``HFC.SEVERITIES``.

    Raises ``ValueError`` with a one-line message for a bad ``cfg.HFC`` value.
    """
    from hfc_det.views.frequency import view_name
    from hfc_det.views.grammar import canonical_view_name

    kinds = [str(k) for k in cfg.HFC.VIEWS]
    if not kinds:
        raise ValueError(f"HFC.VIEWS must name at least one view: any of {list(VIEW_SHORTHANDS)} or view names")
    named = []
    for k in kinds:
        if k not in VIEW_SHORTHANDS:
            try:
                named.append(canonical_view_name(k))
            except ValueError as e:
                raise ValueError(f"HFC.VIEWS: {e}; or one of the kinds {list(VIEW_SHORTHANDS)}") from None
    if cfg.HFC.FILTER_STAGE not in FILTER_STAGES:
        raise ValueError(f"HFC.FILTER_STAGE must be one of {list(FILTER_STAGES)}, got {cfg.HFC.FILTER_STAGE!r}")
    if cfg.HFC.HFC_SCALING not in HFC_SCALINGS:
        raise ValueError(f"HFC.HFC_SCALING must be one of {list(HFC_SCALINGS)}, got {cfg.HFC.HFC_SCALING!r}")
    from hfc_det.metrics.strict_ap import check_strict_score

    check_strict_score(cfg.HFC.STRICT_SCORE, "HFC.STRICT_SCORE")
    rho = cfg.HFC.SMOOTH_RHO
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not rho >= 0 or rho == float("inf"):
        raise ValueError(f"HFC.SMOOTH_RHO must be a finite number >= 0, got {rho!r}")
    n = cfg.HFC.get("IMAGES_PER_BATCH", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"HFC.IMAGES_PER_BATCH must be an integer >= 0 (0: by device), got {n!r}")
    if cfg.HFC.get("AMP", False) and not str(cfg.MODEL.DEVICE).startswith("cuda"):
        raise ValueError(f"--amp (HFC.AMP) is bf16 autocast on CUDA only; MODEL.DEVICE is {cfg.MODEL.DEVICE}")
    radii = list(cfg.HFC.RADII)
    if any(k in ("low", "high", "noise") for k in kinds) and not radii:
        raise ValueError("HFC.RADII is empty: give at least one radius for low/high/noise views")
    for r in radii:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0 or r != r:
            raise ValueError(f"HFC.RADII must be positive numbers, got {radii}")
    views = ["original"] if "original" in kinds else []
    unique_radii = list(dict.fromkeys(float(r) for r in radii))
    for kind in ("low", "high"):
        if kind in kinds:
            views += [view_name(kind, r) for r in unique_radii]
    if "noise" in kinds:
        from hfc_det.views.noise_control import noise_view_name

        views += [noise_view_name(r) for r in unique_radii]
    corrupted = []
    if list(cfg.HFC.get("CORRUPTIONS", [])):
        from hfc_det.views.corruptions import corruption_view_names

        try:
            corrupted = corruption_view_names([str(c) for c in cfg.HFC.CORRUPTIONS], list(cfg.HFC.SEVERITIES))
        except ValueError as e:
            raise ValueError(f"HFC.CORRUPTIONS / HFC.SEVERITIES: {e}") from None
    return list(dict.fromkeys(views + named + corrupted))


def _yaml_error(e: "yaml.YAMLError") -> str:
    """One line for a YAML syntax error: the file, line and what the parser found."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{mark.name}, line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    return "malformed YAML: " + where + " ".join(f"{problem}{f' ({context})' if context else ''}".split())


def check_yaml_file(path: str) -> None:
    """Refuse (one-line ``ValueError`` naming the file and line) a config file that is empty,
    is not YAML, or is not a mapping of ``KEY: value``. Parses only (no tags constructed)."""
    try:
        with open(path, encoding="utf-8") as f:
            node = yaml.compose(f)
    except yaml.YAMLError as e:
        raise ValueError(f"bad config {path}: {_yaml_error(e)}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"bad config {path}: not a text file ({e.reason} at byte {e.start})") from None
    if node is None:
        raise ValueError(f"bad config {path}: the file is empty (a config is a YAML mapping, e.g. 'MODEL: ...')")
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(f"bad config {path}, line {node.start_mark.line + 1}: expected a YAML mapping of "
                         f"'KEY: value' lines, found a {node.id}")


def resolve_zoo_config(name: str) -> Tuple[str, str]:
    """``zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x`` -> ``(zoo name with suffix, file path)``
    with ``detectron2.model_zoo.get_config_file``. Without a suffix ``.yaml`` is tried first,
    then the LazyConfig ``.py``. Raises a one-line ``FileNotFoundError`` naming close names."""
    import difflib

    from detectron2 import model_zoo

    rel = name[len(ZOO_PREFIX):] if name.startswith(ZOO_PREFIX) else name
    candidates = [rel] if rel.endswith((".yaml", ".py")) else [rel + ".yaml", rel + ".py"]
    for candidate in candidates:
        try:
            return candidate, model_zoo.get_config_file(candidate)
        except RuntimeError:  # "... not available in Model Zoo!"
            continue
    root = Path(model_zoo.__file__).parent / "configs"
    known = [str(p.relative_to(root).with_suffix("")) for p in root.rglob("*") if p.suffix in (".yaml", ".py")]
    close = difflib.get_close_matches(rel.rsplit(".", 1)[0] if rel.endswith((".yaml", ".py")) else rel, known, n=3)
    raise FileNotFoundError(
        f"unknown model-zoo config {name!r}: detectron2's model zoo ({root}) has no {' or '.join(candidates)}"
        + (f" (close: {', '.join(ZOO_PREFIX + c for c in close)})" if close else "")
    )


@contextlib.contextmanager
def _quiet_if_shipped(path: Optional[str]):
    """fvcore warns "Loading config ... with yaml.unsafe_load. Your machine may be at risk" for
    every yaml with a Python tag, among them detectron2's own model-zoo configs. For the files
    detectron2 ships (trusted as its code is) the warning would only push a one-line error
    off the terminal; for a user's own file it stays."""
    from detectron2 import model_zoo

    shipped = path is not None and Path(path).resolve().is_relative_to(Path(model_zoo.__file__).resolve().parent)
    fvcore_logger = logging.getLogger("fvcore.common.config")
    level = fvcore_logger.level
    if shipped:
        fvcore_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        fvcore_logger.setLevel(level)


def get_cfg(config: Optional[str] = None, opts: Sequence[str] = ()) -> CN:
    """detectron2's defaults + the HFC and SHAPES keys, ``config`` (name or path) and ``opts``
    (``KEY VALUE`` pairs) merged; not frozen.

    ``MODEL.DEVICE`` stays as the config says (detectron2's default: cuda); whatever
    places a model on it calls :func:`check_device` first.

    Raises one-line errors: ``FileNotFoundError`` for an unknown config, ``ValueError`` for
    an unknown key, an odd number of overrides or a bad HFC value.
    """
    check_overrides(opts)
    cfg = add_hfc_config(detectron2_default_cfg())
    path = resolve_config_file(config) if config else None
    if path and path.startswith(ZOO_PREFIX):
        path = resolve_zoo_config(path)[1]
    if path and path.endswith(".py"):
        raise ValueError(f"{config} is a LazyConfig (.py): eval_lfc.py evaluates it (--config); "
                         f"this command takes a yacs .yaml config")
    if path:
        check_yaml_file(path)
    # yacs raises KeyError (unknown key) or AssertionError (odd number of overrides)
    for what, merge, arg in ((f"bad config {path}", cfg.merge_from_file, path),
                             ("bad config override", cfg.merge_from_list, list(opts))):
        if arg:
            try:
                with _quiet_if_shipped(path):
                    merge(arg)
            except (KeyError, AssertionError) as e:
                raise ValueError(f"{what}: {e.args[0] if e.args else e}") from None
            except yaml.YAMLError as e:  # a _BASE_ file it names
                raise ValueError(f"bad config {path}: {_yaml_error(e)}") from None
    views_from_cfg(cfg)  # fail early, in one line, on a bad HFC value
    return cfg
