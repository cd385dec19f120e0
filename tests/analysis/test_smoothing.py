"""First-layer kernel smoothing (Eq. 3) against scipy's convolve2d, as the authors ran it."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.signal import convolve2d
from torch import nn

from hfc_det.analysis.smoothing import first_conv, smooth_first_layer, smooth_kernels


def scipy_smooth(weight: np.ndarray, rho: float) -> np.ndarray:
    """The authors' per-kernel formula, written independently with scipy."""
    mask = np.full((3, 3), rho)
    mask[1, 1] = 1.0
    out = np.empty_like(weight)
    for o in range(weight.shape[0]):
        for i in range(weight.shape[1]):
            out[o, i] = convolve2d(weight[o, i], mask, boundary="symm", mode="same")
    return out


@settings(max_examples=40, deadline=None)
@given(
    out_c=st.integers(1, 4),
    in_c=st.integers(1, 3),
    kh=st.integers(1, 7),
    kw=st.integers(1, 7),
    rho=st.floats(0.0, 4.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_scipy_per_kernel(out_c, in_c, kh, kw, rho, seed):
    w = np.random.default_rng(seed).normal(size=(out_c, in_c, kh, kw))
    got = smooth_kernels(torch.from_numpy(w), rho).numpy()
    np.testing.assert_allclose(got, scipy_smooth(w, rho), rtol=1e-12, atol=1e-12)


def test_hand_computed_corner_and_centre():
    # 3x3 kernel 0..8, rho 0.5: the corner (0) sees neighbours 0,0,0 (replicated), 1, 3, 4
    # plus replicated 1 and 3 -> 0 + 0.5 * (0+0+0+1+1+3+3+4) = 6; the centre (4) sees
    # 0+1+2+3+5+6+7+8 = 32 -> 4 + 16 = 20.
    w = torch.arange(9, dtype=torch.float64).reshape(1, 1, 3, 3)
    out = smooth_kernels(w, 0.5)
    assert out[0, 0, 0, 0].item() == pytest.approx(6.0)
    assert out[0, 0, 1, 1].item() == pytest.approx(20.0)


def test_rho_zero_is_identity_and_input_untouched():
    w = torch.randn(8, 3, 5, 5)
    before = w.clone()
    out = smooth_kernels(w, 0.0)
    assert torch.equal(out, w) and out.data_ptr() != w.data_ptr()
    smooth_kernels(w, 1.0)
    assert torch.equal(w, before)


def test_smooths_spatial_not_channel_axes():
    # A kernel that is constant in space but varies across channels stays proportional
    # to itself (each value gains 8 * rho of its own): channel mixing would break that.
    w = torch.arange(6, dtype=torch.float64).reshape(2, 3, 1, 1).expand(2, 3, 3, 3).contiguous()
    np.testing.assert_allclose(smooth_kernels(w, 0.25).numpy(), (w * 3.0).numpy())


@pytest.mark.parametrize("rho", [-0.1, float("nan")])
def test_bad_rho_rejected(rho):
    with pytest.raises(ValueError):
        smooth_kernels(torch.zeros(1, 1, 3, 3), rho)


def test_bad_shape_rejected():
    with pytest.raises(ValueError):
        smooth_kernels(torch.zeros(3, 3), 0.5)


def test_smooth_first_layer_copies_and_changes_only_first_conv():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    smoothed = smooth_first_layer(model, 0.5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])  # original untouched
    new = smoothed.state_dict()
    expected = scipy_smooth(state["0.weight"].double().numpy(), 0.5)
    np.testing.assert_allclose(new["0.weight"].double().numpy(), expected, rtol=1e-5, atol=1e-6)
    for k in ("0.bias", "2.weight", "2.bias"):
        assert torch.equal(new[k], state[k])


def test_first_conv_explicit_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3))
    assert first_conv(model)[0] == "0"
    assert first_conv(model, "1")[0] == "1"
    with pytest.raises(ValueError):
        first_conv(model, "nope")
    with pytest.raises(ValueError):
        first_conv(nn.Linear(2, 2))


def test_retinanet_stem_is_smoothed():
    pytest.importorskip("detectron2")
    import hfc_det.compat  # noqa: F401  (before detectron2)
    from detectron2 import model_zoo
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file("COCO-Detection/retinanet_R_50_FPN_3x.yaml"))
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)  # random weights: nothing is downloaded
    name, conv = first_conv(model)
    # FPN registers its convs before the bottom-up ResNet: the stem must still be found.
    assert name == "backbone.bottom_up.stem.conv1" and conv.in_channels == 3
    stem = conv.weight.detach().clone()
    fpn = model.backbone.fpn_lateral3.weight.detach().clone()
    smoothed = smooth_first_layer(model, 1.0)
    np.testing.assert_allclose(
        smoothed.backbone.bottom_up.stem.conv1.weight.detach().double().numpy(),
        scipy_smooth(stem.double().numpy(), 1.0),
        rtol=1e-5,
        atol=1e-6,
    )
    assert torch.equal(model.backbone.bottom_up.stem.conv1.weight, stem)
    assert torch.equal(smoothed.backbone.fpn_lateral3.weight, fpn)
