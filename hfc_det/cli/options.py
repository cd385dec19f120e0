"""Command-line options of the detection tools that must answer without torch or detectron2.

``eval_lfc.py --help`` (and an argument error) used to import torch and detectron2 to build
its parser: seconds before the first line of output. Everything a parser needs lives here
instead, importing only the standard library, so a tool parses first and imports the heavy
packages afterwards:

* :func:`launch_argument_parser`: detectron2's ``default_argument_parser`` (its
  ``--config-file``, ``--resume``, ``--eval-only``, ``--num-gpus``, ``--num-machines``,
  ``--machine-rank``, ``--dist-url`` and trailing ``opts``, same defaults and help;
  ``tests/test_options.py`` compares the two so they cannot drift apart);
* the choices of the ``HFC`` options (:data:`FILTER_STAGES`, :data:`HFC_SCALINGS`) and of
  ``--coco-backend`` (:data:`COCO_BACKENDS`);
* the config-name lookup (:func:`available_configs`, :func:`resolve_config_file`) and the
  check of trailing ``KEY VALUE`` overrides (:func:`check_overrides`).

:mod:`hfc_det.config` re-exports these names.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

__all__ = [
    "CONFIG_DIR",
    "FILTER_STAGES",
    "HFC_SCALINGS",
    "COCO_BACKENDS",
    "ZOO_PREFIX",
    "available_configs",
    "resolve_config_file",
    "check_overrides",
    "launch_argument_parser",
    "default_dist_url",
]

#: Where the frequency filter applies (cfg.HFC.FILTER_STAGE).
FILTER_STAGES = ("before_resize", "after_resize")
#: How a high-frequency image is scaled before the model (cfg.HFC.HFC_SCALING).
HFC_SCALINGS = ("none", "max", "minmax")

#: COCOeval implementations (hfc_det.metrics.coco_backends).
COCO_BACKENDS = ("pycocotools", "faster-coco-eval")

#: The configs shipped inside the package (``hfc_det/configs``; ``configs/`` in a checkout
#: links to it); ``--config NAME`` is looked up here.
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"  # package data (setup.py)

#: configs/ subfolders that hold classification (not detectron2) configs.
_NOT_DETECTION = ("cifar",)


def available_configs(config_dir: Path = CONFIG_DIR) -> List[str]:
    """Detection config names ``--config`` accepts: yaml files under ``config_dir``
    (without suffix), leaving out the classification configs under ``configs/cifar``."""
    if not config_dir.is_dir():
        return []
    names = (p.relative_to(config_dir) for p in config_dir.rglob("*.yaml"))
    return sorted(str(p.with_suffix("")) for p in names if p.parts[0] not in _NOT_DETECTION)


#: ``--config zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x``: a config of detectron2's model zoo
#: (``detectron2.model_zoo.get_config_file``; ``.yaml`` or LazyConfig ``.py``, the suffix optional).
#: Part of the interface: scripts rely on the prefix.
ZOO_PREFIX = "zoo:"


def resolve_config_file(name_or_path: str, config_dir: Path = CONFIG_DIR) -> str:
    """``retinanet_R50_FPN`` -> ``configs/retinanet_R50_FPN.yaml``; an existing path as is;
    a ``zoo:NAME`` as is (detectron2 resolves it when the config is built,
    :func:`hfc_det.config.resolve_zoo_config`, so that parsing needs no detectron2).

    Raises ``FileNotFoundError`` with a one-line message that lists the known names.
    """
    if name_or_path.startswith(ZOO_PREFIX):
        return name_or_path
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return str(path)
    for candidate in (config_dir / name_or_path, config_dir / f"{name_or_path}.yaml"):
        if candidate.is_file():
            return str(candidate)
    known = ", ".join(available_configs(config_dir)) or "(none)"
    raise FileNotFoundError(
        f"unknown config {name_or_path!r}: no such file, and not a name under {config_dir} "
        f"(available: {known}; or {ZOO_PREFIX}NAME from detectron2's model zoo)"
    )


def check_overrides(opts: Sequence) -> None:
    """Raise a one-line ``ValueError`` for trailing ``KEY VALUE`` overrides yacs would misread:
    an option placed after them (argparse hands ``... MODEL.DEVICE cpu --fresh`` over as
    overrides) or an odd number of tokens (yacs would pair a key with the next key, or fail
    with ``unhashable type: 'list'`` once a tool appends its own pairs)."""
    opts = list(opts)
    flags = [o for o in opts if isinstance(o, str) and o.startswith("--")]
    if flags:
        raise ValueError(f"bad config override: option {flags[0]} comes after the KEY VALUE overrides; "
                         f"put every option before them")
    if len(opts) % 2:
        raise ValueError(f"bad config override: overrides come in KEY VALUE pairs, but an odd number of "
                         f"words ({len(opts)}) was given: {' '.join(map(str, opts))}")
    keys = [k for k in opts[::2] if not isinstance(k, str) or not k[:1].isalpha()]
    if keys:
        raise ValueError(f"bad config override: {keys[0]!r} is not a KEY such as MODEL.DEVICE "
                         f"(overrides come in KEY VALUE pairs)")


def default_dist_url() -> str:
    """detectron2's default ``--dist-url``: a port fixed per user, so that an orphan process of
    an earlier run shows up as "address in use" instead of hiding."""
    port = 2**15 + 2**14 + hash(os.getuid() if sys.platform != "win32" else 1) % 2**14
    return f"tcp://127.0.0.1:{port}"


def launch_argument_parser(epilog: Optional[str] = None) -> argparse.ArgumentParser:
    """A parser with the options of detectron2's ``default_argument_parser(epilog)``, built
    without importing detectron2 (or torch). Hand ``num_gpus``, ``num_machines``,
    ``machine_rank`` and ``dist_url`` to ``detectron2.engine.launch`` as usual."""
    prog = sys.argv[0]
    parser = argparse.ArgumentParser(
        epilog=epilog
        or f"""
Examples:

Run on single machine:
    $ {prog} --num-gpus 8 --config-file cfg.yaml

Change some config options:
    $ {prog} --config-file cfg.yaml MODEL.WEIGHTS /path/to/weight.pth SOLVER.BASE_LR 0.001

Run on multiple machines:
    (machine0)$ {prog} --machine-rank 0 --num-machines 2 --dist-url <URL> [--other-flags]
    (machine1)$ {prog} --machine-rank 1 --num-machines 2 --dist-url <URL> [--other-flags]
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config-file", default="", metavar="FILE", help="path to config file")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Whether to attempt to resume from the checkpoint directory. "
        "See documentation of `DefaultTrainer.resume_or_load()` for what it means.",
    )
    parser.add_argument("--eval-only", action="store_true", help="perform evaluation only")
    parser.add_argument("--num-gpus", type=int, default=1, help="number of gpus *per machine*")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0, help="the rank of this machine (unique per machine)")
    parser.add_argument(
        "--dist-url",
        default=default_dist_url(),
        help="initialization URL for pytorch distributed backend. See "
        "https://pytorch.org/docs/stable/distributed.html for details.",
    )
    parser.add_argument(
        "opts",
        help="""
Modify config options at the end of the command. For Yacs configs, use
space-separated "PATH.KEY VALUE" pairs.
For python-based LazyConfig, use "path.key=value".
        """.strip(),
        default=None,
        nargs=argparse.REMAINDER,
    )
    return parser
