"""One ``eval_lfc.py`` output folder as pandas tables: the notebook entry point for results.

::

    import hfc_det

    run = hfc_det.load_run("output/demo")
    run.per_image                      # one row per image: file_name, ap_<view>, ap_strict_<view>
    run.gain_loss["low_r8"]            # the view's images, largest gain first
    run.paired["low_r8"]["coco"]       # mean difference, bootstrap interval, sign test, Wilcoxon
    run.tide_errors                    # TIDE's dAP per view ({} when not computed)
    run.detections["original"]         # Path of detections/original.json

The files and their columns are the output contract of :mod:`hfc_det.evaluation.outputs`.
The folder is read and checked by :func:`hfc_det.metrics.results.load_results_folder` (the
reader the report uses), so a malformed file is the same one-line error here as there.
No detectron2, no torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

import pandas as pd

from hfc_det.metrics.results import (
    COCO_METRICS,
    ResultsError,
    _checked_value,
    _csv_records,
    load_results_folder,
)
from hfc_det.metrics.strict_ap import MEASURES, ap_column

__all__ = ["RunResults", "load_run"]

#: gain_loss/<view>.csv columns that hold text; every other column is a number.
_TEXT_COLUMNS = ("file_name", "outcome", "outcome_strict")
#: Differences of two per-image APs lie in [-1, 1]; every other number of the file in [0, 1].
_DIFFERENCE_COLUMNS = ("difference", "difference_strict", "diff")


@dataclass(frozen=True)
class RunResults:
    """The results of one evaluation run, read from its output folder by :func:`load_run`.

    Attributes:
        folder: the output folder.
        summary: ``summary.json`` as a dict (COCO metrics per view in ``summary["variants"]``,
            0-100; see :mod:`hfc_det.evaluation.outputs` for every key).
        views: the evaluated views, ``"original"`` first (e.g. ``["original", "low_r8",
            "high_r8", "noise_r8"]``).
        per_image: ``per_image_ap.csv``: one row per evaluated image, indexed by
            ``image_id``; columns ``file_name``, then ``ap_<view>`` (COCOeval's per-image
            AP) and ``ap_strict_<view>`` (the strict per-image AP,
            :mod:`hfc_det.metrics.strict_ap`) for every view, in the file's order. AP in
            [0, 1], NaN where undefined (no ground truth and no detections).
        gain_loss: ``{view: DataFrame}`` of ``gain_loss/<view>.csv`` for every filtered view:
            indexed by ``image_id``, sorted by ``difference`` (largest gain first, undefined
            last); columns ``file_name, ap_original, ap_<view>, difference, outcome`` and the
            same four for the strict measure (``..._strict``). ``outcome`` is ``gain``,
            ``loss``, ``tie`` or ``undefined``.
        detections: ``{view: Path}`` of ``detections/<view>.json`` (COCO results lists:
            ``image_id``, ``category_id``, ``bbox`` [x, y, w, h] in original-image pixels,
            ``score``), for the views whose file exists.
    """

    folder: Path
    summary: Dict[str, Any] = field(repr=False)
    views: List[str]
    per_image: pd.DataFrame = field(repr=False)
    gain_loss: Dict[str, pd.DataFrame] = field(repr=False)
    detections: Dict[str, Path] = field(repr=False)

    @property
    def measures(self) -> List[str]:
        """The per-image measures the folder holds: ``["coco"]``, plus ``"strict"`` when written."""
        return [m for m in MEASURES if any(ap_column(v, m) in self.per_image.columns for v in self.views)]

    @property
    def metrics(self) -> pd.DataFrame:
        """COCO metrics per view (``summary["variants"]``): index view, columns ``AP, AP50,
        AP75, APs, APm, APl`` in COCO's 0-100 units, NaN where COCO leaves one undefined."""
        variants = self.summary.get("variants") or {}
        rows = {v: [_number(variants[v].get(m)) for m in COCO_METRICS] for v in self.views if v in variants}
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(COCO_METRICS)).rename_axis("view")

    @property
    def paired(self) -> Dict[str, Dict[str, Dict[str, Any]]]:
        """``summary["paired"]``: ``{view: {measure: stats}}`` for every filtered view and
        measure (``coco``, ``strict``); ``stats`` as
        :func:`hfc_det.metrics.paired_stats.paired_statistics` returns them (``n``,
        ``mean_difference``, ``ci_low``, ``ci_high``, ``gains``, ``losses``, ``ties``,
        ``sign_test_p``, ``wilcoxon_p``; a p-value is None where its test has nothing to
        test). ``{}`` when the summary has none."""
        return self.summary.get("paired") or {}

    def paired_table(self) -> pd.DataFrame:
        """:attr:`paired` as one DataFrame: index ``(view, measure)``, one column per statistic
        (None written as NaN)."""
        rows = {(v, m): {k: _number(x) for k, x in stats.items()}
                for v, by_measure in self.paired.items() for m, stats in by_measure.items()}
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index = pd.MultiIndex.from_tuples(list(rows), names=["view", "measure"])
        return table

    @property
    def tide_errors(self) -> Dict[str, Dict[str, Any]]:
        """``summary["errors"]``: TIDE's breakdown per view, ``{view: {"ap50": AP50,
        "main": {type: dAP}, "special": {type: dAP}}}`` (0-100;
        :func:`hfc_det.metrics.tide_errors.tide_errors`). ``{}`` when the run did not compute
        it (tidecv not installed, or no ground truth)."""
        return self.summary.get("errors") or {}

    def ap(self, view: str, measure: str = "coco") -> pd.Series:
        """Per-image AP of one view under one measure (``coco`` or ``strict``), indexed by
        ``image_id``; a one-line ``KeyError`` naming the columns there when the folder has none."""
        column = ap_column(view, measure)
        if column not in self.per_image.columns:
            have = ", ".join(c for c in self.per_image.columns if c.startswith("ap_"))
            raise KeyError(f"no column {column} in {self.folder / 'per_image_ap.csv'} (columns: {have})")
        return self.per_image[column]

    def per_image_long(self) -> pd.DataFrame:
        """:attr:`per_image` in long (tidy) form: one row per image, view and measure, columns
        ``image_id, file_name, view, measure, ap``; images in the file's order within each
        (measure, view), measures in the order ``coco``, ``strict``, views as :attr:`views`."""
        parts = []
        for measure in self.measures:
            for view in self.views:
                column = ap_column(view, measure)
                if column in self.per_image.columns:
                    parts.append(pd.DataFrame({
                        "image_id": self.per_image.index.to_numpy(),
                        "file_name": self.per_image["file_name"].to_numpy(),
                        "view": view, "measure": measure,
                        "ap": self.per_image[column].to_numpy(dtype=float)}))
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        return (f"RunResults({str(self.folder)!r}: {len(self.per_image)} images, views "
                f"{', '.join(self.views)}; measures {', '.join(self.measures)})")


