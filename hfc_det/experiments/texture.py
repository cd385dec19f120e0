"""The controlled shortcut experiment: does the demo detector take a high-frequency shortcut?

For every texture amplitude ``a`` and texture correlation ``c`` (the probability that an
object wears its own class's 4 px plaid texture; :mod:`hfc_det.data.shapes`), a *cell* is
the `make demo` detector trained on such shapes (:func:`hfc_det.experiments.demo.run_demo`,
seeded, cached by the data-spec and config hashes), evaluated

- on its own val split: original, ``low_rR`` and ``high_rR`` at every radius;
- on the cue-conflict split (every object wears another class's texture) as original and
  ``low_r{texture_radius}`` views, scored against the shape and the texture labels
  (:func:`hfc_det.experiments.cue_conflict.cue_conflict_metrics`).

:func:`run_texture_experiment` runs the grid of :class:`TextureExperiment`; each cell's
numbers (:func:`cell_summary`) are kept in ``<output>/amp<A>_corr<C>/cell.json`` with the
identity of what they depend on (the model folder and weights, the radii, the image count),
so a cell evaluated the same way is read back instead of evaluated again.
:func:`run_tied_vs_free` then evaluates, per amplitude, the tied model (correlation 1) on the
free cell's (correlation 0) val split and compares it with the free model there
(``<output>/tied_vs_free/a<A>/``, tools/compare_runs.py's page).
:func:`write_results` writes ``results.json``, ``results.md`` (:func:`results_table`) and
``dose_response.png`` (:func:`plot_texture_experiment`), and copies the JSON and the picture
to ``<cache>/texture_experiment/``, where `make demo`'s report finds them.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from hfc_det.experiments.demo import DEFAULT_CONFIG, DEFAULT_RADII
from hfc_det.utils.atomic import write_json_atomic, write_text_atomic
from hfc_det.utils.run_lock import run_lock

__all__ = ["cell_summary", "results_table", "cell_key", "TextureExperiment", "run_texture_experiment",
           "write_results", "plot_texture_experiment", "run_tied_vs_free", "tied_vs_free_folder",
           "tied_vs_free_text", "DEFAULT_AMPLITUDES", "DEFAULT_CORRELATIONS", "TEXTURE_RADIUS"]

DEFAULT_AMPLITUDES = (0.06, 0.15)
DEFAULT_CORRELATIONS = (0.0, 0.5, 1.0)
#: The radius whose LFC removes the texture (32 bins from the centre on the 128 px images)
#: and leaves the shapes nearly intact.
TEXTURE_RADIUS = 24


def cell_key(amplitude: float, correlation: float) -> str:
    """Folder name of a cell: ``amp0.15_corr0.5``."""
    return f"amp{amplitude:g}_corr{correlation:g}"


def _ap(views: Mapping[str, Mapping[str, float]], view: str) -> float:
    value = views.get(view, {}).get("AP")
    return math.nan if value is None else float(value)


def cell_summary(amplitude: float, correlation: float, views: Mapping[str, Mapping[str, float]],
                 radii: Sequence[float], texture_radius: float,
                 conflict: Mapping[str, Mapping[str, object]]) -> Dict[str, object]:
    """One cell's numbers.

    Args:
        views: val-split COCO metrics per view name (``original``, ``low_r{R}``, ``high_r{R}``;
            AP in 0-100), as ``summary.json``'s ``variants``.
        radii: the radii evaluated; ``texture_radius`` is the one that removes the texture.
        conflict: cue-conflict metrics per view of the conflict split (``original`` and
            ``low_r{texture_radius}`` at least).
    """
    original = _ap(views, "original")
    low = {f"{r:g}": _ap(views, f"low_r{r:g}") for r in radii}
    high = {f"{r:g}": _ap(views, f"high_r{r:g}") for r in radii}
    lfc_view = f"low_r{texture_radius:g}"
    return {
        "texture_amplitude": amplitude,
        "texture_correlation": correlation,
        "AP_original": original,
        "AP50_original": float(views.get("original", {}).get("AP50", math.nan)),
        "AP_low": low,
        "AP_high": high,
        "texture_radius": texture_radius,
        "lfc_drop": _ap(views, lfc_view) - original,
        "conflict": {view: dict(m) for view, m in conflict.items()},
        "texture_reliance": conflict.get("original", {}).get("texture_reliance", math.nan),
        "texture_reliance_lfc": conflict.get(lfc_view, {}).get("texture_reliance", math.nan),
    }


def _f(value, fmt="{:.1f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def results_table(cells: List[Mapping[str, object]]) -> str:
    """Markdown: one row per cell, sorted by amplitude then correlation."""
    if not cells:
        return "(no cell has run)\n"
    radii = list(cells[0]["AP_low"])
    t = cells[0]["texture_radius"]
    lfc = f"low_r{t:g}"
    head = (["amplitude", "correlation", "AP original"] + [f"AP low_r{r}" for r in radii]
            + [f"AP high_r{r}" for r in radii]
            + [f"Δ AP {lfc}", "conflict AP50 shape", "conflict AP50 texture", "reliance",
               f"{lfc}: AP50 shape", f"{lfc}: AP50 texture", f"{lfc}: reliance"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in sorted(cells, key=lambda c: (c["texture_amplitude"], c["texture_correlation"])):
        conf = c["conflict"].get("original", {})
        conf_lfc = c["conflict"].get(lfc, {})
        row = [f"{c['texture_amplitude']:g}", f"{c['texture_correlation']:g}", _f(c["AP_original"])]
        row += [_f(c["AP_low"][r]) for r in radii] + [_f(c["AP_high"][r]) for r in radii]
        row += [_f(c["lfc_drop"], "{:+.1f}"),
                _f(conf.get("shape", {}).get("AP50")), _f(conf.get("texture", {}).get("AP50")),
                _f(c["texture_reliance"], "{:.2f}"),
                _f(conf_lfc.get("shape", {}).get("AP50")), _f(conf_lfc.get("texture", {}).get("AP50")),
                _f(c["texture_reliance_lfc"], "{:.2f}")]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class TextureExperiment:
    """The grid and how each cell is trained and evaluated (tools/texture_experiment.py's
    options).

    Args:
        output: results, and one ``amp<A>_corr<C>/`` folder per cell (``val/``, ``conflict/``:
            eval_lfc outputs; ``cell.json``).
        cache: the data and model cache (`make demo`'s ``--cache``).
        config: config name or yaml; ``overrides``: ``KEY VALUE`` pairs for every model.
        amplitudes: texture amplitudes in [0, 0.5] (intensity); ``correlations`` in [0, 1].
        radii: mask radii (frequency bins, > 0) of the val views.
        texture_radius: the radius whose LFC removes the texture (> 0).
        max_images: evaluate only the first N images of each split.
    """

    output: str = "output/texture_experiment"
    cache: str = "output/demo"
    config: str = DEFAULT_CONFIG
    amplitudes: Tuple[float, ...] = DEFAULT_AMPLITUDES
    correlations: Tuple[float, ...] = DEFAULT_CORRELATIONS
    radii: Tuple[float, ...] = tuple(DEFAULT_RADII)
    texture_radius: float = TEXTURE_RADIUS
    max_images: Optional[int] = None
    overrides: Tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("amplitudes", "correlations", "radii", "overrides"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def check(self) -> None:
        """One-line ``ValueError`` for a value out of range."""
        for a in self.amplitudes:
            if not 0.0 <= a <= 0.5:
                raise ValueError(f"--amplitudes must be in [0, 0.5], got {a:g}")
        for c in self.correlations:
            if not 0.0 <= c <= 1.0:
                raise ValueError(f"--correlations must be in [0, 1], got {c:g}")
        if any(r <= 0 for r in self.radii) or self.texture_radius <= 0:
            raise ValueError("--radius and --texture-radius must be positive")
        if self.max_images is not None and self.max_images < 1:
            raise ValueError(f"--max-images must be at least 1, got {self.max_images}")

    @property
    def grid(self) -> List[Tuple[float, float]]:
        """The cells' ``(amplitude, correlation)``, amplitude-major."""
        return [(a, c) for a in self.amplitudes for c in self.correlations]

    def cell_overrides(self, amplitude: float, correlation: float) -> List[str]:
        return list(self.overrides) + ["SHAPES.TEXTURE_AMPLITUDE", str(float(amplitude)),
                                       "SHAPES.TEXTURE_CORRELATION", str(float(correlation))]

    def model_dir(self, amplitude: float, correlation: float) -> str:
        """The cell's model folder in the cache (``model_<config hash>``, as the demo's)."""
        from hfc_det.config import get_cfg
        from hfc_det.engine.training import config_hash

        cfg = get_cfg(self.config, self.cell_overrides(amplitude, correlation))
        return os.path.join(self.cache, f"model_{config_hash(cfg)}")

    def is_trained(self, amplitude: float, correlation: float) -> bool:
        return os.path.isfile(os.path.join(self.model_dir(amplitude, correlation), "model_final.pth"))

    def cell_identity(self, model_dir: str) -> Dict[str, Any]:
        """What a cell's numbers depend on besides the model folder's hash: the weights
        file's time and the evaluation."""
        weights = os.path.join(model_dir, "model_final.pth")
        return {"model_dir": os.path.abspath(model_dir), "weights_mtime_ns": os.stat(weights).st_mtime_ns,
                "radii": [float(r) for r in self.radii], "texture_radius": float(self.texture_radius),
                "max_images": self.max_images}


def run_cell(experiment: TextureExperiment, amplitude: float, correlation: float) -> Dict[str, Any]:
    """One cell's numbers (:func:`cell_summary` plus ``model_dir``, ``model_cached`` and the
    demo's stage ``seconds``); read back from ``<cell>/cell.json`` when the same model was
    evaluated the same way (the evaluation takes minutes on a CPU)."""
    folder = os.path.join(experiment.output, cell_key(amplitude, correlation))
    cell_file = os.path.join(folder, "cell.json")
    model_dir = experiment.model_dir(amplitude, correlation)
    if os.path.isfile(cell_file) and os.path.isfile(os.path.join(model_dir, "model_final.pth")):
        with open(cell_file) as f:
            saved = json.load(f)
        if saved.get("identity") == experiment.cell_identity(model_dir):
            print(f"[texture] reusing {cell_file}", flush=True)
            return saved["cell"]
    cell = _evaluate_cell(experiment, amplitude, correlation, folder)
    write_json_atomic(cell_file, {"identity": experiment.cell_identity(cell["model_dir"]), "cell": _json_safe(cell)})
    return cell


def _evaluate_cell(experiment: TextureExperiment, amplitude: float, correlation: float, folder: str):
    from hfc_det.experiments.cue_conflict import cue_conflict_metrics
    from hfc_det.experiments.demo import evaluate_split, run_demo

    e = experiment
    overrides = e.cell_overrides(amplitude, correlation)
    d = run_demo(output=os.path.join(folder, "val"), cache=e.cache, config=e.config, radii=e.radii,
                 overrides=overrides, max_images=e.max_images, report=False)
    conflict_dir = os.path.join(folder, "conflict")
    evaluate_split(e.config, overrides, d["weights"], d["dataset"]["conflict"], d["dataset"]["conflict_images"],
                   conflict_dir, [e.texture_radius], e.max_images, what="evaluate cue-conflict views")
    views = ["original", f"low_r{e.texture_radius:g}"]
    conflict = {v: cue_conflict_metrics(d["dataset"]["conflict"], os.path.join(conflict_dir, "detections", f"{v}.json"))
                for v in views}
    cell = cell_summary(amplitude, correlation, d["views"], e.radii, e.texture_radius, conflict)
    cell.update(model_dir=d["model_dir"], model_cached=d["model_cached"], seconds=d["seconds"])
    return cell


TIED, FREE = 1.0, 0.0  # the correlations of the tied and the free cells


def tied_vs_free_folder(experiment: TextureExperiment, amplitude: float) -> str:
    """``<output>/tied_vs_free/a<A>``: the tied model's evaluation on the free cell's val
    split (``tied_on_free_val/``) and the comparison (``comparison.json``, ``index.html``)."""
    return os.path.join(experiment.output, "tied_vs_free", f"a{amplitude:g}")


def run_tied_vs_free(experiment: TextureExperiment, cells: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """For every amplitude, the tied model (correlation 1) against the free one (correlation
    0) on the same images: the free cell's val split, where the texture says nothing about
    the class (the fair test). The tied model is evaluated there as the cells are (all the
    demo's views); the free cell's own ``val/`` evaluation is reused; then
    :func:`hfc_det.visualization.compare.write_comparison` (labels ``tied``, ``free``).
    Read back from ``tied_vs_free.json`` when both models and the evaluation are the same.

    Returns one entry per amplitude: ``texture_amplitude``, ``comparison`` (the folder, or
    None with a ``note`` saying why none: the grid or the run lacks the tied or free cell,
    or the comparison was refused), ``tied_on_free_val``, ``free_val`` and ``AP``
    (``{"tied"|"free": {view: AP}}`` for ``original`` and the texture-removing LFC)."""
    e = experiment
    done = {(c["texture_amplitude"], c["texture_correlation"]): c for c in cells}
    entries = []
    for a in e.amplitudes:
        tied, free = done.get((a, TIED)), done.get((a, FREE))
        if TIED not in e.correlations or FREE not in e.correlations:
            note = "the grid's correlations lack 1 (tied) or 0 (free)"
        elif tied is None or free is None:
            note = "the tied or the free cell was not run"
        else:
            entries.append(_tied_vs_free(e, a, tied, free))
            continue
        entries.append({"texture_amplitude": a, "comparison": None, "note": note})
    return entries


def _tied_vs_free(e: TextureExperiment, amplitude: float, tied: Mapping[str, Any], free: Mapping[str, Any]):
    folder = tied_vs_free_folder(e, amplitude)
    record = os.path.join(folder, "tied_vs_free.json")
    val_json, val_root = _val_split(e, amplitude, FREE)
    identity = {"tied": e.cell_identity(tied["model_dir"]), "free": e.cell_identity(free["model_dir"]),
                "val_json": os.path.abspath(val_json)}
    if os.path.isfile(record) and os.path.isfile(os.path.join(folder, "index.html")):
        with open(record) as f:
            saved = json.load(f)
        if saved.get("identity") == identity:
            print(f"[texture] reusing {record}", flush=True)
            return saved["entry"]
    from hfc_det.experiments.demo import demo_views, evaluate_split
    from hfc_det.visualization.compare import write_comparison

    tied_dir = os.path.join(folder, "tied_on_free_val")
    free_dir = os.path.join(e.output, cell_key(amplitude, FREE), "val")
    evaluate_split(e.config, e.cell_overrides(amplitude, TIED), os.path.join(tied["model_dir"], "model_final.pth"),
                   val_json, val_root, tied_dir, e.radii, e.max_images, views=demo_views(e.radii),
                   what=f"evaluate the tied model (amplitude {amplitude:g}) on the free cell's val split")
    entry = {"texture_amplitude": amplitude, "comparison": None, "tied_on_free_val": tied_dir, "free_val": free_dir}
    try:
        comparison = write_comparison([tied_dir, free_dir], folder, ["tied", "free"])
    except (ValueError, FileNotFoundError) as err:  # a bug, not the user's: keep the experiment's results
        print(f"warning: no tied-vs-free comparison for amplitude {amplitude:g}: {err}", flush=True)
        return {**entry, "note": f"comparison refused: {err}"}
    views = ["original", f"low_r{e.texture_radius:g}"]
    entry.update(comparison=folder, note=None,
                 AP={label: {v: comparison["ap"][label].get(v, {}).get("AP") for v in views}
                     for label in ("tied", "free")})
    write_json_atomic(record, {"identity": identity, "entry": _json_safe(entry)})
    return entry


def _val_split(e: TextureExperiment, amplitude: float, correlation: float) -> Tuple[str, str]:
    """``(json_file, image_root)`` of a cell's val split, in the cache as ``run_demo`` keeps it."""
    from hfc_det.config import get_cfg
    from hfc_det.data.shapes import make_shapes_dataset
    from hfc_det.engine.training import shapes_spec_from_cfg

    cfg = get_cfg(e.config, e.cell_overrides(amplitude, correlation))
    return make_shapes_dataset(shapes_spec_from_cfg(cfg), os.path.join(e.cache, "shapes"))["val"]


def tied_vs_free_text(entries: Sequence[Mapping[str, Any]]) -> str:
    """Markdown lines, one per amplitude, of :func:`run_tied_vs_free`'s entries."""
    lines = []
    for t in entries:
        head = f"- Tied vs free, amplitude {t['texture_amplitude']:g}: "
        if t.get("comparison") is None:
            lines.append(head + f"not drawn ({t.get('note')}).")
            continue
        aps = "; ".join(f"{view}: tied {_f(t['AP']['tied'][view])}, free {_f(t['AP']['free'][view])}"
                        for view in t["AP"]["tied"])
        lines.append(head + f"AP on the free cell's val split ({aps}); comparison in "
                     f"{os.path.join(t['comparison'], 'index.html')}.")
    return "".join(line + "\n" for line in lines)


def _json_safe(x):
    """NaN -> None (JSON has no NaN), in nested dicts and lists."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def write_results(experiment: TextureExperiment, cells: List[Mapping[str, Any]], not_run: List[Mapping[str, float]],
                  started: float, tied_vs_free: Sequence[Mapping[str, Any]] = ()) -> str:
    """``results.json``, ``results.md`` and ``dose_response.png`` in the output folder (and
    the JSON and picture in ``<cache>/texture_experiment/`` when a cell has run); returns
    the markdown table. ``started``: ``time.time()`` at the start, for the minutes taken;
    ``tied_vs_free``: :func:`run_tied_vs_free`'s entries (``results.json``'s ``tied_vs_free``
    and a line each in ``results.md``, above the table)."""
    e = experiment
    os.makedirs(e.output, exist_ok=True)
    plot = os.path.join(e.output, "dose_response.png")
    drawn = plot_texture_experiment(cells, plot) if cells else None
    payload = {"config": e.config, "overrides": list(e.overrides), "radii": list(e.radii),
               "texture_radius": e.texture_radius, "max_images": e.max_images,
               "cells": cells, "not_run": not_run, "plot": drawn, "tied_vs_free": list(tied_vs_free),
               "minutes": round((time.time() - started) / 60, 1)}
    table = results_table(cells)
    write_json_atomic(os.path.join(e.output, "results.json"), _json_safe(payload))
    write_text_atomic(os.path.join(e.output, "results.md"),
                      f"Shortcut experiment ({e.config}): AP x 100 on each model's own val split; "
                      f"cue-conflict AP50 against shape and texture labels; reliance = AP50_tex / "
                      f"(AP50_shape + AP50_tex). Not run: {not_run or 'none'}.\n\n"
                      + (tied_vs_free_text(tied_vs_free) + "\n" if tied_vs_free else "") + table)
    if cells:  # where `make demo`'s report looks
        shared = os.path.join(e.cache, "texture_experiment")
        os.makedirs(shared, exist_ok=True)
        shutil.copyfile(plot, os.path.join(shared, ".dose_response.png.tmp"))
        os.replace(os.path.join(shared, ".dose_response.png.tmp"), os.path.join(shared, "dose_response.png"))
        write_json_atomic(os.path.join(shared, "results.json"), _json_safe(payload))
    return table


def run_texture_experiment(experiment: TextureExperiment, skip_untrained: bool = False
                           ) -> Tuple[List[Dict[str, Any]], List[Dict[str, float]], str]:
    """Every cell of the grid in turn, the results rewritten after each (an interrupted run
    keeps what finished). ``skip_untrained``: evaluate only the cells whose model is already
    in the cache, train nothing. Returns ``(cells, not_run, markdown table)``; raises a
    one-line ``ValueError`` for a value out of range."""
    experiment.check()
    # one experiment per output folder at a time (each cell's eval_lfc run locks its own folder)
    with run_lock(experiment.output, what="texture_experiment.py run"):
        return _run_cells(experiment, skip_untrained)


def _run_cells(experiment: TextureExperiment, skip_untrained: bool):
    started = time.time()
    cells, not_run = [], []
    grid = experiment.grid
    for i, (a, c) in enumerate(grid, 1):
        if skip_untrained and not experiment.is_trained(a, c):
            print(f"[texture] cell {i}/{len(grid)}: amplitude {a:g}, correlation {c:g}: not trained, skipped",
                  flush=True)
            not_run.append({"texture_amplitude": a, "texture_correlation": c})
            continue
        print(f"[texture] cell {i}/{len(grid)}: amplitude {a:g}, correlation {c:g}", flush=True)
        cells.append(run_cell(experiment, a, c))
        write_results(experiment, cells, not_run, started)
    tied_vs_free = run_tied_vs_free(experiment, cells)
    return cells, not_run, write_results(experiment, cells, not_run, started, tied_vs_free)


def _number(value) -> float:
    """A cell's value as a float: NaN for missing ones (``None`` in a reused ``cell.json``)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def plot_texture_experiment(cells: Sequence[Mapping[str, Any]], path) -> Dict[str, Any]:
    """The dose-response picture: texture correlation on x, one line per texture amplitude;
    left, the AP change on the LFC at the texture-removing radius; right, the
    texture-reliance index on the cue-conflict images (original, and their LFC dashed).

    ``cells``: :func:`cell_summary` dicts. Written atomically to ``path``; returns the
    numbers drawn, ``{"path", "lines": {amplitude: {"correlation", "lfc_drop",
    "texture_reliance", "texture_reliance_lfc"}}}``.
    """
    from matplotlib.figure import Figure

    from hfc_det.utils.atomic import save_figure_atomic

    fig = Figure(figsize=(10, 4))
    ax_drop, ax_rel = fig.subplots(1, 2)
    drawn = {}
    for amp in sorted({c["texture_amplitude"] for c in cells}):
        row = sorted((c for c in cells if c["texture_amplitude"] == amp), key=lambda c: c["texture_correlation"])
        x = [c["texture_correlation"] for c in row]
        drop = [_number(c["lfc_drop"]) for c in row]
        rel = [_number(c["texture_reliance"]) for c in row]
        rel_lfc = [_number(c["texture_reliance_lfc"]) for c in row]
        line, = ax_drop.plot(x, drop, "o-", label=f"amplitude {amp:g}")
        ax_rel.plot(x, rel, "o-", color=line.get_color(), label=f"amplitude {amp:g}")
        ax_rel.plot(x, rel_lfc, "s--", color=line.get_color(), alpha=0.6, label=f"amplitude {amp:g}, LFC")
        drawn[f"{amp:g}"] = {"correlation": x, "lfc_drop": drop, "texture_reliance": rel,
                             "texture_reliance_lfc": rel_lfc}
    radius = cells[0]["texture_radius"] if cells else math.nan
    ax_drop.axhline(0.0, color="black", linewidth=0.8, linestyle=":")
    ax_drop.set_xlabel("texture correlation (P[object wears its class's texture])")
    ax_drop.set_ylabel(f"AP(low_r{radius:g}) - AP(original)")
    ax_drop.set_title(f"LFC at r={radius:g} (removes the texture)")
    ax_drop.legend(fontsize=8)
    ax_rel.set_xlabel("texture correlation")
    ax_rel.set_ylabel("texture-reliance index (cue-conflict)")
    ax_rel.set_ylim(-0.05, 1.05)
    ax_rel.set_title("AP50 tex / (AP50 shape + AP50 tex)")
    ax_rel.legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, Path(path), dpi=100)
    return {"path": str(path), "lines": drawn}
