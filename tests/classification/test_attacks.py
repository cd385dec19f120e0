"""FGSM and PGD: the budget, a closed form, and the effect on a trained toy model."""
import numpy as np
import pytest
import torch
from torch import nn

from hfc_det.classification.attacks import fgsm, pgd
from hfc_det.classification.data import load_dataset


@pytest.fixture(scope="module")
def trained_linear():
    """Softmax regression on sklearn digits: trained in a second, ~95% test accuracy."""
    torch.manual_seed(0)
    train_x, train_y, test_x, test_y = load_dataset("digits")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(model(train_x), train_y).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    return model.eval(), test_x, test_y


def _acc(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_fgsm_matches_closed_form_for_softmax_regression(trained_linear):
    model, x, y = trained_linear
    x, y = x[:50], y[:50]
    lin = model[1]
    W, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
    flat = x.reshape(50, -1).double().numpy()
    z = flat @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(10)[y.numpy()]) @ W  # d CE / d x for a linear softmax model
    expected = np.clip(flat + 0.07 * np.sign(grad), 0, 1).reshape(x.shape)
    got = fgsm(model, x, y, 0.07).double().numpy()
    decided = np.abs(grad.reshape(x.shape)) > 1e-6  # the sign of a ~0 gradient is rounding
    np.testing.assert_allclose(got[decided], expected[decided], atol=1e-6)


@pytest.mark.parametrize("attack", ["fgsm", "pgd", "pgd_random"])
def test_within_budget_and_pixel_range(trained_linear, attack):
    model, x, y = trained_linear
    eps = 0.05
    if attack == "fgsm":
        adv = fgsm(model, x, y, eps)
    else:
        adv = pgd(model, x, y, eps, steps=5, step_size=0.02, random_start=attack == "pgd_random",
                  generator=torch.Generator().manual_seed(0))
    assert adv.shape == x.shape and adv.dtype == x.dtype and not adv.requires_grad
    assert (adv - x).abs().max() <= eps + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1


def test_attacks_lower_accuracy_and_pgd_is_at_least_as_strong(trained_linear):
    model, x, y = trained_linear
    clean = _acc(model, x, y)
    assert clean > 0.9
    for eps in (0.05, 0.1):
        acc_fgsm = _acc(model, fgsm(model, x, y, eps), y)
        acc_pgd = _acc(model, pgd(model, x, y, eps, steps=10), y)
        assert acc_fgsm < clean - 0.1
        assert acc_pgd <= acc_fgsm


def test_attacks_leave_model_untouched(trained_linear):
    model, x, y = trained_linear
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    pgd(model, x[:10], y[:10], 0.03)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    model.eval()


def test_pgd_default_step_is_eps_over_10(trained_linear):
    model, x, y = trained_linear
    one = pgd(model, x[:20], y[:20], 0.05, steps=1)
    np.testing.assert_allclose(one.numpy(), fgsm(model, x[:20], y[:20], 0.005).numpy(), atol=1e-6)


def test_bad_attack_arguments(trained_linear):
    model, x, y = trained_linear
    with pytest.raises(ValueError, match="eps"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match="steps"):
        pgd(model, x, y, 0.1, steps=0)
