"""Truncated-SVD split (Section 8) and the view dispatcher, against numpy's own SVD."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from hfc_det.views.frequency import split_frequencies
from hfc_det.views.svd import svd_split, svd_view_name, svd_views
from hfc_det.views.grammar import compute_views, parse_view, split_view_names


def numpy_top_k(matrix: np.ndarray, k: int) -> np.ndarray:
    u, s, vh = np.linalg.svd(matrix, full_matrices=False)
    return (u[:, :k] * s[:k]) @ vh[:k]


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    k=st.integers(1, 14),
    seed=st.integers(0, 2**31 - 1),
)
def test_parts_match_numpy_and_sum_to_image(n, c, h, w, k, seed):
    x = np.random.default_rng(seed).random((n, c, h, w))
    top, tail = svd_split(torch.from_numpy(x), k)
    assert top.shape == tail.shape == x.shape and top.dtype == torch.float64
    for i in range(n):
        for j in range(c):
            expected_top = numpy_top_k(x[i, j], k)
            np.testing.assert_allclose(top[i, j].numpy(), expected_top, atol=1e-10)
            # the tail is the reconstruction from the trailing singular values
            u, s, vh = np.linalg.svd(x[i, j], full_matrices=False)
            expected_tail = (u[:, k:] * s[k:]) @ vh[k:]
            np.testing.assert_allclose(tail[i, j].numpy(), expected_tail, atol=1e-10)
    np.testing.assert_allclose((top + tail).numpy(), x, atol=1e-12)


def test_full_rank_k_gives_empty_tail():
    x = torch.rand(2, 3, 8, 6)
    for k in (6, 7, 100):
        top, tail = svd_split(x, k)
        assert torch.count_nonzero(tail) == 0
        assert torch.equal(top, x)


def test_low_rank_image_has_negligible_tail_at_its_rank():
    rng = np.random.default_rng(1)
    rank2 = rng.random((16, 2)) @ rng.random((2, 16))  # a rank-2 16x16 image
    assert np.linalg.matrix_rank(rank2) == 2
    top, tail = svd_split(rank2, 2)  # numpy in, numpy out
    assert isinstance(top, np.ndarray)
    np.testing.assert_allclose(tail, 0.0, atol=1e-12)
    np.testing.assert_allclose(top, rank2, atol=1e-12)
    # k = 1 leaves exactly the second singular value's energy in the tail (Eckart-Young)
    _, tail1 = svd_split(rank2, 1)
    s = np.linalg.svd(rank2, compute_uv=False)
    assert np.linalg.norm(tail1) == pytest.approx(s[1], rel=1e-9)


def test_views_share_one_decomposition_and_match_split():
    x = torch.rand(4, 3, 10, 10)
    views = svd_views(x, [2, 5, 2])
    assert list(views) == ["svd_top2", "svd_tail2", "svd_top5", "svd_tail5"]
    top5, tail5 = svd_split(x, 5)
    torch.testing.assert_close(views["svd_top5"], top5)
    torch.testing.assert_close(views["svd_tail5"], tail5)


def test_integer_input_gives_float32():
    top, tail = svd_split(np.arange(16, dtype=np.uint8).reshape(4, 4), 1)
    assert top.dtype == tail.dtype == np.float32


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_k_rejected(bad):
    with pytest.raises(ValueError):
        svd_split(torch.rand(3, 3), bad)
    with pytest.raises(TypeError):
        svd_split(torch.rand(3, 3), 1.5)


def test_view_names_round_trip():
    assert svd_view_name("tail", 4) == "svd_tail4"
    assert parse_view("svd_top12") == ("svd_top", 12)
    for bad in ("svd_top0", "svd_top04", "svd_mid3", "svd_top", "top4"):
        with pytest.raises(ValueError):
            parse_view(bad)
    assert parse_view("svd_tail3") == ("svd_tail", 3)
    assert parse_view("low_r8") == ("low", 8.0)
    assert split_view_names("frequency", 8) == ("low_r8", "high_r8")
    assert split_view_names("svd", 4) == ("svd_top4", "svd_tail4")
    with pytest.raises(ValueError, match="expected 'original'"):
        parse_view("svd_bogus")
    with pytest.raises(ValueError):
        split_view_names("wavelet", 2)


def test_compute_views_dispatches_both_splits():
    x = torch.rand(2, 3, 16, 16)
    views = compute_views(x, ["svd_tail3", "original", "high_r4", "low_r4.0", "svd_top3"])
    assert list(views) == ["svd_tail3", "original", "high_r4", "low_r4.0", "svd_top3"]
    assert torch.equal(views["original"], x)
    low, high = split_frequencies(x, 4)
    torch.testing.assert_close(views["low_r4.0"], low)
    torch.testing.assert_close(views["high_r4"], high)
    top, tail = svd_split(x, 3)
    torch.testing.assert_close(views["svd_top3"], top)
    torch.testing.assert_close(views["svd_tail3"], tail)
    only = compute_views(np.ones((4, 4), dtype=np.uint8), ["original"])
    assert only["original"].dtype == np.float32
    with pytest.raises(ValueError):
        compute_views(x, [])
    with pytest.raises(ValueError):
        compute_views(x, ["mid_r3"])
