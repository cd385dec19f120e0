"""Classifiers of the paper's Section 5 architecture comparison, sized for small images.

Every model maps ``(N, in_channels, H, W)`` float images (any ``H, W >= 8``) to
``(N, num_classes)`` logits. Pooling is adaptive (and max-pools use ``ceil_mode``), so
the same network runs on 8x8 digits, 28x28 MNIST and 32x32 CIFAR-10.

``bn`` switches BatchNorm (scale 1, offset 0 at init, as in the paper) after every
convolution; without it the convolutions carry a bias. ``dropout`` is applied before the
fully connected layers only (the paper's Section 5.1 heuristic, p = 0.5 there).
Weights use Xavier (Glorot) uniform initialisation and zero biases, as in the paper.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Union

import torch
from torch import nn

from hfc_det.classification.catalog import MODEL_NAMES  # the names without torch, for the tools' parsers; == tuple(_BUILDERS)

__all__ = ["build_model", "MODEL_NAMES", "ResNet18", "LeNet", "AlexNet", "VGG"]


def _conv_block(in_ch: int, out_ch: int, kernel: int, bn: bool, stride: int = 1) -> List[nn.Module]:
    """conv (+ BN) + ReLU with 'same' padding; the conv has a bias only without BN."""
    layers: List[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=not bn)
    ]
    if bn:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.ReLU(inplace=True))
    return layers


def _norm(ch: int, bn: bool) -> nn.Module:
    return nn.BatchNorm2d(ch) if bn else nn.Identity()


def _mlp_head(in_features: int, hidden: Sequence[int], num_classes: int, dropout: float) -> nn.Sequential:
    """Fully connected layers, each preceded by dropout (a no-op at p = 0)."""
    layers: List[nn.Module] = []
    for width in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(in_features, width), nn.ReLU(inplace=True)]
        in_features = width
    layers += [nn.Dropout(dropout), nn.Linear(in_features, num_classes)]
    return nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, bn: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=not bn)
        self.bn1 = _norm(out_ch, bn)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=not bn)
        self.bn2 = _norm(out_ch, bn)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=not bn), _norm(out_ch, bn)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18, CIFAR variant: 3x3 stride-1 stem and no max-pool (He et al., Sec. 4.2 style)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, bn: bool = True, dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(*_conv_block(in_channels, 64, 3, bn))
        stages, in_ch = [], 64
        for out_ch, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(_BasicBlock(in_ch, out_ch, stride, bn), _BasicBlock(out_ch, out_ch, 1, bn)))
            in_ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = _mlp_head(512, (), num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


class LeNet(nn.Module):
    """LeNet-5 (two 5x5 convolutions, three fully connected layers), 'same' padding."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, bn: bool = True, dropout: float = 0.0):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(in_channels, 6, 5, bn), nn.MaxPool2d(2, ceil_mode=True),
            *_conv_block(6, 16, 5, bn), nn.MaxPool2d(2, ceil_mode=True),
        )
        # 5x5 is LeNet's map size for 32x32 inputs; smaller inputs are upsampled to it.
        self.pool = nn.AdaptiveAvgPool2d(5)
        self.head = _mlp_head(16 * 5 * 5, (120, 84), num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


class AlexNet(nn.Module):
    """AlexNet's five convolutions and three FC layers, with 3x3 kernels for small images."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, bn: bool = True, dropout: float = 0.0):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(in_channels, 64, 3, bn), nn.MaxPool2d(2, ceil_mode=True),
            *_conv_block(64, 192, 3, bn), nn.MaxPool2d(2, ceil_mode=True),
            *_conv_block(192, 384, 3, bn),
            *_conv_block(384, 256, 3, bn),
            *_conv_block(256, 256, 3, bn), nn.MaxPool2d(2, ceil_mode=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = _mlp_head(256 * 2 * 2, (1024, 1024), num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


_VGG_LAYERS: Dict[str, List[Union[int, str]]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """VGG-11/16 convolutions (Simonyan & Zisserman, configs A and D), 512-512 FC head."""

    def __init__(self, depth: str = "vgg16", num_classes: int = 10, in_channels: int = 3, bn: bool = True, dropout: float = 0.0):
        super().__init__()
        layers: List[nn.Module] = []
        ch = in_channels
        for item in _VGG_LAYERS[depth]:
            if item == "M":
                # ceil_mode keeps a 1x1 map at 1x1, so five pools also work on 8x8 inputs.
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                layers += _conv_block(ch, int(item), 3, bn)
                ch = int(item)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = _mlp_head(512, (512, 512), num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


_BUILDERS: Dict[str, Callable[..., nn.Module]] = {
    "resnet18": ResNet18,
    "lenet": LeNet,
    "alexnet": AlexNet,
    "vgg11": lambda **kw: VGG("vgg11", **kw),
    "vgg16": lambda **kw: VGG("vgg16", **kw),
}


def xavier_init_(model: nn.Module) -> nn.Module:
    """Glorot-uniform weights and zero biases for every conv/linear; BN at scale 1, offset 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def build_model(name: str, num_classes: int = 10, in_channels: int = 3, bn: bool = True, dropout: float = 0.0) -> nn.Module:
    """A freshly initialised classifier by name (one of :data:`MODEL_NAMES`).

    Args:
        name: ``resnet18``, ``lenet``, ``alexnet``, ``vgg11`` or ``vgg16``.
        num_classes: number of logits.
        in_channels: 3 for CIFAR-10, 1 for MNIST-like data and digits.
        bn: BatchNorm after every convolution.
        dropout: dropout probability before each fully connected layer, in [0, 1).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if num_classes < 1 or in_channels < 1:
        raise ValueError(f"num_classes and in_channels must be >= 1, got {num_classes}, {in_channels}")
    model = _BUILDERS[name](num_classes=num_classes, in_channels=in_channels, bn=bool(bn), dropout=float(dropout))
    return xavier_init_(model)
