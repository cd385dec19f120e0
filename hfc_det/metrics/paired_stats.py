"""Paired statistics of per-image AP: is a view's count of gains more than chance?

For one view against the original, over the images where both per-image APs are defined,
with ``d = AP(view) - AP(original)`` per image:

- ``mean_difference`` with a percentile bootstrap confidence interval (resampling images
  with replacement; seeded, so a re-run gives the same interval; vectorised in batches);
- ``gains`` / ``losses`` / ``ties`` (``d > 0`` / ``d < 0`` / ``d == 0``);
- ``sign_test_p``: two-sided exact binomial test of gains against losses, ties left out
  (``scipy.stats.binomtest(gains, gains + losses, 0.5)``): could a coin have split the
  images that changed this way?
- ``wilcoxon_p``: two-sided Wilcoxon signed-rank test of ``d`` (``scipy.stats.wilcoxon``,
  zero differences left out): does the view shift per-image AP, taking the sizes of the
  changes into account?

A p-value is ``None`` where its test has nothing to test (no image changed). Imports no
detectron2.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np
from scipy import stats

__all__ = ["BOOTSTRAP_RESAMPLES", "CONFIDENCE", "BOOTSTRAP_SEED", "bootstrap_mean_ci",
           "paired_statistics", "paired_settings"]

#: Defaults of the bootstrap confidence interval.
BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0
# Resamples drawn at once: 1000 x 5000 images of int64 indices is 40 MB.
_BATCH = 1000


def bootstrap_mean_ci(values: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE,
                      seed: int = BOOTSTRAP_SEED, batch: int = _BATCH) -> Tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (1-D).

    Each batch draws ``rng.integers(0, n, (batch, n))`` indices from
    ``np.random.default_rng(seed)`` (what ``scipy.stats.bootstrap(..., method="percentile",
    batch=batch)`` draws, so both give the same interval); the bounds are the linear
    quantiles ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` of the resampled means.
    Returns ``(nan, nan)`` for no values.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        return math.nan, math.nan
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1 or batch < 1:
        raise ValueError(f"n_resamples and batch must be >= 1, got {n_resamples}, {batch}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        means[start:start + size] = values[rng.integers(0, n, (size, n))].mean(axis=-1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def _sign_test_p(gains: int, losses: int) -> Optional[float]:
    if gains + losses == 0:
        return None
    return float(stats.binomtest(gains, gains + losses, 0.5, alternative="two-sided").pvalue)


def _wilcoxon_p(d: np.ndarray) -> Optional[float]:
    # Zeros dropped here rather than by zero_method="wilcox": the same statistic, and scipy
    # then uses the exact distribution for a small sample without ties (it falls back to the
    # normal approximation whenever zeros are present).
    d = d[d != 0]
    if d.size == 0:
        return None
    return float(stats.wilcoxon(d, alternative="two-sided").pvalue)


def paired_statistics(ap_view: np.ndarray, ap_original: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES,
                      confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> Dict[str, object]:
    """The statistics of the module docstring for two aligned per-image AP arrays.

    Args:
        ap_view: per-image AP of the view in [0, 1], shape ``(N,)``, NaN where undefined
            (such images are left out).
        ap_original: the original's, aligned with ``ap_view`` by image.

    Returns:
        ``{"n", "mean_difference", "ci_low", "ci_high", "gains", "losses", "ties",
        "sign_test_p", "wilcoxon_p"}``: ``n`` images with a defined difference; the mean
        and its interval in AP units (NaN for ``n == 0``); p-values or ``None``.
    """
    a1 = np.asarray(ap_view, dtype=np.float64).ravel()
    a0 = np.asarray(ap_original, dtype=np.float64).ravel()
    if a1.shape != a0.shape:
        raise ValueError(f"per-image AP arrays differ in length: {a1.size} vs {a0.size}")
    d = (a1 - a0)[~(np.isnan(a1) | np.isnan(a0))]
    gains, losses = int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0))
    low, high = bootstrap_mean_ci(d, n_resamples, confidence, seed)
    return {
        "n": int(d.size),
        "mean_difference": float(d.mean()) if d.size else math.nan,
        "ci_low": low,
        "ci_high": high,
        "gains": gains,
        "losses": losses,
        "ties": int(d.size - gains - losses),
        "sign_test_p": _sign_test_p(gains, losses),
        "wilcoxon_p": _wilcoxon_p(d),
    }


def paired_settings(n_resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE,
                    seed: int = BOOTSTRAP_SEED) -> Dict[str, object]:
    """How :func:`paired_statistics` was run, for summary.json."""
    return {"ci": "percentile bootstrap of the mean per-image AP difference (images resampled)",
            "confidence": confidence, "n_resamples": n_resamples, "seed": seed,
            "sign_test": "two-sided exact binomial test of gains vs losses, ties left out (scipy.stats.binomtest)",
            "wilcoxon": "two-sided Wilcoxon signed-rank test, zero differences left out (scipy.stats.wilcoxon)"}