def _number(x: Any) -> float:
    """A summary number, NaN for JSON's null (undefined)."""
    return math.nan if x is None else float(x)


def _gain_loss_frame(path: Path) -> pd.DataFrame:
    """``gain_loss/<view>.csv`` as a DataFrame indexed by ``image_id`` in the file's order,
    checked as the report's reader checks it (one-line :class:`ResultsError`)."""
    columns, records = _csv_records(path)
    data: Dict[str, list] = {c: [] for c in columns if c != "image_id"}
    for line, rec in records:
        for c in data:
            if c in _TEXT_COLUMNS:
                data[c].append(rec[c])
            else:
                lo, hi = (-1.0, 1.0) if c in _DIFFERENCE_COLUMNS else (0.0, 1.0)
                data[c].append(_checked_value(rec[c], path, line, c, lo, hi))
    index = pd.Index([int(rec["image_id"]) for _, rec in records], name="image_id", dtype="int64")
    return pd.DataFrame(data, index=index)


def load_run(folder: Union[str, Path]) -> RunResults:
    """Read an ``eval_lfc.py`` output folder (``make demo``: ``output/demo``) into a
    :class:`RunResults`.

    Args:
        folder: the folder ``tools/eval_lfc.py --output`` wrote.

    Raises:
        FileNotFoundError: the folder does not exist.
        ResultsError: (a ``ValueError``) the folder is not a finished run (no
            ``summary.json``, which eval_lfc.py writes last; no ``per_image_ap.csv``) or a
            file is malformed (not UTF-8/JSON/CSV, a missing column, a row of the wrong
            length, a repeated image id, an AP outside [0, 1]); one line naming the file.
    """
    out = Path(folder).expanduser()
    if not out.is_dir():
        raise FileNotFoundError(f"no output folder {out} (tools/eval_lfc.py --output or make demo writes one)")
    if not (out / "summary.json").is_file():
        raise ResultsError(f"{out} has no summary.json: the run has not finished (eval_lfc.py writes it last) "
                           f"or this is not an eval_lfc.py output folder")
    ev = load_results_folder(out)
    columns = {ap_column(v): ev.ap[v] for v in ev.ap}
    columns.update({ap_column(v, "strict"): ev.ap_strict[v] for v in ev.ap_strict})
    per_image = pd.DataFrame({"file_name": ev.file_names, **columns},
                             index=pd.Index(ev.image_ids, name="image_id", dtype="int64"))
    order = {v: k for k, v in enumerate(ev.views)}

    def by_view(paths: List[Path]) -> List[Path]:  # the run's view order, then any others by name
        return sorted(paths, key=lambda p: (order.get(p.stem, len(order)), p.stem))

    gain_loss = {p.stem: _gain_loss_frame(p) for p in by_view(list((out / "gain_loss").glob("*.csv")))}
    detections = {p.stem: p for p in by_view(list((out / "detections").glob("*.json")))}
    return RunResults(folder=out, summary=ev.summary, views=list(ev.views), per_image=per_image,
                      gain_loss=gain_loss, detections=detections)
