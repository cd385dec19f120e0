"""Datasets as tensors, label shuffling, the per-image max rescale and the view helpers."""
import numpy as np
import pytest
import torch

from helpers.cifar_fixture import expected_float, use_fixture_md5s, write_cifar10, write_mnist_like
from hfc_det.classification.data import (
    DatasetNotFoundError,
    check_radius_for_size,
    load_dataset,
    rescale_by_max,
    shuffle_labels,
    tracked_views,
    training_view,
)


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    written = write_cifar10(tmp_path, per_batch=12, n_test=16, seed=3)
    use_fixture_md5s(monkeypatch, written["md5"])
    return tmp_path, written


def test_cifar_fixture_through_torchvision_loader(cifar_root):
    root, written = cifar_root
    train_x, train_y, test_x, test_y = load_dataset("cifar10", root)
    assert train_x.dtype == torch.float32 and train_y.dtype == torch.int64
    assert train_x.shape == (60, 3, 32, 32) and test_x.shape == (16, 3, 32, 32)
    np.testing.assert_array_equal(train_x.numpy(), expected_float(written["train_x"]))
    np.testing.assert_array_equal(test_x.numpy(), expected_float(written["test_x"]))
    np.testing.assert_array_equal(train_y.numpy(), written["train_y"])
    np.testing.assert_array_equal(test_y.numpy(), written["test_y"])


def test_cifar_fixture_fails_torchvision_md5_check_without_patch(tmp_path):
    # The published md5s do not match synthetic files: torchvision's check really runs.
    write_cifar10(tmp_path, per_batch=2, n_test=2)
    with pytest.raises(DatasetNotFoundError, match="corrupted"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashionmnist", "FashionMNIST")])
def test_mnist_like_raw_files_through_torchvision_loader(tmp_path, name, folder):
    written = write_mnist_like(tmp_path, folder, n_train=12, n_test=8, seed=1)
    train_x, train_y, test_x, test_y = load_dataset(name, tmp_path)
    assert train_x.shape == (12, 1, 28, 28) and test_x.shape == (8, 1, 28, 28)
    np.testing.assert_array_equal(train_x[:, 0].numpy(), written["train_x"].astype(np.float32) / 255)
    np.testing.assert_array_equal(test_x[:, 0].numpy(), written["t10k_x"].astype(np.float32) / 255)
    np.testing.assert_array_equal(train_y.numpy(), written["train_y"])
    np.testing.assert_array_equal(test_y.numpy(), written["t10k_y"])


@pytest.mark.parametrize("name,folder", [("cifar10", "cifar-10-batches-py"), ("mnist", "MNIST/raw"),
                                         ("fashionmnist", "FashionMNIST/raw")])
def test_missing_dataset_says_where_and_how(tmp_path, name, folder):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / folder) in message and "--download" in message
    assert "\n" not in message


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet", "data")


def test_digits_split_is_sklearn_data_scaled():
    from sklearn.datasets import load_digits

    train_x, train_y, test_x, test_y = load_dataset("digits")
    assert train_x.shape == (1347, 1, 8, 8) and test_x.shape == (450, 1, 8, 8)
    assert float(train_x.min()) == 0.0 and float(train_x.max()) == 1.0
    # Every image is one of sklearn's, divided by 16, with its own label.
    ref = load_digits()
    lookup = {img.tobytes(): t for img, t in zip((ref.images / 16.0).astype(np.float32), ref.target)}
    for x, y in zip(torch.cat([train_x, test_x]), torch.cat([train_y, test_y])):
        assert lookup[x[0].numpy().tobytes()] == int(y)
    # Stratified: every class in both splits in the same proportion, up to rounding.
    assert np.abs(np.bincount(train_y.numpy()) / 1347 - np.bincount(test_y.numpy()) / 450).max() < 0.01
    again = load_dataset("digits")
    assert torch.equal(again[0], train_x) and torch.equal(again[3], test_y)


def test_shuffle_labels_is_a_seeded_permutation():
    labels = torch.arange(100) % 10
    shuffled, perm = shuffle_labels(labels, seed=5)
    assert sorted(perm.tolist()) == list(range(100))
    assert torch.equal(shuffled, labels[perm])
    assert torch.equal(torch.bincount(shuffled), torch.bincount(labels))
    assert torch.equal(shuffle_labels(labels, seed=5)[1], perm)
    assert not torch.equal(shuffle_labels(labels, seed=6)[1], perm)
    assert (shuffled != labels).float().mean() > 0.5


def test_rescale_by_max_matches_per_image_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.2, size=(5, 3, 6, 6)).astype(np.float32)
    x[1] = 0.0  # a constant image's HFC: no maximum to divide by
    x[2] = -np.abs(x[2])  # a negative maximum must not flip the sign
    out = rescale_by_max(torch.from_numpy(x)).numpy()
    for i in (0, 3, 4):
        np.testing.assert_allclose(out[i], x[i] / x[i].max(), rtol=1e-6)
        assert out[i].max() == pytest.approx(1.0)
    np.testing.assert_array_equal(out[1], x[1])
    np.testing.assert_array_equal(out[2], x[2])


def _numpy_low(images: np.ndarray, r: float) -> np.ndarray:
    """The paper's split with numpy's complex FFT, written independently of hfc_det."""
    h, w = images.shape[-2:]
    i, j = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    mask = np.sqrt(i ** 2 + j ** 2) < r
    f = np.fft.fftshift(np.fft.fft2(images), axes=(-2, -1))
    return np.real(np.fft.ifft2(np.fft.ifftshift(f * mask, axes=(-2, -1))))


@pytest.mark.parametrize("kind", ["low", "high"])
def test_training_view_is_rescaled_component(kind):
    rng = np.random.default_rng(1)
    x = rng.random((7, 3, 16, 16)).astype(np.float32)
    low = _numpy_low(x.astype(np.float64), 4)
    part = low if kind == "low" else x - low
    expected = part / part.reshape(7, -1).max(axis=1)[:, None, None, None]
    got = training_view(torch.from_numpy(x), kind, 4, chunk=3).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert torch.equal(training_view(torch.from_numpy(x), "original"), torch.from_numpy(x))


def test_training_view_needs_radius_and_known_kind():
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="radius"):
        training_view(x, "low")
    with pytest.raises(ValueError, match="original, low or high"):
        training_view(x, "middle", 2)


def test_tracked_views_in_chunks_match_numpy():
    rng = np.random.default_rng(2)
    x = rng.random((11, 1, 8, 8)).astype(np.float32)
    views = tracked_views(torch.from_numpy(x), [2, 3], chunk=4)
    assert list(views) == ["original", "low_r2", "high_r2", "low_r3", "high_r3"]
    for r in (2, 3):
        np.testing.assert_allclose(views[f"low_r{r}"].numpy(), _numpy_low(x.astype(np.float64), r), atol=1e-5)
        np.testing.assert_allclose(views[f"high_r{r}"].numpy(), x - _numpy_low(x.astype(np.float64), r), atol=1e-5)


@pytest.mark.parametrize("radius", [0, -1, 5.7, float("nan")])
def test_radius_outside_image_is_rejected(radius):
    with pytest.raises(ValueError, match="makes no sense for 8x8"):
        check_radius_for_size(radius, 8)
