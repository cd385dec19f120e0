"""compare_runs' numbers against an independent computation from the runs' files (pandas,
scipy), and its refusals. The runs are hand-made folders (tests/helpers/report_fixture.py):
three "detectors" on the same twelve images that lose more or less on the LFC."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.report_fixture import DEMO_VIEWS, make_views_folder

from hfc_det.metrics.comparison import ComparisonError, compare_runs, frequency_reliance

RESAMPLES = 2000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    return [make_views_folder(root / "a", seed=1, reliance=10, config_file="configs/retinanet_R50_FPN.yaml"),
            make_views_folder(root / "b", seed=2, reliance=24, config_file="/x/faster_rcnn_R_50_FPN_3x.yaml"),
            make_views_folder(root / "c", views=DEMO_VIEWS[:-3], seed=3, reliance=40, strict=False, errors=False,
                              config_file="configs/fcos.py")]


@pytest.fixture(scope="module")
def comparison(runs):
    return compare_runs(runs, n_resamples=RESAMPLES)


def _per_image(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "per_image_ap.csv", index_col="image_id")


def _variants(folder):
    return json.loads((folder / "summary.json").read_text())["variants"]


def _reference_pair(a, b, view, column):
    """Paired statistics of (change in a) - (change in b), straight from the CSVs."""
    da, db = _per_image(a), _per_image(b)
    change_a = da[f"{column}{view}"] - da[f"{column}original"]
    change_b = db[f"{column}{view}"] - db[f"{column}original"]
    d = (change_a - change_b.reindex(change_a.index)).dropna().to_numpy()
    gains, losses = int((d > 0).sum()), int((d < 0).sum())
    ci = stats.bootstrap((d,), np.mean, n_resamples=RESAMPLES, method="percentile", confidence_level=0.95,
                         random_state=np.random.default_rng(0), batch=1000).confidence_interval
    nonzero = d[d != 0]
    return {"n": d.size, "mean_difference": d.mean(), "ci_low": ci.low, "ci_high": ci.high, "gains": gains,
            "losses": losses, "ties": d.size - gains - losses,
            "sign_test_p": stats.binomtest(gains, gains + losses, 0.5).pvalue if gains + losses else None,
            "wilcoxon_p": stats.wilcoxon(nonzero).pvalue if nonzero.size else None}


def test_labels_views_and_measures(comparison):
    assert comparison["labels"] == ["retinanet_R50_FPN", "faster_rcnn_R_50_FPN_3x", "fcos"]
    assert comparison["common_views"] == DEMO_VIEWS[:-3]
    assert comparison["partial_views"] == {v: ["retinanet_R50_FPN", "faster_rcnn_R_50_FPN_3x"] for v in DEMO_VIEWS[-3:]}
    assert comparison["measures"] == ["coco"]  # run c has no strict column
    assert comparison["num_images"] == 12


def test_ap_and_relative_ap_match_the_summaries(comparison, runs):
    for label, folder in zip(comparison["labels"], runs):
        variants = _variants(folder)
        assert set(comparison["ap"][label]) == set(variants)
        for view, metrics in variants.items():
            got = comparison["ap"][label][view]
            assert got["AP"] == metrics["AP"] and got["AP50"] == metrics["AP50"]
            assert got["relative_AP"] == pytest.approx(metrics["AP"] / variants["original"]["AP"], rel=1e-12)


def test_paired_statistics_match_scipy_on_the_csvs(comparison, runs):
    labels = comparison["labels"]
    pairs = {(p["a"], p["b"]): p["rows"] for p in comparison["pairs"]}
    assert list(pairs) == list(itertools.combinations(labels, 2))
    for (i, a), (j, b) in itertools.combinations(enumerate(labels), 2):
        rows = pairs[(a, b)]
        assert [(r["view"], r["measure"]) for r in rows] == [(v, "coco") for v in DEMO_VIEWS[1:-3]]
        for row in rows:
            want = _reference_pair(runs[i], runs[j], row["view"], "ap_")
            for key, value in want.items():
                if value is None:
                    assert row[key] is None, (a, b, row["view"], key)
                else:
                    assert row[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (a, b, row["view"], key)
    assert comparison["paired_settings"]["n_resamples"] == RESAMPLES


def test_strict_measure_is_compared_when_every_run_has_it(runs):
    c = compare_runs(runs[:2], ["A", "B"], n_resamples=RESAMPLES)
    rows = {(r["view"], r["measure"]): r for r in c["pairs"][0]["rows"]}
    assert c["measures"] == ["coco", "strict"] and c["partial_views"] == {}
    want = _reference_pair(runs[0], runs[1], "low_r16", "ap_strict_")
    assert rows[("low_r16", "strict")]["mean_difference"] == pytest.approx(want["mean_difference"])
    assert rows[("low_r16", "strict")]["wilcoxon_p"] == pytest.approx(want["wilcoxon_p"])


def _reference_half_radius(variants):
    clean = variants["original"]["AP"]
    curve = sorted((float(v[len("low_r"):]), m["AP"] / clean) for v, m in variants.items() if v.startswith("low_r"))
    r, rel = np.array([c[0] for c in curve]), np.array([c[1] for c in curve])
    if rel[0] >= 0.5 or not (rel >= 0.5).any():
        return None
    i = int(np.argmax(rel >= 0.5))
    return float(np.interp(0.5, rel[i - 1:i + 1], r[i - 1:i + 1]))


def test_frequency_reliance_matches_an_interpolation_of_the_summaries(comparison, runs):
    for label, folder in zip(comparison["labels"], runs):
        variants = _variants(folder)
        got = comparison["reliance"][label]
        want = _reference_half_radius(variants)
        if want is None:
            assert got["lfc_half_radius"] is None and got["lfc_half_reason"]
        else:
            assert got["lfc_half_radius"] == pytest.approx(want, rel=1e-12) and got["lfc_half_reason"] is None
        assert got["hfc_radius"] == 8.0 and got["hfc_AP"] == variants["high_r8"]["AP"]
        assert got["hfc_relative_AP"] == pytest.approx(variants["high_r8"]["AP"] / variants["original"]["AP"])
    # the three detectors were made to need more and more of the LFC: the first two cross half
    halves = [comparison["reliance"][x]["lfc_half_radius"] for x in comparison["labels"][:2]]
    assert None not in halves and halves[0] < halves[1]


@pytest.mark.parametrize("low, half, reason", [
    ({"low_r8": 20.0, "low_r16": 30.0, "low_r32": 60.0}, 16 + 16 * (50 - 30) / 30, None),
    ({"low_r8": 55.0, "low_r16": 70.0}, None, "already at the smallest radius, 8"),
    ({"low_r8": 10.0, "low_r16": 20.0}, None, "less than half the clean AP up to the largest radius, 16"),
    ({"low_r8": 10.0}, None, "a crossing needs two"),
    ({"low_r4": 10.0, "low_r8": 50.0}, 8.0, None),  # exactly half at 8
])
def test_half_radius_cases(low, half, reason):
    variants = {"original": {"AP": 100.0}, **{v: {"AP": ap} for v, ap in low.items()},
                "high_r16": {"AP": 3.0}, "high_r8": {"AP": 5.0}}
    got = frequency_reliance(variants)
    assert got["lfc_half_radius"] == (pytest.approx(half) if half is not None else None)
    assert (reason is None) == (got["lfc_half_reason"] is None)
    if reason:
        assert reason in got["lfc_half_reason"]
    assert (got["hfc_radius"], got["hfc_AP"], got["hfc_relative_AP"]) == (8.0, 5.0, 0.05)


def test_no_clean_ap_gives_reasons():
    got = frequency_reliance({"original": {"AP": None}, "low_r8": {"AP": 1.0}, "low_r16": {"AP": 2.0}})
    assert got["lfc_half_radius"] is None and "no clean AP" in got["lfc_half_reason"]


def test_tide_side_by_side(comparison, runs):
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert comparison["tide"]["retinanet_R50_FPN"] == summary["errors"]
    assert comparison["tide_missing"] == ["fcos"]


def test_labels_from_a_shared_config_get_the_folder_name(tmp_path):
    a = make_views_folder(tmp_path / "plain", views=DEMO_VIEWS[:6])
    b = make_views_folder(tmp_path / "smooth", views=DEMO_VIEWS[:6], seed=5)
    a2 = a.rename(tmp_path / "plain" / "run_plain")
    b2 = b.rename(tmp_path / "smooth" / "run_smooth")
    c = compare_runs([a2, b2], n_resamples=100)
    assert c["labels"] == ["demo (plain/run_plain)", "demo (smooth/run_smooth)"]


@pytest.mark.parametrize("change, labels, message", [
    (dict(dataset_name="other"), None, "different datasets: retinanet_R50_FPN on 'tiny_shapes', demo on 'other'"),
    (dict(n_images=10), None, "different images of 'tiny_shapes': retinanet_R50_FPN has 12, demo 10; "
                              "2 only in retinanet_R50_FPN (ids 11, 12), 0 only in demo"),
    ({}, ["one"], "--labels gives 1 labels for 2 runs"),
    ({}, ["x", "x"], "--labels: 'x' is given twice"),
])
def test_refusals_are_one_line(runs, tmp_path, change, labels, message):
    other = make_views_folder(tmp_path, **change)
    with pytest.raises(ComparisonError) as exc:
        compare_runs([runs[0], other], labels, n_resamples=100)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_same_folder_twice_is_refused(runs):
    with pytest.raises(ComparisonError, match="given twice"):
        compare_runs([runs[0], runs[0]])
