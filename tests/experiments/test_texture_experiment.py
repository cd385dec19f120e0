"""The shortcut experiment: per-cell numbers, table, plot, and the tool end to end (tiny)."""
import importlib.util
import json
import math
import os
import sys

import pytest

from hfc_det.experiments.texture import cell_key, cell_summary, results_table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cell(amp, corr, orig, low24, rel, rel_lfc):
    views = {"original": {"AP": orig, "AP50": orig + 20}, "low_r24": {"AP": low24}, "high_r24": {"AP": 1.5},
             "low_r48": {"AP": orig - 0.5}, "high_r48": {"AP": 0.0}}
    conflict = {"original": {"shape": {"AP": 10.0, "AP50": 20.0}, "texture": {"AP": 30.0, "AP50": 60.0},
                             "texture_reliance": rel},
                "low_r24": {"shape": {"AP": 12.0, "AP50": 25.0}, "texture": {"AP": 1.0, "AP50": 5.0},
                            "texture_reliance": rel_lfc}}
    return cell_summary(amp, corr, views, [24, 48], 24, conflict)


def test_cell_summary_keeps_the_experiments_numbers():
    c = _cell(0.15, 1.0, 70.0, 20.25, 0.75, 0.1)
    assert c["lfc_drop"] == pytest.approx(20.25 - 70.0)
    assert c["AP_low"] == {"24": 20.25, "48": 69.5} and c["AP_high"] == {"24": 1.5, "48": 0.0}
    assert c["texture_reliance"] == 0.75 and c["texture_reliance_lfc"] == 0.1
    assert c["AP50_original"] == 90.0
    assert cell_key(0.15, 0.5) == "amp0.15_corr0.5"
    missing = cell_summary(0.06, 0.0, {"original": {"AP": 50.0}}, [24], 24, {})
    assert math.isnan(missing["lfc_drop"]) and math.isnan(missing["texture_reliance"])


def test_results_table_rows_are_sorted_and_formatted():
    cells = [_cell(0.15, 1.0, 70.0, 20.25, 0.75, 0.1), _cell(0.06, 0.0, 60.0, 59.0, 0.2, 0.15)]
    lines = results_table(cells).splitlines()
    assert lines[0].startswith("| amplitude | correlation | AP original | AP low_r24 | AP low_r48 |")
    assert lines[2] == "| 0.06 | 0 | 60.0 | 59.0 | 59.5 | 1.5 | 0.0 | -1.0 | 20.0 | 60.0 | 0.20 | 25.0 | 5.0 | 0.15 |"
    assert lines[3].startswith("| 0.15 | 1 | 70.0 | 20.2 |")
    assert "| -49.8 |" in lines[3]
    assert results_table([]) == "(no cell has run)\n"


def test_plot_draws_one_line_per_amplitude_with_the_cells_numbers(tmp_path):
    from hfc_det.visualization.plots import plot_texture_experiment

    cells = [_cell(0.15, 1.0, 70.0, 20.0, 0.75, 0.1), _cell(0.15, 0.0, 65.0, 64.0, 0.2, 0.2),
             _cell(0.06, 0.0, 60.0, 59.0, 0.2, 0.15)]
    drawn = plot_texture_experiment(cells, tmp_path / "p.png")
    assert os.path.getsize(tmp_path / "p.png") > 1000
    assert drawn["lines"]["0.15"]["correlation"] == [0.0, 1.0]
    assert drawn["lines"]["0.15"]["lfc_drop"] == [-1.0, -50.0]
    assert drawn["lines"]["0.06"]["texture_reliance"] == [0.2]


def _tool():
    sys.path.insert(0, os.path.join(REPO, "tools"))
    spec = importlib.util.spec_from_file_location("texture_experiment", os.path.join(REPO, "tools", "texture_experiment.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, message", [
    (["--amplitudes", "0.7"], "error: --amplitudes must be in [0, 0.5], got 0.7"),
    (["--correlations", "1.5"], "error: --correlations must be in [0, 1], got 1.5"),
    (["--texture-radius", "0"], "error: --radius and --texture-radius must be positive"),
])
def test_user_mistakes_give_one_line_errors(tmp_path, argv, message):
    pytest.importorskip("detectron2")
    with pytest.raises(SystemExit) as e:
        _tool().main(["--output", str(tmp_path), "--cache", str(tmp_path)] + argv)
    assert str(e.value.code) == message


@pytest.mark.slow
def test_tool_end_to_end_on_tiny_settings(tmp_path):
    pytest.importorskip("detectron2")
    import torch

    from helpers.demo_settings import TINY

    out, cache = str(tmp_path / "exp"), str(tmp_path / "cache")
    tool = _tool()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # nothing trained yet: --skip-untrained runs no cell and says which were not run
        tool.main(["--output", out, "--cache", cache, "--amplitudes", "0.15", "--correlations", "1.0",
                   "--radius", "16", "--texture-radius", "16", "--skip-untrained", *TINY])
        with open(os.path.join(out, "results.json")) as f:
            assert json.load(f)["not_run"] == [{"texture_amplitude": 0.15, "texture_correlation": 1.0}]
        tool.main(["--output", out, "--cache", cache, "--amplitudes", "0.15", "--correlations", "1.0",
                   "--radius", "16", "--texture-radius", "16", *TINY])
    finally:
        torch.set_num_threads(threads)
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    (cell,) = results["cells"]
    with open(os.path.join(out, "amp0.15_corr1", "val", "summary.json")) as f:
        val = json.load(f)["variants"]
    assert cell["AP_original"] == pytest.approx(val["original"]["AP"])
    assert cell["lfc_drop"] == pytest.approx(val["low_r16"]["AP"] - val["original"]["AP"])
    assert set(cell["conflict"]) == {"original", "low_r16"}
    assert os.path.isfile(os.path.join(out, "amp0.15_corr1", "conflict", "detections", "low_r16.json"))
    assert os.path.isfile(os.path.join(out, "dose_response.png"))
    assert os.path.isfile(os.path.join(cache, "texture_experiment", "dose_response.png"))
    assert "| 0.15 | 1 |" in open(os.path.join(out, "results.md")).read()
    # the same cell again: read back from cell.json, not evaluated again
    val_summary = os.path.join(out, "amp0.15_corr1", "val", "summary.json")
    mtime = os.stat(val_summary).st_mtime_ns
    tool.main(["--output", out, "--cache", cache, "--amplitudes", "0.15", "--correlations", "1.0",
               "--radius", "16", "--texture-radius", "16", *TINY])
    assert os.stat(val_summary).st_mtime_ns == mtime
    with open(os.path.join(out, "results.json")) as f:
        assert json.load(f)["cells"] == results["cells"]
