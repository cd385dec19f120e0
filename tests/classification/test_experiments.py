"""Experiment suites: every config loads and validates; a suite run writes its table."""
import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from helpers.cifar_fixture import call_tool_main

from hfc_det.classification.experiments import SUITES_DIR, list_suites, load_suite

TOOL = Path(__file__).resolve().parents[2] / "tools" / "run_experiments.py"


def run_tool(*args):
    return call_tool_main(TOOL, *args)


def test_every_suite_of_the_paper_is_there_and_valid():
    assert set(list_suites()) == {"table1", "fig3", "fig4", "fig5", "fig6", "architectures"}
    for suite in list_suites():
        for run in load_suite(suite):
            assert run.config.dataset == "cifar10" and run.config.lr == 1e-4
            assert run.paper is not None
    table1 = {r.name: r.config for r in load_suite("table1")}
    assert sorted(table1) == sorted(f"{k}_r{r}" for k in ("low", "high") for r in (4, 8, 12, 16))
    assert all(c.train_on == n.split("_")[0] and c.radius == int(n.split("_r")[1]) for n, c in table1.items())
    fig5 = {r.name: r.config for r in load_suite("fig5")}
    assert fig5["dropout"].dropout == 0.5 and fig5["mixup"].mixup_alpha == 1.0
    assert fig5["batchnorm"].bn and not fig5["vanilla"].bn
    assert fig5["adversarial"].adv_train and fig5["adversarial"].adv_eps == 0.03 and fig5["adversarial"].adv_steps == 10
    shuffled = {r.name: r.config for r in load_suite("fig3")}["shuffled"]
    assert shuffled.shuffle_labels and shuffled.epochs == 300


def test_dataset_override_scales_radii_by_image_size():
    runs = {r.name: r for r in load_suite("table1", {"dataset": "digits"})}
    assert runs["low_r4"].config.radius == 1 and runs["high_r16"].config.radius == 4
    assert runs["low_r4"].paper_radius == 4
    assert runs["low_r4"].config.track_radii == [1, 2, 3, 4]
    mnist = {r.name: r for r in load_suite("table1", {"dataset": "mnist"})}
    assert mnist["low_r12"].config.radius == 10.5


def test_unknown_suite():
    with pytest.raises(ValueError, match="unknown suite 'fig9'"):
        load_suite("fig9")
    assert run_tool("fig9", "--output", "/tmp/unused").startswith("error: unknown suite")


def test_table1_smoke_run_on_digits(tmp_path):
    before = torch.get_num_threads()
    args = ["table1", "--dataset", "digits", "--model", "lenet", "--epochs", "1", "--lr", "1e-3",
            "--batch-size", "64", "--only", "low_r12", "high_r12", "--output", str(tmp_path),
            "--threads", "1", "--quiet"]
    try:
        assert run_tool(*args) == 0
    finally:
        torch.set_num_threads(before)
    suite = tmp_path / "table1"
    table = json.loads((suite / "table.json").read_text())
    (row,) = table["rows"]
    assert row["r"] == 3 and row["paper r"] == 12
    for kind, side in (("low", "LFC"), ("high", "HFC")):
        metrics = json.loads((suite / f"{kind}_r12" / "metrics.json").read_text())
        paper = yaml.safe_load((SUITES_DIR / "table1" / f"{kind}_r12.yaml").read_text())["_PAPER_"]
        assert row[f"{side} test"] == metrics["final"]["test_acc"]["original"]
        assert row[f"{side} train"] == metrics["final"]["fit_acc"]
        assert row[f"{side} test (paper)"] == paper["test"] and row[f"{side} train (paper)"] == paper["train"]
    rows = list(csv.DictReader(open(suite / "table.csv")))
    assert float(rows[0]["LFC test"]) == row["LFC test"]
    assert "| r | paper r | LFC train |" in (suite / "table.md").read_text()
    assert (suite / "curves.png").exists()
    # A second call reuses the finished runs instead of training again.
    stamp = (suite / "low_r12" / "checkpoint.pth").stat().st_mtime_ns
    assert run_tool(*args) == 0
    assert (suite / "low_r12" / "checkpoint.pth").stat().st_mtime_ns == stamp


def test_only_names_a_missing_run(tmp_path):
    code = run_tool("fig5", "--only", "nosuchrun", "--output", str(tmp_path))
    assert code.startswith("error: suite fig5 has no run nosuchrun")
