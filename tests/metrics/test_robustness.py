"""mPC / rPC against the benchmark's formulas, written here independently in mmdetection's
array form: ``results[corruption, severity]`` with severity 0 the clean AP; ``P = results[0, 0]``,
``mPC = mean(results[:15, 1:])`` (``aggregate="benchmark"``) or ``mean(results[:, 1:])``
(``"all"``), ``rPC = mPC / P``."""
import numpy as np
import pytest

from hfc_det.metrics.robustness import corruption_aps, robustness_summary, robustness_table_lines

# The library's order (mmdetection iterates the corruptions in it); families as the library groups them.
ORDER = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
         "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
         "speckle_noise", "gaussian_blur", "spatter", "saturate"]
FAMILY_ROWS = {"noise": [0, 1, 2], "blur": [3, 4, 5, 6], "weather": [7, 8, 9, 10], "digital": [11, 12, 13, 14]}


def hand_made(seed=0):
    """A (19, 6) table of APs, clean AP 40 in column 0, falling with severity (hand-shaped numbers)."""
    rng = np.random.default_rng(seed)
    results = np.zeros((19, 6))
    results[:, 0] = 40.0
    results[:, 1:] = 40.0 - np.arange(1, 6) * rng.uniform(1, 7, size=(19, 1)) + rng.uniform(-1, 1, size=(19, 5))
    return results


def as_views(results):
    views = {"original": results[0, 0], "low_r8": 3.0}  # a non-corruption view is ignored
    for i, name in enumerate(ORDER):
        for s in range(1, 6):
            views[f"corrupt_{name}_s{s}"] = results[i, s]
    return views


def test_matches_mmdetection_formulas():
    results = hand_made()
    got = robustness_summary(as_views(results))
    p = results[0, 0]
    mpc = np.mean(results[:15, 1:], axis=(0, 1))
    assert got["clean_ap"] == p
    assert got["mpc"] == pytest.approx(mpc, abs=1e-12)
    assert got["rpc"] == pytest.approx(mpc / p, abs=1e-12)
    mpc_all = np.mean(results[:, 1:], axis=(0, 1))
    assert got["all_corruptions"]["mpc"] == pytest.approx(mpc_all, abs=1e-12)
    assert got["all_corruptions"]["rpc"] == pytest.approx(mpc_all / p, abs=1e-12)
    for family, rows in FAMILY_ROWS.items():
        f = np.mean(results[rows, 1:])
        assert got["families"][family]["mpc"] == pytest.approx(f, abs=1e-12)
        assert got["families"][family]["rpc"] == pytest.approx(f / p, abs=1e-12)
    for i, name in enumerate(ORDER):
        row = got["per_corruption"][name]
        assert row["ap"] == {str(s): results[i, s] for s in range(1, 6)}
        assert row["mean"] == pytest.approx(results[i, 1:].mean(), abs=1e-12)
        assert row["benchmark"] == (i < 15)
    for s in range(1, 6):
        assert got["per_severity"][str(s)] == pytest.approx(results[:15, s].mean(), abs=1e-12)
    assert got["complete"] and got["missing"] == [] and got["views_used"] == 75


def test_a_small_worked_example():
    """Every benchmark AP 30 except fog (10 at every severity): mPC = (14 * 30 + 10) / 15."""
    views = {f"corrupt_{c}_s{s}": (10.0 if c == "fog" else 30.0) for c in ORDER[:15] for s in range(1, 6)}
    got = robustness_summary(views, clean_ap=40.0)
    assert got["mpc"] == pytest.approx((14 * 30 + 10) / 15)
    assert got["rpc"] == pytest.approx((14 * 30 + 10) / 15 / 40)
    assert got["families"]["weather"]["mpc"] == pytest.approx((3 * 30 + 10) / 4)
    assert got["all_corruptions"]["views_used"] == 75  # the extras are not there


def test_missing_views_are_reported_not_zero_filled():
    results = hand_made(1)
    views = as_views(results)
    del views["corrupt_fog_s5"], views["corrupt_snow_s1"]
    got = robustness_summary(views)
    kept = [results[i, s] for i in range(15) for s in range(1, 6) if (i, s) not in {(9, 5), (7, 1)}]
    assert got["mpc"] == pytest.approx(np.mean(kept), abs=1e-12)
    assert not got["complete"] and got["missing"] == ["corrupt_snow_s1", "corrupt_fog_s5"]
    assert got["views_used"] == 73 and got["families"]["weather"]["views_used"] == 18
    text = "\n".join(robustness_table_lines(got))
    assert "over 73 of 75 views" in text and "incomplete benchmark: 2 of 75 views missing" in text
    with pytest.raises(ValueError, match="needs all 75 views.*2 missing, e.g. corrupt_snow_s1"):
        robustness_summary(views, strict=True)


def test_few_corruptions_and_no_clean_ap():
    got = robustness_summary({"corrupt_fog_s3": 20.0, "corrupt_fog_s03": 20.0, "corrupt_speckle_noise_s1": 5.0})
    assert got["clean_ap"] is None and got["rpc"] is None and got["mpc"] == 20.0
    assert got["families"]["noise"]["mpc"] is None and got["all_corruptions"]["mpc"] == pytest.approx(12.5)
    assert got["per_corruption"]["speckle_noise"]["family"] == "extra"
    assert robustness_summary({"corrupt_fog_s3": 20.0}, clean_ap=0.0)["rpc"] is None
    assert "-" in robustness_table_lines(got)[-3]


def test_bad_values_are_one_line_errors():
    with pytest.raises(ValueError, match="view 'corrupt_fog_s3' is not a finite number"):
        corruption_aps({"corrupt_fog_s3": float("nan")})
    with pytest.raises(ValueError, match="unknown corruption 'foggy'"):
        corruption_aps({"corrupt_foggy_s3": 1.0})
    with pytest.raises(ValueError, match="clean AP is not a finite number"):
        robustness_summary({"corrupt_fog_s3": 1.0}, clean_ap=float("inf"))


def test_table_lines():
    lines = robustness_table_lines(robustness_summary(as_views(hand_made())))
    assert lines[0].split()[:7] == ["corruption", "s1", "s2", "s3", "s4", "s5", "mean"]
    assert sum("(extra)" in line for line in lines) == 4
    assert any(line.startswith("benchmark (15)") and "over 75 of 75 views" in line for line in lines)
    assert any(line.startswith("all (19)") for line in lines)
