"""Where an evaluated detector comes from: a yacs ``.yaml`` or a LazyConfig ``.py``, a local
file or a ``zoo:`` name of detectron2's model zoo, made into the one settings object the
evaluation reads (a yacs ``CfgNode`` with the ``HFC.*`` keys).

* yacs (``.yaml``): :func:`hfc_det.config.get_cfg` as before; the model is
  ``build_model(cfg)``.
* LazyConfig (``.py``): ``LazyConfig.load`` plus the user's ``key=value`` overrides (as
  detectron2's ``tools/lazyconfig_train_net.py``); the model is ``instantiate(cfg.model)``.
  The yacs settings object gets what the evaluation needs from it: ``MODEL.DEVICE``
  (``train.device``), ``MODEL.WEIGHTS`` (``train.init_checkpoint``), the test resize and
  image format (``dataloader.test.mapper``: ``INPUT.MIN_SIZE_TEST``/``MAX_SIZE_TEST``/
  ``FORMAT``) and the test dataset (``DATASETS.TEST``); ``HFC.CONFIG_FILE`` and
  ``HFC.LAZY_OVERRIDES`` say how to build the model again (in every process of a launch).
  Upper-case ``KEY=value`` overrides (``HFC.RADII=[8]``, ``DATALOADER.NUM_WORKERS=0``) set
  the yacs keys, so every HFC option works for both systems.
* ``zoo:`` names: with no weights given (no ``MODEL.WEIGHTS`` / ``train.init_checkpoint``
  override), the weights are the zoo's trained checkpoint URL
  (``model_zoo.get_checkpoint_url``), which detectron2 downloads and caches.
"""
from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple

import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from hfc_det.config import ZOO_PREFIX, check_overrides, get_cfg, resolve_config_file, resolve_zoo_config
from hfc_det.config import num_classes as yacs_num_classes

__all__ = ["eval_config", "load_lazy_config", "build_detector", "model_num_classes", "lazy_config_text",
           "zoo_weights_url", "weights_override_hint"]

LAZY, YACS = "lazy", "yacs"


def zoo_weights_url(zoo_name: str) -> str:
    """The model zoo's trained checkpoint URL for ``zoo_name`` (e.g.
    ``COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml``); a one-line ``ValueError`` when the zoo
    has none (then the weights must be given)."""
    from detectron2 import model_zoo

    try:
        return model_zoo.get_checkpoint_url(zoo_name)
    except RuntimeError:
        key = "train.init_checkpoint=PATH" if zoo_name.endswith(".py") else "MODEL.WEIGHTS PATH"
        raise ValueError(f"detectron2's model zoo has no trained weights for {ZOO_PREFIX}{zoo_name}: "
                         f"give them with {key} (or an empty PATH for a random model)") from None


def weights_override_hint(cfg, path: str = "PATH") -> str:
    """How to give the weights of ``cfg``'s config system on the command line."""
    lazy = cfg.HFC.get("CONFIG_SYSTEM", YACS) == LAZY
    return f"train.init_checkpoint={path}" if lazy else f"MODEL.WEIGHTS {path}"


def _locate(name: str) -> Tuple[str, Optional[str]]:
    """``(file path, zoo name or None)`` of ``--config``."""
    if name.startswith(ZOO_PREFIX):
        zoo_name, path = resolve_zoo_config(name)
        return path, zoo_name
    return resolve_config_file(name), None


def eval_config(name: str, overrides: Sequence[Any] = (), settings_pairs: Sequence[Any] = ()) -> Tuple[Any, str]:
    """The evaluation's settings (an unfrozen yacs ``CfgNode``) and the config file used.

    ``name``: a config name under ``configs/``, a ``.yaml``/``.py`` path or ``zoo:NAME``;
    ``overrides``: the user's trailing overrides (yacs ``KEY VALUE`` pairs, or ``key=value``
    for a LazyConfig); ``settings_pairs``: the tool's own yacs ``KEY VALUE`` pairs (HFC
    options, output folder), applied last. One-line errors (``ValueError``,
    ``FileNotFoundError``).
    """
    path, zoo_name = _locate(name)
    source = ZOO_PREFIX + zoo_name if zoo_name else os.path.abspath(path)
    if path.endswith(".py"):
        cfg = _lazy_eval_config(path, zoo_name, overrides, settings_pairs)
    else:
        check_overrides(overrides)  # the user's own, before the settings' pairs are appended
        cfg = get_cfg(path, [*overrides, *settings_pairs])
        if zoo_name and "MODEL.WEIGHTS" not in list(overrides)[::2]:
            cfg.MODEL.WEIGHTS = zoo_weights_url(zoo_name)
    cfg.HFC.CONFIG_SYSTEM = LAZY if path.endswith(".py") else YACS
    cfg.HFC.CONFIG_FILE = source
    return cfg, path


