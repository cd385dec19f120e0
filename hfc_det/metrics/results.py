"""Results of a frequency-views evaluation, without detectron2: the COCO metric names,
the per-image gain/loss rule, and the reading of an ``eval_lfc.py`` output folder (the
numbers every picture and the report show). :mod:`hfc_det.evaluation` (which writes the
folder) and :mod:`hfc_det.visualization` (which reads it) both import this module.

The folder contract (written by :mod:`tools/eval_lfc.py`)::

    summary.json            variants (COCO AP, 0-100), per-image gain/loss counts and paired
                            statistics per measure, dataset, radii, views
    per_image_ap.csv        image_id, file_name, ap_<view>, ap_strict_<view> (AP in [0, 1];
                            empty or nan = undefined; the strict columns are optional)
    detections/<view>.json  COCO results list per view
    gain_loss/<view>.csv    image_id, file_name, ap_original, ap_<view>, diff or difference (sorted)

Only ``per_image_ap.csv`` is required; missing optional files or keys give empty defaults.
Numbers come from these files only, never from pictures.
"""
from __future__ import annotations

import contextlib
import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from hfc_det.utils.atomic import read_json

__all__ = ["COCO_METRICS", "OUTCOMES", "outcome", "EvalResults", "ResultsError", "load_results_folder",
           "GainLossRow"]

#: COCOeval's first six summary numbers, in its order (``stats[0:6]``), COCO's 0-100 units.
COCO_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
#: Per-image outcomes of a filtered view against the original.
OUTCOMES = ("gain", "loss", "tie", "undefined")


def outcome(ap_view: float, ap_original: float) -> str:
    """The gain/loss rule: ``"gain"`` when the view's per-image AP is higher than the
    original's, ``"loss"`` when lower, ``"tie"`` when equal, ``"undefined"`` when either is
    NaN (no ground truth and no detections: COCOeval gives -1)."""
    if math.isnan(ap_view) or math.isnan(ap_original):
        return "undefined"
    if ap_view > ap_original:
        return "gain"
    return "loss" if ap_view < ap_original else "tie"


class ResultsError(ValueError):
    """The folder is not a usable eval_lfc.py output (message is one line for the user)."""


def _float_or_nan(text: Optional[str]) -> float:
    if text is None or str(text).strip() == "" or str(text).strip().lower() in ("nan", "none", "null"):
        return math.nan
    return float(text)


def _checked_value(text: Optional[str], path: Path, line: int, column: str, lo: float, hi: float) -> float:
    """A number in ``[lo, hi]`` or NaN (empty, ``nan``); anything else is a :class:`ResultsError`."""
    try:
        value = _float_or_nan(text)
    except ValueError:
        raise ResultsError(f"{path} line {line}: {column} is {text!r}, not a number") from None
    if not math.isnan(value) and not lo <= value <= hi:
        raise ResultsError(f"{path} line {line}: {column} is {text}, outside [{lo:g}, {hi:g}]")
    return value


