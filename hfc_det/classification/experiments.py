"""Suites of runs (one folder of YAML configs per figure/table) and their tables.

A suite is ``configs/cifar/<suite>/*.yaml``; each file is one run inheriting
``configs/cifar/base.yaml``. A file's ``_PAPER_`` key holds what the paper reports for
that run: ``{train: .., test: ..}`` (Table 1) or a one-line finding (figures). Results
land in ``<output>/<suite>/<run>/`` and the suite's table in ``<output>/<suite>/``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from hfc_det.classification.catalog import SUITES_DIR, list_suites  # re-exported; torch-free for run_experiments' parser
from hfc_det.classification.config import TrainConfig, load_yaml_config
from hfc_det.classification.data import dataset_info
from hfc_det.utils.atomic import write_text_atomic
from hfc_det.classification.reporting import plot_curves, save_figure, view_order

__all__ = ["Run", "SUITES_DIR", "list_suites", "load_suite", "run_suite", "suite_table", "write_suite_outputs",
           "SUITE_TITLES"]

# Radii in the configs are for 32x32 CIFAR-10 images.
CONFIG_IMAGE_SIZE = 32

SUITE_TITLES = {
    "table1": "Table 1: train on LFC or HFC at radius r, test on the original test set",
    "fig3": "Fig. 3: natural vs shuffled labels, training accuracy on LFC",
    "fig4": "Fig. 4: batch sizes",
    "fig5": "Fig. 5: heuristics (vanilla, dropout, mix-up, BatchNorm, adversarial training)",
    "fig6": "Fig. 6: BatchNorm on/off when trained on LFC only",
    "architectures": "Section 5.1: architectures (LeNet, AlexNet, VGG, ResNet)",
}


@dataclass
class Run:
    name: str
    config: TrainConfig
    paper: Any  # dict of numbers, a one-line finding, or None
    paper_radius: Optional[float] = None  # the config's radius on CIFAR-10, before rescaling


def _scale_radius(r: Optional[float], factor: float) -> Optional[float]:
    if r is None:
        return None
    scaled = float(r) * factor
    return int(scaled) if float(scaled).is_integer() else round(scaled, 3)


def load_suite(suite: str, overrides: Optional[Dict[str, Any]] = None, config_dir: Path = SUITES_DIR) -> List[Run]:
    """The suite's runs, in Table/Figure order, with ``overrides`` applied.

    Overriding ``dataset`` rescales every radius by ``size / 32`` (digits: 4 8 12 16 ->
    1 2 3 4; MNIST: -> 3.5 7 10.5 14), so the same fraction of the spectrum is kept.
    """
    folder = config_dir / suite
    if not folder.is_dir() or not list(folder.glob("*.yaml")):
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(list_suites(config_dir))}")
    overrides = dict(overrides or {})
    runs = []
    for path in sorted(folder.glob("*.yaml"), key=_run_sort_key):
        import yaml

        paper = (yaml.safe_load(path.read_text()) or {}).get("_PAPER_")
        values = {**load_yaml_config(path), **overrides}
        paper_radius = values.get("radius")
        if "dataset" in overrides:
            factor = dataset_info(values["dataset"]).size / CONFIG_IMAGE_SIZE
            values["radius"] = _scale_radius(values.get("radius"), factor)
            if values.get("track_radii") is not None:
                values["track_radii"] = [_scale_radius(r, factor) for r in values["track_radii"]]
        runs.append(Run(path.stem, TrainConfig.from_dict(values).validate(), paper, paper_radius))
    return runs


def run_suite(runs: Sequence[Run], suite_dir, progress: bool = True) -> Dict[str, Dict[str, Any]]:
    """Train every run of a suite into ``suite_dir/<run name>/``; ``{run name: metrics}``.

    The reuse/resume policy: a run whose ``metrics.json`` holds the same config is reused
    as is; a run folder with a checkpoint (an interrupted run) is resumed; otherwise the
    run trains from scratch. So re-running the same command finishes what is missing.
    """
    from hfc_det.classification.checkpoint import CHECKPOINT_NAME
    from hfc_det.classification.training import train

    results = {}
    for i, run in enumerate(runs, 1):
        run_dir = Path(suite_dir) / run.name
        metrics_path = run_dir / "metrics.json"
        if metrics_path.exists():
            done = json.loads(metrics_path.read_text())
            if done["config"] == run.config.to_dict():
                print(f"[{i}/{len(runs)}] {run.name}: reusing {metrics_path}")
                results[run.name] = done
                continue
        print(f"[{i}/{len(runs)}] {run.name}: training into {run_dir}")
        resume = (run_dir / CHECKPOINT_NAME).exists()
        results[run.name] = train(run.config, run_dir, resume=resume, progress=progress)
    return results


def _run_sort_key(path: Path):
    # low_r4 < low_r8 < low_r12 and batch_50 < batch_100: compare digit runs as numbers.
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem)]


def _fmt(x: Optional[float]) -> str:
    return "" if x is None else f"{x:.4f}"


def _table1(runs: Sequence[Run], results: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    # Columns as in the paper: LFC train, LFC test, HFC train, HFC test, each ours then paper's.
    columns = [f"{side} {split}{suffix}" for side in ("LFC", "HFC") for split in ("train", "test")
               for suffix in ("", " (paper)")]
    rows: Dict[float, Dict[str, Any]] = {}
    for run in runs:
        cfg, final = run.config, results[run.name]["final"]
        row = rows.setdefault(cfg.radius, {"r": cfg.radius, "paper r": run.paper_radius,
                                                 **dict.fromkeys(columns)})
        side = "LFC" if cfg.train_on == "low" else "HFC"
        paper = run.paper if isinstance(run.paper, dict) else {}
        row[f"{side} train"] = final["fit_acc"]
        row[f"{side} train (paper)"] = paper.get("train")
        row[f"{side} test"] = final["test_acc"]["original"]
        row[f"{side} test (paper)"] = paper.get("test")
    return [rows[r] for r in sorted(rows)]


def _generic(runs: Sequence[Run], results: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for run in runs:
        final = results[run.name]["final"]
        row = {"run": run.name, "fit acc": final["fit_acc"],
               "train original": final["train_acc"]["original"], "test original": final["test_acc"]["original"],
               "gap": final["train_acc"]["original"] - final["test_acc"]["original"]}
        for v in view_order(final["test_acc"]):
            if v != "original":
                row[f"test {v}"] = final["test_acc"][v]
        row["paper"] = run.paper if isinstance(run.paper, str) else json.dumps(run.paper)
        out.append(row)
    return out


_TABLES: Dict[str, Callable] = {"table1": _table1}


def suite_table(suite: str, runs: Sequence[Run], results: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Rows of the suite's table (Table 1 laid out as in the paper, with its numbers)."""
    return _TABLES.get(suite, _generic)(runs, results)


