"""The training configuration: defaults from the paper, YAML files, validation.

Defaults follow Section 4.2 and the authors' code: ResNet-18, Adam, learning rate 1e-4,
batch size 100, 100 epochs, Xavier init, pixels in [0, 1], and the paper's *vanilla*
set-up of Section 5: no BatchNorm (the authors' ResNet has its BN layers commented out;
Fig. 5 adds BatchNorm as a heuristic), no dropout, no mix-up, no weight decay (the L2
regulariser is commented out in the authors' code, although the notes mention 2e-4).

YAML files (``configs/cifar/``) hold any of the fields below and may inherit with
detectron2's ``_BASE_: other.yaml`` key (fvcore's loader merges them).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from hfc_det.views.grammar import parse_view
from hfc_det.classification.data import check_radius_for_size, dataset_info
from hfc_det.classification.models import MODEL_NAMES

__all__ = ["TrainConfig", "load_yaml_config", "RESUME_MAY_CHANGE"]

TRAIN_ON = ("original", "low", "high")

# Fields a resumed run may change: more epochs, another device or data location.
RESUME_MAY_CHANGE = ("epochs", "device", "data_root", "download", "eval_batch_size")


@dataclass
class TrainConfig:
    """One training run. Radii are in frequency bins, accuracies in [0, 1]."""

    dataset: str = "cifar10"
    data_root: str = "data"
    download: bool = False
    model: str = "resnet18"
    train_on: str = "original"  # original | low | high (LFC/HFC rescaled by their max)
    radius: Optional[float] = None  # required for train_on low/high
    track_radii: Optional[List[float]] = None  # None: the dataset's default (4 8 12 16 on CIFAR-10)
    track_views: Optional[List[str]] = None  # more tracked views by name: band_r4-8, blur_s1, ...
    shuffle_labels: bool = False
    label_seed: int = 0  # the shuffle is one permutation, fixed by this seed for every run
    batch_size: int = 100
    lr: float = 1e-4
    weight_decay: float = 0.0
    epochs: int = 100
    dropout: float = 0.0
    mixup_alpha: float = 0.0  # 0 = off; the paper uses the standard 1.0
    bn: bool = False
    adv_train: bool = False  # PGD, L-inf, adv_eps, adv_steps steps of adv_eps / 10
    adv_eps: float = 0.03
    adv_steps: int = 10
    seed: int = 0
    device: str = "auto"  # auto = cuda when available
    track_train_size: int = 10000  # training images whose views are tracked; 0 = all
    eval_batch_size: int = 1000
    amp: bool = True  # bfloat16 autocast and channels-last, CUDA only

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(values))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def resolved_track_radii(self) -> List[float]:
        radii = self.track_radii if self.track_radii is not None else dataset_info(self.dataset).default_track_radii
        return [float(r) for r in radii]

    def validate(self) -> "TrainConfig":
        """Raise ``ValueError`` with a one-line message for anything that cannot run."""
        info = dataset_info(self.dataset)
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.train_on not in TRAIN_ON:
            raise ValueError(f"unknown training view {self.train_on!r}; choose one of {', '.join(TRAIN_ON)}")
        if self.train_on != "original":
            if self.radius is None:
                raise ValueError(f"training on {self.train_on} needs --radius")
            check_radius_for_size(self.radius, info.size, "radius")
        for r in self.resolved_track_radii():
            check_radius_for_size(r, info.size, "tracked radius")
        if not self.resolved_track_radii():
            raise ValueError("track at least one radius")
        for name in self.track_views or ():
            try:
                parse_view(name)
            except ValueError as e:
                raise ValueError(f"--track-views: {e}") from None
        checks = [
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"learning rate must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"weight decay must be >= 0, got {self.weight_decay}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.mixup_alpha >= 0, f"mixup alpha must be >= 0, got {self.mixup_alpha}"),
            (self.adv_eps >= 0, f"adversarial epsilon must be >= 0, got {self.adv_eps}"),
            (self.adv_steps >= 1, f"adversarial steps must be >= 1, got {self.adv_steps}"),
            (self.track_train_size >= 0, f"track-train-size must be >= 0, got {self.track_train_size}"),
            (self.eval_batch_size >= 1, f"eval batch size must be >= 1, got {self.eval_batch_size}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def load_yaml_config(path) -> Dict[str, Any]:
    """Read a YAML run config (with ``_BASE_`` inheritance) as a plain dict.

    Keys use the field names of :class:`TrainConfig`; keys starting with ``_`` other than
    ``_BASE_`` (e.g. ``_NOTE_``) are documentation and are dropped.
    """
    from fvcore.common.config import CfgNode

    values = CfgNode.load_yaml_with_base(str(path), allow_unsafe=False)
    return {k: v for k, v in (values or {}).items() if not str(k).startswith("_")}
