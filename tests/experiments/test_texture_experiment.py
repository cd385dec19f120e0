"""The shortcut experiment: per-cell numbers, table, plot, the cells' caching and identity,
the results files, and the experiment end to end (tiny)."""
import importlib.util
import json
import math
import os
import time

import pytest

from hfc_det.experiments import texture
from hfc_det.experiments.texture import (
    TextureExperiment,
    cell_key,
    cell_summary,
    plot_texture_experiment,
    results_table,
    run_cell,
    run_texture_experiment,
    write_results,
)

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
    cells = [_cell(0.15, 1.0, 70.0, 20.0, 0.75, 0.1), _cell(0.15, 0.0, 65.0, 64.0, 0.2, 0.2),
             _cell(0.06, 0.0, 60.0, 59.0, 0.2, 0.15)]
    drawn = plot_texture_experiment(cells, tmp_path / "p.png")
    assert os.path.getsize(tmp_path / "p.png") > 1000
    assert drawn["lines"]["0.15"]["correlation"] == [0.0, 1.0]
    assert drawn["lines"]["0.15"]["lfc_drop"] == [-1.0, -50.0]
    assert drawn["lines"]["0.06"]["texture_reliance"] == [0.2]


def _tool():
    spec = importlib.util.spec_from_file_location("texture_experiment", os.path.join(REPO, "tools", "texture_experiment.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, message", [
    (["--amplitudes", "0.7"], "error: --amplitudes must be in [0, 0.5], got 0.7"),
    (["--correlations", "1.5"], "error: --correlations must be in [0, 1], got 1.5"),
    (["--texture-radius", "0"], "error: --radius and --texture-radius must be positive"),
    (["--radius", "8", "-1"], "error: --radius and --texture-radius must be positive"),
    (["--max-images", "0"], "error: --max-images must be at least 1, got 0"),
])
def test_user_mistakes_give_one_line_errors(tmp_path, argv, message):
    with pytest.raises(SystemExit) as e:
        _tool().main(["--output", str(tmp_path), "--cache", str(tmp_path)] + argv)
    assert str(e.value.code) == message
    assert not os.listdir(tmp_path)  # refused before anything is written


def test_experiment_settings_are_the_tools_defaults():
    args = _tool().parse_args(["--amplitudes", "0.1", "MODEL.DEVICE", "cpu"])
    e = TextureExperiment(amplitudes=args.amplitudes, overrides=args.opts)
    assert e.amplitudes == (0.1,) and e.correlations == (0.0, 0.5, 1.0) and e.radii == (8, 16, 24, 32, 48)
    assert e.texture_radius == 24 and e.overrides == ("MODEL.DEVICE", "cpu")
    assert e.grid == [(0.1, 0.0), (0.1, 0.5), (0.1, 1.0)]
    assert e.cell_overrides(0.1, 0.5) == ["MODEL.DEVICE", "cpu", "SHAPES.TEXTURE_AMPLITUDE", "0.1",
                                          "SHAPES.TEXTURE_CORRELATION", "0.5"]


@pytest.fixture
def fake_cells(tmp_path, monkeypatch):
    """run_cell with a model folder in tmp_path and an evaluation that only counts its calls."""
    model_dir = tmp_path / "cache" / "model_abc"
    model_dir.mkdir(parents=True)
    (model_dir / "model_final.pth").write_bytes(b"weights")
    calls = []

    def evaluate(experiment, amplitude, correlation, folder):
        calls.append((amplitude, correlation, folder))
        cell = _cell(amplitude, correlation, 70.0, 20.0, float("nan"), 0.1)
        cell.update(model_dir=str(model_dir), model_cached=True, seconds={})
        return cell

    monkeypatch.setattr(TextureExperiment, "model_dir", lambda self, a, c: str(model_dir))
    monkeypatch.setattr(texture, "_evaluate_cell", evaluate)
    return model_dir, calls


def test_a_cell_is_reused_only_when_evaluated_the_same_way(tmp_path, fake_cells, capsys):
    model_dir, calls = fake_cells
    e = TextureExperiment(output=str(tmp_path / "out"), cache=str(tmp_path / "cache"), radii=(24, 48))
    first = run_cell(e, 0.15, 1.0)
    assert len(calls) == 1 and calls[0][2] == str(tmp_path / "out" / "amp0.15_corr1")
    saved = json.loads((tmp_path / "out" / "amp0.15_corr1" / "cell.json").read_text())
    assert saved["identity"] == {"model_dir": str(model_dir), "radii": [24.0, 48.0], "texture_radius": 24.0,
                                 "weights_mtime_ns": os.stat(model_dir / "model_final.pth").st_mtime_ns,
                                 "max_images": None}
    assert saved["cell"]["texture_reliance"] is None and math.isnan(first["texture_reliance"])  # JSON: NaN -> null
    assert run_cell(e, 0.15, 1.0) == saved["cell"] and len(calls) == 1  # read back
    assert "reusing" in capsys.readouterr().out
    # anything the numbers depend on changes: evaluated again
    run_cell(TextureExperiment(output=e.output, cache=e.cache, radii=(24,)), 0.15, 1.0)
    run_cell(TextureExperiment(output=e.output, cache=e.cache, radii=(24,), max_images=2), 0.15, 1.0)
    os.utime(model_dir / "model_final.pth", ns=(time.time_ns(), time.time_ns() + 10**9))  # retrained
    run_cell(TextureExperiment(output=e.output, cache=e.cache, radii=(24,), max_images=2), 0.15, 1.0)
    assert len(calls) == 4


def test_write_results_files_and_the_copy_for_the_demo_report(tmp_path):
    e = TextureExperiment(output=str(tmp_path / "out"), cache=str(tmp_path / "cache"), radii=(24, 48),
                          overrides=("SOLVER.MAX_ITER", "5"))
    cells = [_cell(0.15, 1.0, 70.0, 20.0, float("nan"), 0.1)]
    table = write_results(e, cells, [{"texture_amplitude": 0.06, "texture_correlation": 0.0}], time.time())
    assert table == results_table(cells)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["overrides"] == ["SOLVER.MAX_ITER", "5"] and results["radii"] == [24, 48]
    assert results["cells"][0]["texture_reliance"] is None and results["cells"][0]["AP_original"] == 70.0
    assert results["not_run"] == [{"texture_amplitude": 0.06, "texture_correlation": 0.0}]
    assert results["plot"]["lines"]["0.15"]["lfc_drop"] == [-50.0]
    md = (tmp_path / "out" / "results.md").read_text()
    assert md.endswith(table) and "Not run: [{'texture_amplitude': 0.06" in md
    assert json.loads((tmp_path / "cache" / "texture_experiment" / "results.json").read_text()) == results
    assert (tmp_path / "cache" / "texture_experiment" / "dose_response.png").read_bytes() == \
        (tmp_path / "out" / "dose_response.png").read_bytes()
    # no cell has run: no picture, nothing for the demo's report
    empty = TextureExperiment(output=str(tmp_path / "empty"), cache=str(tmp_path / "cache2"))
    assert write_results(empty, [], [], time.time()) == "(no cell has run)\n"
    assert json.loads((tmp_path / "empty" / "results.json").read_text())["plot"] is None
    assert not (tmp_path / "cache2").exists()


def test_run_skips_untrained_cells_and_writes_after_each(tmp_path, fake_cells, monkeypatch, capsys):
    _, calls = fake_cells
    monkeypatch.setattr(TextureExperiment, "is_trained", lambda self, a, c: c == 1.0)
    e = TextureExperiment(output=str(tmp_path / "out"), cache=str(tmp_path / "cache"), amplitudes=(0.15,),
                          correlations=(0.0, 1.0), radii=(24,))
    cells, not_run, table = run_texture_experiment(e, skip_untrained=True)
    assert [(c["texture_amplitude"], c["texture_correlation"]) for c in cells] == [(0.15, 1.0)]
    assert not_run == [{"texture_amplitude": 0.15, "texture_correlation": 0.0}] and len(calls) == 1
    out = capsys.readouterr().out
    assert "cell 1/2: amplitude 0.15, correlation 0: not trained, skipped" in out
    assert "cell 2/2: amplitude 0.15, correlation 1" in out
    assert json.loads((tmp_path / "out" / "results.json").read_text())["not_run"] == not_run
    with pytest.raises(ValueError, match="--correlations must be in"):
        run_texture_experiment(TextureExperiment(output=str(tmp_path / "x"), correlations=(2.0,)))


@pytest.mark.slow
def test_experiment_end_to_end_on_tiny_settings(tmp_path):
    pytest.importorskip("detectron2")
    import torch

    from helpers.demo_settings import TINY

    out, cache = str(tmp_path / "exp"), str(tmp_path / "cache")
    e = TextureExperiment(output=out, cache=cache, amplitudes=[0.15], correlations=[1.0], radii=[16],
                          texture_radius=16, overrides=TINY)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # nothing trained yet: skip_untrained runs no cell and says which were not run
        assert run_texture_experiment(e, skip_untrained=True)[:2] == (
            [], [{"texture_amplitude": 0.15, "texture_correlation": 1.0}])
        with open(os.path.join(out, "results.json")) as f:
            assert json.load(f)["not_run"] == [{"texture_amplitude": 0.15, "texture_correlation": 1.0}]
        run_texture_experiment(e)
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
    # the conflict numbers against cue_conflict_metrics on the written detections
    from hfc_det.experiments.cue_conflict import cue_conflict_metrics

    demo = json.load(open(os.path.join(out, "amp0.15_corr1", "val", "demo.json")))
    want = cue_conflict_metrics(demo["dataset"]["conflict"],
                                os.path.join(out, "amp0.15_corr1", "conflict", "detections", "low_r16.json"))
    assert json.dumps(cell["conflict"]["low_r16"]) == json.dumps(texture._json_safe(want))
    assert os.path.isfile(os.path.join(out, "dose_response.png"))
    assert os.path.isfile(os.path.join(cache, "texture_experiment", "dose_response.png"))
    assert "| 0.15 | 1 |" in open(os.path.join(out, "results.md")).read()
    # the same cell again, through the tool: read back from cell.json, not evaluated again
    val_summary = os.path.join(out, "amp0.15_corr1", "val", "summary.json")
    mtime = os.stat(val_summary).st_mtime_ns
    _tool().main(["--output", out, "--cache", cache, "--amplitudes", "0.15", "--correlations", "1.0",
                  "--radius", "16", "--texture-radius", "16", *TINY])
    assert os.stat(val_summary).st_mtime_ns == mtime
    with open(os.path.join(out, "results.json")) as f:
        assert json.load(f)["cells"] == results["cells"]


def test_tied_vs_free_is_skipped_with_a_note_without_both_cells(tmp_path, fake_cells, monkeypatch):
    _, calls = fake_cells
    monkeypatch.setattr(texture, "_tied_vs_free", lambda *a: pytest.fail("nothing to compare"))
    e = TextureExperiment(output=str(tmp_path / "out"), cache=str(tmp_path / "cache"), amplitudes=(0.06, 0.15),
                          correlations=(0.5, 1.0), radii=(24,))
    cells, _, table = run_texture_experiment(e)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["tied_vs_free"] == [
        {"texture_amplitude": a, "comparison": None, "note": "the grid's correlations lack 1 (tied) or 0 (free)"}
        for a in (0.06, 0.15)]
    md = (tmp_path / "out" / "results.md").read_text()
    assert "- Tied vs free, amplitude 0.15: not drawn (the grid's correlations lack 1 (tied) or 0 (free))." in md
    assert md.endswith(table)
    # both correlations in the grid, but the free cell not run
    monkeypatch.setattr(TextureExperiment, "is_trained", lambda self, a, c: c == 1.0)
    e2 = TextureExperiment(output=str(tmp_path / "out2"), cache=e.cache, amplitudes=(0.15,), correlations=(0.0, 1.0),
                           radii=(24,))
    run_texture_experiment(e2, skip_untrained=True)
    assert json.loads((tmp_path / "out2" / "results.json").read_text())["tied_vs_free"] == [
        {"texture_amplitude": 0.15, "comparison": None, "note": "the tied or the free cell was not run"}]


def test_tied_vs_free_text_names_the_numbers_and_the_page():
    text = texture.tied_vs_free_text([
        {"texture_amplitude": 0.15, "comparison": "out/tied_vs_free/a0.15", "note": None,
         "AP": {"tied": {"original": 12.34, "low_r24": None}, "free": {"original": 40.0, "low_r24": 38.96}}}])
    assert text == ("- Tied vs free, amplitude 0.15: AP on the free cell's val split (original: tied 12.3, free 40.0; "
                    "low_r24: tied -, free 39.0); comparison in out/tied_vs_free/a0.15/index.html.\n")


def _coco_ap(gt_json, detections_json):
    """pycocotools' COCO AP (0-100) of a detections file against a ground-truth file."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_json)
        dets = json.load(open(detections_json))
        assert dets, "the tiny model wrote no detection: nothing to check"
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return 100 * float(ev.stats[0])


@pytest.mark.slow
def test_tied_vs_free_comparison_on_the_free_val_split(tmp_path):
    pytest.importorskip("detectron2")
    import pandas as pd
    import torch

    from helpers.demo_settings import TINY

    out, cache = tmp_path / "exp", str(tmp_path / "cache")
    # six iterations leave every score under the default 0.05: keep the top 20 boxes, so
    # there are detections to score
    overrides = [*TINY, "MODEL.RETINANET.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "20"]
    e = TextureExperiment(output=str(out), cache=cache, amplitudes=[0.15], correlations=[0.0, 1.0], radii=[16],
                          texture_radius=16, overrides=overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_texture_experiment(e)
    finally:
        torch.set_num_threads(threads)
    folder = out / "tied_vs_free" / "a0.15"
    (entry,) = json.loads((out / "results.json").read_text())["tied_vs_free"]
    assert entry["comparison"] == str(folder) and entry["note"] is None
    tied_dir, free_dir = folder / "tied_on_free_val", out / "amp0.15_corr0" / "val"
    assert (entry["tied_on_free_val"], entry["free_val"]) == (str(tied_dir), str(free_dir))
    comparison = json.loads((folder / "comparison.json").read_text())
    assert comparison["labels"] == ["tied", "free"] and (folder / "index.html").is_file()
    # both runs on the free cell's val images (the tied cell's own val split is another dataset)
    free_json = json.loads((free_dir / "demo.json").read_text())["dataset"]["val"]
    tied_own_json = json.loads((out / "amp0.15_corr1" / "val" / "demo.json").read_text())["dataset"]["val"]
    assert free_json != tied_own_json
    summaries = [json.loads((d / "summary.json").read_text())["dataset"] for d in (tied_dir, free_dir)]
    assert summaries[0] == summaries[1] and summaries[0]["json_file"] == free_json
    ids = [sorted(pd.read_csv(d / "per_image_ap.csv")["image_id"]) for d in (tied_dir, free_dir)]
    assert ids[0] == ids[1] == sorted(im["id"] for im in json.load(open(free_json))["images"])
    # the tied model's AP there, recomputed by pycocotools from its detections
    want = _coco_ap(free_json, tied_dir / "detections" / "original.json")
    print(f"tied on the free val split: AP {want}")
    assert comparison["ap"]["tied"]["original"]["AP"] == pytest.approx(want, abs=1e-6)
    assert entry["AP"]["tied"]["original"] == pytest.approx(want, abs=1e-6)
    assert comparison["ap"]["free"]["original"]["AP"] == pytest.approx(
        _coco_ap(free_json, free_dir / "detections" / "original.json"), abs=1e-6)
    assert str(folder / "index.html") in (out / "results.md").read_text()
    # the same models and options again: the evaluation and the comparison are read back
    mtime = os.stat(tied_dir / "summary.json").st_mtime_ns
    run_texture_experiment(e)
    assert os.stat(tied_dir / "summary.json").st_mtime_ns == mtime
    assert json.loads((out / "results.json").read_text())["tied_vs_free"] == [entry]
