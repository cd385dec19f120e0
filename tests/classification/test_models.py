"""The classifiers: shapes on every input size, options, Xavier initialisation."""
import math

import pytest
import torch
from torch import nn

from hfc_det.classification.models import MODEL_NAMES, build_model


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3)])
def test_logits_for_every_input_size(name, size, channels):
    model = build_model(name, num_classes=7, in_channels=channels).eval()
    with torch.no_grad():
        out = model(torch.rand(2, channels, size, size))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_batchnorm_and_dropout_options(name):
    with_bn = build_model(name, bn=True, dropout=0.5)
    without = build_model(name, bn=False)
    assert any(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in without.modules())
    # Without BN the convolutions carry their own bias; with BN it would be redundant.
    assert all(m.bias is not None for m in without.modules() if isinstance(m, nn.Conv2d))
    assert all(m.bias is None for m in with_bn.modules() if isinstance(m, nn.Conv2d))
    drops = [m.p for m in with_bn.modules() if isinstance(m, nn.Dropout)]
    assert drops and set(drops) == {0.5}
    # Dropout sits before fully connected layers only: each is followed by a Linear.
    seq = [m for m in with_bn.modules() if isinstance(m, (nn.Dropout, nn.Linear, nn.Conv2d))]
    for a, b in zip(seq, seq[1:]):
        if isinstance(a, nn.Dropout):
            assert isinstance(b, nn.Linear)


def test_resnet18_is_the_cifar_variant():
    model = build_model("resnet18")
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.kernel_size == (3, 3) and first.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 17  # stem + 8 blocks x 2, plus the FC: 18 weight layers


def test_xavier_uniform_statistics():
    torch.manual_seed(0)
    model = build_model("vgg16", bn=True)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.detach()
            fan_in = w.shape[1] * w[0, 0].numel()
            fan_out = w.shape[0] * w[0, 0].numel()
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert w.abs().max() <= bound + 1e-7
            if w.numel() > 20000:  # Glorot-uniform variance 2 / (fan_in + fan_out)
                assert w.var().item() == pytest.approx(2.0 / (fan_in + fan_out), rel=0.05)
            if m.bias is not None:
                assert torch.count_nonzero(m.bias) == 0
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="unknown model 'resnet50'"):
        build_model("resnet50")
    with pytest.raises(ValueError, match="dropout"):
        build_model("lenet", dropout=1.0)
