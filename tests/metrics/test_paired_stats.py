"""Paired statistics against scipy's bootstrap, a direct loop and exact enumerations."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from hfc_det.metrics.paired_stats import bootstrap_mean_ci, paired_statistics


def test_bootstrap_equals_scipy_percentile_bootstrap():
    d = np.random.default_rng(3).normal(0.02, 0.3, 137)
    got = bootstrap_mean_ci(d, n_resamples=3000, confidence=0.9, seed=11, batch=500)
    res = stats.bootstrap((d,), np.mean, method="percentile", n_resamples=3000, batch=500, confidence_level=0.9,
                          vectorized=True, rng=np.random.default_rng(11))
    assert got == pytest.approx((res.confidence_interval.low, res.confidence_interval.high), rel=1e-12, abs=1e-15)


def test_bootstrap_equals_a_direct_loop():
    """One resample at a time, its mean by a Python sum, the percentile by sorting."""
    d = np.round(np.random.default_rng(5).uniform(-1, 1, 40), 2)
    B, batch, seed = 400, 100, 7
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(B // batch):
        for row in rng.integers(0, len(d), (batch, len(d))):
            means.append(sum(d[k] for k in row) / len(d))
    means = sorted(means)

    def linear_quantile(q):  # numpy's default (method 7)
        h = (len(means) - 1) * q
        lo = math.floor(h)
        return means[lo] + (h - lo) * (means[min(lo + 1, len(means) - 1)] - means[lo])

    got = bootstrap_mean_ci(d, n_resamples=B, confidence=0.95, seed=seed, batch=batch)
    assert got == pytest.approx((linear_quantile(0.025), linear_quantile(0.975)), abs=1e-12)


def test_bootstrap_is_seeded():
    d = np.random.default_rng(0).normal(size=50)
    assert bootstrap_mean_ci(d, seed=4) == bootstrap_mean_ci(d, seed=4)
    assert bootstrap_mean_ci(d, seed=4) != bootstrap_mean_ci(d, seed=5)
    low, high = bootstrap_mean_ci(d)
    assert low < d.mean() < high


def _sign_test_by_hand(gains, losses):
    """Exact two-sided binomial test at 1/2: twice the smaller tail, capped at 1."""
    n = gains + losses
    tail = sum(math.comb(n, k) for k in range(min(gains, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _wilcoxon_by_enumeration(d):
    """Exact two-sided signed-rank p-value: every sign pattern of the ranks, equally likely."""
    ranks = stats.rankdata(np.abs(d))
    t_plus = ranks[d > 0].sum()
    n = len(d)
    sums = np.array([sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=n)])
    lower, upper = np.mean(sums <= t_plus), np.mean(sums >= t_plus)
    return min(1.0, 2 * min(lower, upper))


def test_counts_and_tests_against_direct_computations():
    # 12 images with distinct non-zero differences, 3 ties, 2 undefined
    rng = np.random.default_rng(2)
    original = rng.uniform(0.2, 0.8, 17)
    diffs = np.array([0.11, -0.23, 0.05, -0.31, -0.02, 0.17, -0.41, -0.07, 0.29, -0.13, -0.37, -0.19, 0, 0, 0, 0.5, 0.5])
    view = original + diffs
    original[15] = np.nan  # undefined under either AP
    view[16] = np.nan
    got = paired_statistics(view, original, n_resamples=2000)
    defined = [v - o for v, o in zip(view, original) if not (math.isnan(v) or math.isnan(o))]
    assert got["n"] == len(defined) == 15
    assert got["mean_difference"] == pytest.approx(sum(defined) / len(defined), abs=1e-12)
    assert (got["gains"], got["losses"], got["ties"]) == (4, 8, 3)
    assert got["sign_test_p"] == pytest.approx(_sign_test_by_hand(4, 8), rel=1e-12)
    nonzero = np.array([x for x in defined if x != 0])
    assert got["wilcoxon_p"] == pytest.approx(_wilcoxon_by_enumeration(nonzero), rel=1e-9)
    assert got["ci_low"] < got["mean_difference"] < got["ci_high"]


def test_nothing_to_test():
    same = np.array([0.5, 0.25, np.nan])
    got = paired_statistics(same, same)
    assert (got["n"], got["gains"], got["losses"], got["ties"]) == (2, 0, 0, 2)
    assert got["sign_test_p"] is None and got["wilcoxon_p"] is None
    assert got["mean_difference"] == 0 and got["ci_low"] == got["ci_high"] == 0
    empty = paired_statistics(np.array([np.nan]), np.array([0.3]))
    assert empty["n"] == 0 and math.isnan(empty["mean_difference"]) and math.isnan(empty["ci_low"])