def _split_lazy_overrides(overrides: Sequence[Any]) -> Tuple[List[str], List[str]]:
    """``key=value`` overrides -> (LazyConfig ones, yacs ``KEY VALUE`` pairs of upper-case keys)."""
    lazy, pairs = [], []
    for o in map(str, overrides):
        key, eq, value = o.partition("=")
        if not eq or not key or not key[:1].isalpha():
            raise ValueError(f"bad config override {o!r}: a LazyConfig takes key=value overrides "
                             f"(e.g. train.init_checkpoint=model.pkl train.device=cpu HFC.RADII=[8])")
        if key[:1].isupper():
            pairs += [key, value]
        else:
            lazy.append(o)
    return lazy, pairs


def load_lazy_config(path: str, overrides: Sequence[str] = ()):
    """``LazyConfig.load(path)`` with ``key=value`` ``overrides``; one-line ``ValueError``s."""
    from detectron2.config import LazyConfig

    try:
        cfg = LazyConfig.load(path)
    except Exception as e:  # noqa: BLE001  a config that does not load: one line naming it
        raise ValueError(f"bad LazyConfig {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    missing = [k for k in ("model",) if k not in cfg]
    if missing:
        raise ValueError(f"bad LazyConfig {path}: it defines no {missing[0]!r}")
    try:
        return LazyConfig.apply_overrides(cfg, list(overrides))
    except Exception as e:  # noqa: BLE001  hydra's parser and omegaconf raise many kinds
        raise ValueError(f"bad config override {' '.join(overrides)}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _select(cfg, key: str, default=None):
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, key, default=default)
    return default if value is None else value


def _test_input_pairs(lazy, path: str) -> List[Any]:
    """The yacs ``INPUT.*``/``DATASETS.TEST`` pairs of the LazyConfig's test loader.

    The views mapper resizes like detectron2's test ``DatasetMapper``: one
    ``ResizeShortestEdge``; other test augmentations are refused (one line)."""
    from detectron2.config import instantiate
    from detectron2.data import transforms as T
    from PIL import Image

    pairs: List[Any] = []
    test = _select(lazy, "dataloader.test")
    if test is None:
        return pairs
    augs = _select(test, "mapper.augmentations", [])
    augs = [instantiate(a) for a in augs]
    if augs:
        aug = augs[0]
        sizes = set(getattr(aug, "short_edge_length", ()))  # an int is stored as the range (n, n)
        if (len(augs) > 1 or not isinstance(aug, T.ResizeShortestEdge) or len(sizes) != 1
                or getattr(aug, "interp", Image.BILINEAR) != Image.BILINEAR):
            names = ", ".join(type(a).__name__ for a in augs)
            raise ValueError(f"LazyConfig {path}: dataloader.test.mapper.augmentations ({names}) is not one "
                             f"ResizeShortestEdge with one short_edge_length: eval_lfc resizes as "
                             f"detectron2's test DatasetMapper does")
        pairs += ["INPUT.MIN_SIZE_TEST", int(next(iter(sizes))), "INPUT.MAX_SIZE_TEST", int(aug.max_size)]
    image_format = _select(test, "mapper.image_format")
    if image_format:
        pairs += ["INPUT.FORMAT", str(image_format)]
    names = _select(test, "dataset.names")
    if names:
        names = [names] if isinstance(names, str) else list(names)
        pairs += ["DATASETS.TEST", tuple(str(n) for n in names)]
    return pairs


def _lazy_eval_config(path: str, zoo_name: Optional[str], overrides, settings_pairs):
    lazy_overrides, user_pairs = _split_lazy_overrides(overrides)
    lazy = load_lazy_config(path, lazy_overrides)
    given = {o.partition("=")[0] for o in lazy_overrides} | set(user_pairs[::2])
    if zoo_name and not given & {"train.init_checkpoint", "MODEL.WEIGHTS"}:
        weights = zoo_weights_url(zoo_name)
    else:
        weights = str(_select(lazy, "train.init_checkpoint", "") or "")
    derived = ["MODEL.DEVICE", str(_select(lazy, "train.device", "cuda")), "MODEL.WEIGHTS", weights,
               "MODEL.META_ARCHITECTURE", f"{LAZY}:{_target_name(lazy.model)}", *_test_input_pairs(lazy, path)]
    cfg = get_cfg(None, [*derived, *user_pairs, *settings_pairs])
    cfg.HFC.LAZY_OVERRIDES = list(lazy_overrides)
    return cfg


def _target_name(node) -> str:
    target = node.get("_target_", None) if hasattr(node, "get") else None
    return target if isinstance(target, str) else getattr(target, "__name__", type(node).__name__)


def _lazy_of(cfg):
    path, _ = _locate(cfg.HFC.CONFIG_FILE)
    return load_lazy_config(path, list(cfg.HFC.LAZY_OVERRIDES))


def _patch_v06_head_norm() -> None:
    """detectron2 v0.6's ``RetinaNetHead`` (FCOS's head too) names its norm type with
    ``get_norm(norm, 1)``, which today's torch refuses for ``"GN"`` (32 groups of 1 channel);
    the official source asks with 32 channels. Only that probe is changed (idempotent; a
    no-op where the source asks with 32). Belongs with :mod:`hfc_det.compat`'s fixes."""
    from detectron2.modeling.meta_arch import retinanet

    if getattr(retinanet.get_norm, "hfc_det_patched", False):
        return
    original = retinanet.get_norm

    def get_norm(norm, out_channels):
        return original(norm, 32 if out_channels == 1 else out_channels)

    get_norm.hfc_det_patched = True
    retinanet.get_norm = get_norm


def build_detector(cfg):
    """The detector ``cfg`` describes, on ``cfg.MODEL.DEVICE``, without weights: yacs
    ``build_model(cfg)``, or ``instantiate(cfg.model)`` of the LazyConfig."""
    if cfg.HFC.CONFIG_SYSTEM != LAZY:
        from detectron2.modeling import build_model

        return build_model(cfg)
    import torch
    from detectron2.config import instantiate

    _patch_v06_head_norm()
    try:
        model = instantiate(_lazy_of(cfg).model)
    except Exception as e:  # noqa: BLE001  a LazyConfig (or an override) the classes refuse: one line
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"cannot build the model of {cfg.HFC.CONFIG_FILE}: {type(e).__name__}: {text}") from None
    return model.to(torch.device(cfg.MODEL.DEVICE))