def _csv_records(path: Path, required=("image_id",)):
    """``(columns, [(line, record)])`` of a CSV this project wrote, checked for what every
    reader relies on: UTF-8 text, the ``required`` columns, every row as long as the header,
    integer, unique image ids. Raises :class:`ResultsError` (one line naming the file)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or [])
            records = [(reader.line_num, rec) for rec in reader]
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not a CSV file of this project (not UTF-8 text)") from None
    except (csv.Error, OSError) as e:
        raise ResultsError(f"cannot read {path}: {e}") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise ResultsError(f"{path} has no {', '.join(missing)} column (columns: {', '.join(columns) or 'none'})")
    seen = set()
    for line, rec in records:
        if None in rec or any(v is None for v in rec.values()):  # csv: extra fields / missing fields
            raise ResultsError(f"{path} line {line}: {len([v for v in rec.values() if v is not None])} "
                               f"fields, the header has {len(columns)}")
        try:
            image_id = int(rec["image_id"])
        except ValueError:
            raise ResultsError(f"{path} line {line}: image_id is {rec['image_id']!r}, not an integer") from None
        if image_id in seen:
            raise ResultsError(f"{path} line {line}: image_id {image_id} appears twice")
        seen.add(image_id)
    return columns, records


@dataclass(frozen=True)
class GainLossRow:
    image_id: int
    file_name: str
    ap_original: float
    ap_view: float
    diff: float


@dataclass
class EvalResults:
    """Everything an output folder says, with lazily loaded detections and ground truth.

    ``ap[view]`` is a float64 array aligned with ``image_ids`` and ``file_names`` (NaN where
    the per-image AP is undefined: no ground truth and no detections of any category);
    ``ap_strict[view]`` the same for the strict per-image AP (empty for older folders).
    """

    output_dir: Path
    summary: Dict[str, Any]
    image_ids: np.ndarray
    file_names: List[str]
    ap: Dict[str, np.ndarray]
    views: List[str] = field(default_factory=list)
    ap_strict: Dict[str, np.ndarray] = field(default_factory=dict)
    _detections: Dict[str, Dict[int, List[dict]]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ summary accessors
    @property
    def variants(self) -> Dict[str, Dict[str, float]]:
        return self.summary.get("variants") or {}

    @property
    def dataset(self) -> Dict[str, Any]:
        return self.summary.get("dataset") or {}

    @property
    def radii(self) -> List[float]:
        radii = self.summary.get("radii")
        if radii:
            return [float(r) for r in radii]
        from hfc_det.views.grammar import parse_view  # torch: only for the radii, not to read a run

        parsed = [parse_view(v) for v in self.views]
        return sorted({p for kind, p in parsed if kind in ("low", "high", "noise")})

    @property
    def low_views(self) -> List[str]:
        return [v for v in self.views if v.startswith("low_r")]

    @property
    def compared_views(self) -> List[str]:
        """Every view that has per-image AP and is not the original."""
        return [v for v in self.views if v != "original" and v in self.ap]

    # ------------------------------------------------------------ per-image numbers
    def diff(self, view: str) -> np.ndarray:
        """Per-image ``AP(view) - AP(original)``, NaN where either is undefined."""
        self.require_view(view)
        return self.ap[view] - self.ap["original"]

    def require_view(self, view: str) -> None:
        if view not in self.ap or "original" not in self.ap:
            have = ", ".join(self.compared_views) or "none"
            raise ResultsError(f"no per-image AP for view {view!r} (and 'original') in "
                               f"{self.output_dir / 'per_image_ap.csv'}; views there: {have}")

    def gain_loss(self, view: str) -> List[GainLossRow]:
        """Images with a defined difference, largest gain first, largest loss last.

        Read from ``gain_loss/<view>.csv`` when it exists, else computed from the per-image
        table (the same numbers).
        """
        path = self.output_dir / "gain_loss" / f"{view}.csv"
        if path.is_file():
            rows = []
            _, records = _csv_records(path)
            for line, rec in records:
                a0 = _checked_value(rec.get("ap_original"), path, line, "ap_original", 0.0, 1.0)
                a1 = _checked_value(rec.get(f"ap_{view}"), path, line, f"ap_{view}", 0.0, 1.0)
                # eval_lfc.py writes "difference"; the first contract said "diff".
                key = "diff" if "diff" in rec else "difference"
                diff = _checked_value(rec[key], path, line, key, -1.0, 1.0) if key in rec else a1 - a0
                if math.isnan(diff):
                    continue
                rows.append(GainLossRow(int(rec["image_id"]), rec.get("file_name", ""), a0, a1, diff))
        else:
            d = self.diff(view)
            rows = [GainLossRow(int(i), f, float(a0), float(a1), float(x))
                    for i, f, a0, a1, x in zip(self.image_ids, self.file_names, self.ap["original"], self.ap[view], d)
                    if not math.isnan(x)]
        # Stable sort: ties keep file order (image_id ascending in eval_lfc.py's CSV).
        return sorted(rows, key=lambda r: -r.diff)

    def top_gain_loss(self, view: str, k: int):
        """``(gains, losses)``: up to ``k`` rows with diff > 0 (largest first) and diff < 0
        (most negative first)."""
        rows = self.gain_loss(view)
        gains = [r for r in rows if r.diff > 0][:k]
        losses = [r for r in reversed(rows) if r.diff < 0][:k]
        return gains, losses

    def measures(self) -> List[str]:
        """The per-image measures the folder has: ``["coco"]``, plus ``"strict"`` when written."""
        return ["coco", "strict"] if self.ap_strict else ["coco"]

    def per_image_counts(self, view: str, measure: str = "coco") -> Dict[str, int]:
        """Counts from ``summary.json`` when present, else from the per-image table.

        ``summary.json["per_image"][view]`` is ``{measure: counts}`` (older folders: the
        COCOeval counts themselves)."""
        counts = (self.summary.get("per_image") or {}).get(view)
        if counts and "gain" not in counts:
            counts = counts.get(measure)
        elif measure != "coco":
            counts = None
        if counts:
            return {k: int(counts.get(k, 0)) for k in ("gain", "loss", "tie", "undefined")}
        d = self.diff(view) if measure == "coco" else self.ap_strict[view] - self.ap_strict["original"]
        ok = ~np.isnan(d)
        return {"gain": int(np.sum(d[ok] > 0)), "loss": int(np.sum(d[ok] < 0)),
                "tie": int(np.sum(d[ok] == 0)), "undefined": int(np.sum(~ok))}

    # ------------------------------------------------------------ detections and images
    def detections(self, view: str) -> Optional[Dict[int, List[dict]]]:
        """``{image_id: [COCO result dicts]}`` for a view, or None when its file is missing."""
        if view not in self._detections:
            path = self.output_dir / "detections" / f"{view}.json"
            if not path.is_file():
                return None
            records = read_json(path, "detections file", ResultsError)
            if not isinstance(records, list):
                raise ResultsError(f"{path} is not a COCO results list")
            by_image: Dict[int, List[dict]] = defaultdict(list)
            for k, rec in enumerate(records):
                if not _is_detection(rec):
                    raise ResultsError(f"{path}: detection {k} is not a COCO result with image_id, "
                                       f"category_id, bbox [x, y, w, h] and a score in [0, 1]: {str(rec)[:80]}")
                by_image[int(rec["image_id"])].append(rec)
            self._detections[view] = dict(by_image)
        return self._detections[view]

    def resolve(self, key: str) -> Optional[Path]:
        """A dataset path from the summary (``json_file``/``image_root``): as written, or
        relative to the output folder when it does not exist as written."""
        value = self.dataset.get(key)
        if not value:
            return None
        p = Path(value).expanduser()
        if not p.exists() and not p.is_absolute() and (self.output_dir / p).exists():
            p = self.output_dir / p
        return p

    @cached_property
    def coco(self):
        """pycocotools ``COCO`` of the ground truth, or None when the summary names none.
        A file that pycocotools would misread is a one-line :class:`ResultsError`."""
        path = self.resolve("json_file")
        if path is None or not path.is_file():
            return None
        from pycocotools.coco import COCO

        from hfc_det.metrics.annotations import AnnotationFileError, check_coco_annotations

        try:
            check_coco_annotations(path)
        except AnnotationFileError as e:
            raise ResultsError(str(e)) from None

        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress lines
            return COCO(str(path))

    def image_path(self, image_id: int, file_name: str) -> Optional[Path]:
        root = self.resolve("image_root")
        if self.coco is not None and image_id in self.coco.imgs:
            file_name = self.coco.imgs[image_id].get("file_name", file_name)
        if not file_name:
            return None
        return (root / file_name) if root is not None else Path(file_name)

    def class_names(self) -> Dict[int, str]:
        if self.coco is None:
            return {}
        return {int(c["id"]): c["name"] for c in self.coco.loadCats(self.coco.getCatIds())}

    def ground_truth(self, image_id: int) -> List[dict]:
        if self.coco is None:
            return []
        return self.coco.loadAnns(self.coco.getAnnIds(imgIds=[image_id], iscrowd=None))


def _is_detection(rec: Any) -> bool:
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    return (isinstance(rec, dict) and isinstance(rec.get("image_id"), int) and isinstance(rec.get("category_id"), int)
            and isinstance(rec.get("bbox"), list) and len(rec["bbox"]) == 4 and all(number(v) for v in rec["bbox"])
            and number(rec.get("score")) and 0.0 <= rec["score"] <= 1.0)


def load_results_folder(output_dir) -> EvalResults:
    """Read ``summary.json`` (optional) and ``per_image_ap.csv`` (required) of a folder.

    Refuses, with a one-line :class:`ResultsError` naming the file and line, what the
    pictures would otherwise draw wrong: a file that is not UTF-8 text or not JSON, a
    missing ``image_id`` or ``ap_<view>`` column, a row shorter or longer than the header,
    a repeated image id, or an AP that is not a number in [0, 1] (``nan`` or empty: undefined).
    """
    out = Path(output_dir)
    if not out.is_dir():
        raise ResultsError(f"output folder {out} does not exist (run tools/eval_lfc.py first)")
    csv_path = out / "per_image_ap.csv"
    if not csv_path.is_file():
        if (out / "partial").is_dir() or (out / "run_fingerprint.json").is_file():
            raise ResultsError(
                f"{out} holds an unfinished eval_lfc.py run (partial/ is there, per_image_ap.csv not yet): "
                f"running the same eval_lfc.py command again resumes it, keeping the images it finished")
        raise ResultsError(f"{csv_path} is missing: is {out} an eval_lfc.py output folder?")
    summary: Dict[str, Any] = {}
    summary_path = out / "summary.json"
    if summary_path.is_file():
        summary = read_json(summary_path, "summary", ResultsError)
        if not isinstance(summary, dict):
            raise ResultsError(f"{summary_path} is not an eval_lfc.py summary (not a JSON object)")

    columns, records = _csv_records(csv_path)
    strict_views = [c[len("ap_strict_"):] for c in columns if c.startswith("ap_strict_")]
    ap_views = [c[3:] for c in columns if c.startswith("ap_") and not c.startswith("ap_strict_")]
    if not ap_views:
        raise ResultsError(f"{csv_path} has no ap_<view> column (columns: {', '.join(columns)})")
    ids, names, values = [], [], {v: [] for v in ap_views}
    strict_values = {v: [] for v in strict_views}
    for line, rec in records:
        ids.append(int(rec["image_id"]))
        names.append(rec.get("file_name") or "")
        for v in ap_views:  # per-image AP is in [0, 1] (NaN where undefined)
            values[v].append(_checked_value(rec[f"ap_{v}"], csv_path, line, f"ap_{v}", 0.0, 1.0))
        for v in strict_views:
            strict_values[v].append(_checked_value(rec[f"ap_strict_{v}"], csv_path, line, f"ap_strict_{v}", 0.0, 1.0))
    views = [v for v in (summary.get("views") or ap_views) if v in ap_views] or ap_views
    if "original" in views:  # original first, the rest in the file's order
        views = ["original"] + [v for v in views if v != "original"]
    return EvalResults(
        output_dir=out,
        summary=summary,
        image_ids=np.asarray(ids, dtype=np.int64),
        file_names=names,
        ap={v: np.asarray(values[v], dtype=np.float64) for v in ap_views},
        views=views,
        ap_strict={v: np.asarray(strict_values[v], dtype=np.float64) for v in strict_views},
    )