def _markdown(title: str, rows: List[Dict[str, Any]]) -> str:
    header = list(rows[0])
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(v) if isinstance(v, float) else str(v if v is not None else "")
                                       for v in row.values()) + " |")
    return "\n".join(lines) + "\n"


def write_suite_outputs(suite: str, runs: Sequence[Run], results: Dict[str, Dict[str, Any]], out_dir) -> Path:
    """table.md, table.csv, table.json and curves.png (every run's curves) in ``out_dir``."""
    import csv
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    rows = suite_table(suite, runs, results)
    first = runs[0].config
    title = SUITE_TITLES.get(suite, suite) + f" ({first.dataset}, {first.epochs} epochs)"
    write_text_atomic(out_dir / "table.md", _markdown(title, rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out_dir / "table.csv", buf.getvalue())
    write_text_atomic(out_dir / "table.json", json.dumps({"suite": suite, "title": title, "rows": rows,
                                                          "runs": {r.name: str(out_dir / r.name) for r in runs}},
                                                         indent=1) + "\n")
    fig, axes = plt.subplots(len(runs), 2, figsize=(10, 3.2 * len(runs)), sharey=True, squeeze=False)
    for run, pair in zip(runs, axes):
        from hfc_det.classification.training import describe_input

        plot_curves(results[run.name]["history"], axes=pair, title=f"{run.name} ({describe_input(run.config)})")
    save_figure(fig, out_dir / "curves.png")
    return out_dir / "table.md"