def _num_classes_entries(node, prefix: str):
    """``(dotted key, value)`` of every ``num_classes`` in a LazyConfig subtree."""
    from omegaconf import DictConfig, ListConfig

    if isinstance(node, DictConfig):
        items = ((str(k), node.get(k)) for k in node.keys())
    elif isinstance(node, ListConfig):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return
    for key, value in items:
        dotted = f"{prefix}.{key}"
        if key == "num_classes" and isinstance(value, int) and not isinstance(value, bool):
            yield dotted, value
        else:
            yield from _num_classes_entries(value, dotted)


def model_num_classes(cfg) -> Optional[Tuple[str, int]]:
    """``(where, class count)`` of the model ``cfg`` builds; None where it keeps none.

    yacs: the architecture's key (``MODEL.RETINANET.NUM_CLASSES``, ``MODEL.ROI_HEADS.NUM_CLASSES``).
    LazyConfig: every ``num_classes`` in ``model`` (RetinaNet's and FCOS's model and head,
    the ROI heads' and their box predictors'); they must agree (one-line ``ValueError``)."""
    if cfg.HFC.CONFIG_SYSTEM != LAZY:
        return yacs_num_classes(cfg)
    entries = list(_num_classes_entries(_lazy_of(cfg).model, "model"))
    if not entries:
        return None
    if len({n for _, n in entries}) > 1:
        raise ValueError("the LazyConfig's class counts disagree: "
                         + ", ".join(f"{k}={n}" for k, n in entries) + ": override them all alike")
    return ",".join(k for k, _ in entries), entries[0][1]


def _plain(value):
    """A LazyConfig value as JSON-able data: callables by their import path (not their id)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return repr(value)


def lazy_config_text(cfg) -> str:
    """The LazyConfig's model (after its overrides) as sorted JSON, for the run fingerprint;
    empty for a yacs config."""
    if cfg.HFC.get("CONFIG_SYSTEM", YACS) != LAZY:
        return ""
    import json

    from omegaconf import OmegaConf

    model = OmegaConf.to_container(_lazy_of(cfg).model, resolve=True)
    return json.dumps(_plain(model), sort_keys=True)
