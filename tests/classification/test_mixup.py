"""Mix-up mixes images and labels with one and the same weight."""
import numpy as np
import pytest
import torch

from hfc_det.classification.mixup import mixup


def test_images_and_labels_share_the_weight():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 5, 5, generator=gen)
    y = torch.randint(0, 4, (16,), generator=gen)
    x_mix, y_mix, lam, perm = mixup(x, y, 1.0, 4, np.random.default_rng(0))
    assert 0 < lam < 1 and sorted(perm.tolist()) == list(range(16))
    for i in range(16):
        j = int(perm[i])
        torch.testing.assert_close(x_mix[i], lam * x[i] + (1 - lam) * x[j])
        expected = np.zeros(4)
        expected[int(y[i])] += lam
        expected[int(y[j])] += 1 - lam
        np.testing.assert_allclose(y_mix[i].numpy(), expected, atol=1e-6)
    torch.testing.assert_close(y_mix.sum(1), torch.ones(16))


def test_weight_follows_beta_distribution():
    # Beta(alpha, alpha) has mean 1/2 and variance 1 / (4 (2 alpha + 1)).
    rng = np.random.default_rng(1)
    x, y = torch.zeros(2, 1, 1, 1), torch.zeros(2, dtype=torch.int64)
    lams = np.array([mixup(x, y, 0.4, 2, rng)[2] for _ in range(4000)])
    assert lams.mean() == pytest.approx(0.5, abs=0.02)
    assert lams.var() == pytest.approx(1 / (4 * 1.8), rel=0.08)


def test_same_generator_state_same_mix():
    x, y = torch.rand(8, 1, 4, 4), torch.arange(8) % 3
    a = mixup(x, y, 1.0, 3, np.random.default_rng(7))
    b = mixup(x, y, 1.0, 3, np.random.default_rng(7))
    assert torch.equal(a[0], b[0]) and a[2] == b[2]
    with pytest.raises(ValueError):
        mixup(x, y, 0.0, 3, np.random.default_rng(7))
