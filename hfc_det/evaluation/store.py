"""Resumable evaluation: what a run's output folder records so that a re-run can go on.

In ``output_dir``:

- ``run_fingerprint.json``: hashes of what decides the detections: the config (every key
  but the output folder, data-loading workers, seed and the weights/dataset names, which
  are fingerprinted on their own), the model weights (the file's SHA-256, the URL for
  remote weights, or ``random-init`` + seed for ``MODEL.WEIGHTS ""``) and the dataset
  (the annotation json's SHA-256 and the image folder). A re-run whose fingerprint differs
  is refused (:class:`OutputMismatchError`) instead of mixing detections of two models.
- ``partial/dets-<token>-<k>.npz``: detections of finished images, written by each process
  every ``save_every`` images through a temporary file and a rename, so a killed run
  leaves only whole chunks (and perhaps a stale ``.*.tmp-*`` file, ignored and removed).
  Each chunk holds, per view, the ``(N, 6)`` float64 arrays of
  :func:`~hfc_det.evaluation.evaluator.instances_to_array` concatenated, with per-image
  counts: compact, and the same numbers that go into COCOeval.

- ``run.lock`` while a run is going (:func:`output_lock`, :mod:`hfc_det.utils.run_lock`): a
  second run in the same folder refuses at once, so two runs never mix their files, and a
  fingerprint without detections can only be a dead run's.

Unreadable images are not stored: a re-run tries them again (a transient read error then
heals; a corrupt file is skipped again and listed in ``summary.json`` as before).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np

from hfc_det.utils.atomic import TEMP_GLOB, write_atomic
from hfc_det.utils.hashing import sha256_file
from hfc_det.utils.run_lock import FolderInUseError, run_lock

__all__ = [
    "FINGERPRINT_FILE",
    "PARTIAL_DIR",
    "OutputMismatchError",
    "config_digest",
    "weights_identity",
    "dataset_identity",
    "run_fingerprint",
    "prepare_output",
    "output_lock",
    "FolderInUseError",
    "remove_stale_temp_files",
    "DetectionStore",
]

logger = logging.getLogger(__name__)

FINGERPRINT_FILE = "run_fingerprint.json"
PARTIAL_DIR = "partial"
#: Files and folders of the output contract that ``--fresh`` removes (nothing else).
_RESULT_PATHS = ("summary.json", "per_image_ap.csv", "detections", "gain_loss", PARTIAL_DIR, FINGERPRINT_FILE)
#: Config keys that do not change any detection (the weights and dataset are fingerprinted
#: by content instead of by name/path).
_IGNORED_KEYS = (("OUTPUT_DIR",), ("SEED",), ("MODEL", "WEIGHTS"), ("DATALOADER", "NUM_WORKERS"),
                 ("DATASETS", "TEST"), ("DATASETS", "TRAIN"), ("HFC", "IMAGES_PER_BATCH"),
                 # how detections are scored, not which: a resumed run may change it
                 ("HFC", "STRICT_SCORE"),
                 # recorded on its own (config_source); whether partial weights are refused
                 ("HFC", "CONFIG_FILE"), ("HFC", "ALLOW_PARTIAL_WEIGHTS"))
#: The seed of a randomly initialised model when ``cfg.SEED`` is negative ("random").
DEFAULT_INIT_SEED = 0


class OutputMismatchError(ValueError):
    """The output folder holds detections of a different run (one-line message)."""


def config_digest(cfg) -> str:
    """SHA-256 of the config with the keys that cannot change a detection blanked out."""
    c = cfg.clone()
    c.defrost()
    # SHAPES.* only describe how the synthetic data is made; the data evaluated is
    # fingerprinted by its files (dataset_identity)
    c.pop("SHAPES", None)
    for path in _IGNORED_KEYS:
        node = c
        for key in path[:-1]:
            node = node.get(key) if node is not None else None
        if node is not None and path[-1] in node:
            node[path[-1]] = None
    text = c.dump(sort_keys=True)
    if cfg.get("HFC", {}).get("CONFIG_SYSTEM") == "lazy":
        # a LazyConfig's model is not in the yacs settings: its text (after the overrides) is
        from hfc_det.evaluation.model_source import lazy_config_text

        text += lazy_config_text(cfg)
    return hashlib.sha256(text.encode()).hexdigest()


def init_seed(cfg) -> int:
    """The seed a randomly initialised model is built with (``cfg.SEED``, or 0 when negative)."""
    return int(cfg.SEED) if int(cfg.SEED) >= 0 else DEFAULT_INIT_SEED


def weights_identity(cfg) -> Dict[str, object]:
    """What the weights are: a local file's hash, a remote URL, or random init + seed."""
    weights = cfg.MODEL.WEIGHTS
    if not weights:
        return {"kind": "random-init", "seed": init_seed(cfg)}
    if "://" in weights and not os.path.isfile(weights):
        return {"kind": "url", "url": weights}
    return {"kind": "file", "sha256": sha256_file(weights)}


def dataset_identity(json_file: str, image_root: str) -> Dict[str, str]:
    """The annotation file's hash and the (absolute) image folder."""
    return {"json_sha256": sha256_file(json_file), "image_root": os.path.abspath(image_root)}


def run_fingerprint(cfg, json_file: str, image_root: str) -> Dict[str, object]:
    """``{"config": sha256, "config_source": {"system", "file"}, "weights": {...}, "dataset": {...}}``
    of an evaluation run (``config_source``: yacs or lazy, and the ``zoo:`` name or file path)."""
    hfc = cfg.get("HFC", {})
    source = {"system": hfc.get("CONFIG_SYSTEM", "yacs"), "file": hfc.get("CONFIG_FILE", "")}
    return {"config": config_digest(cfg), "config_source": source, "weights": weights_identity(cfg),
            "dataset": dataset_identity(json_file, image_root)}


def remove_stale_temp_files(output_dir) -> List[str]:
    """Delete the ``.*.tmp-*`` files a killed run left in the output folder; returns them.

    Only call this before any process of the new run writes.
    """
    removed = []
    out = Path(output_dir)
    if not out.is_dir():
        return removed
    for sub in (out, out / PARTIAL_DIR, out / "detections", out / "gain_loss"):
        if sub.is_dir():
            for p in sub.glob(TEMP_GLOB):
                if p.is_file():
                    p.unlink()
                    removed.append(str(p))
    return removed


def prepare_output(output_dir, fingerprint: Mapping, fresh: bool = False, write: bool = True) -> str:
    """Check (and, with ``write``, claim) ``output_dir`` for a run with ``fingerprint``.

    Returns ``"new"`` (no earlier detections) or ``"resume"`` (the same run's detections
    are there). ``fresh`` first removes the earlier results (only the output contract's
    files). Raises :class:`OutputMismatchError` only when the folder holds detections
    (``partial/`` chunks or ``summary.json``) of another or an unknown run; a fingerprint
    left by a run that died before saving any image is replaced. ``write=False`` only
    checks (for the machines other than the first).
    """
    out = Path(output_dir)
    fp_path = out / FINGERPRINT_FILE
    if fresh and write:
        # summary.json first: its presence means "complete", so it must go before the rest
        for name in _RESULT_PATHS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    fingerprint = json.loads(json.dumps(fingerprint))  # the form it has once read back
    has_results = _holds_results(out)
    known = _read_fingerprint(fp_path)
    if known is not None and known != fingerprint and has_results:
        differ = [k for k in ("config", "config_source", "weights", "dataset") if not isinstance(known, dict) or known.get(k) != fingerprint[k]]
        raise OutputMismatchError(
            f"{out} holds detections of another run (different {', '.join(differ) or 'fingerprint'}): "
            f"add --fresh to start over there, or choose another --output"
        )
    if known is None and has_results:
        raise OutputMismatchError(
            f"{out} holds detections of an unknown run ({FINGERPRINT_FILE} is missing or unreadable): "
            f"add --fresh to start over there, or choose another --output"
        )
    # A fingerprint without detections is a run that died before its first saved image (bad
    # weights, a typo in a key): nothing to protect, the corrected command claims the folder.
    status = "resume" if known == fingerprint and has_results else "new"
    if write:
        remove_stale_temp_files(out)
        if known != fingerprint:
            write_atomic(fp_path, lambda f: f.write(json.dumps(fingerprint, indent=2).encode()))
    return status


def output_lock(output_dir):
    """``with output_lock(output_dir):`` one evaluation run in the folder at a time (a second
    raises :class:`~hfc_det.utils.run_lock.FolderInUseError` naming the live one; a dead
    run's lock is taken over with a message). Hold it around :func:`prepare_output` and the run."""
    return run_lock(output_dir, what="eval_lfc.py run")


def _holds_results(out: Path) -> bool:
    """Detections a run saved: ``partial/`` chunks or a finished run's ``summary.json``."""
    partial = out / PARTIAL_DIR
    return (out / "summary.json").is_file() or (partial.is_dir() and any(partial.glob("dets-*.npz")))


def _read_fingerprint(path: Path):
    """The recorded fingerprint, ``None`` when there is none; an unreadable one reads as ``{}``."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError):
        return {}


class DetectionStore:
    """The ``partial/`` chunks of one process: append finished images, flush every N.

    Args:
        output_dir: the run's output folder.
        views: view names, in order.
        save_every: write a chunk after this many newly finished images (>= 1).
    """

    def __init__(self, output_dir, views: Sequence[str], save_every: int = 50):
        if int(save_every) < 1:
            raise ValueError(f"save_every must be at least 1, got {save_every}")
        self.dir = Path(output_dir) / PARTIAL_DIR
        self.views = list(views)
        self.save_every = int(save_every)
        self._token = uuid.uuid4().hex[:12]  # unique per process and run: chunks never collide
        self._chunks_written = 0
        self._pending: List[Tuple[int, Dict[str, np.ndarray]]] = []

    def add(self, image_id: int, detections: Mapping[str, np.ndarray]) -> None:
        """Record one finished image (``{view: (N, 6) array}``); flushes every ``save_every``."""
        self._pending.append((int(image_id), {v: np.asarray(detections[v], dtype=np.float64) for v in self.views}))
        if len(self._pending) >= self.save_every:
            self.flush()

    def flush(self) -> Optional[Path]:
        """Write the pending images as one chunk (atomically); returns its path, if any."""
        if not self._pending:
            return None
        arrays = {"image_ids": np.array([i for i, _ in self._pending], dtype=np.int64),
                  "views": np.array(self.views)}
        for k, view in enumerate(self.views):
            per_image = [d[view].reshape(-1, 6) for _, d in self._pending]
            arrays[f"counts_{k}"] = np.array([len(a) for a in per_image], dtype=np.int64)
            arrays[f"dets_{k}"] = np.concatenate(per_image) if per_image else np.zeros((0, 6))
        path = self.dir / f"dets-{self._token}-{self._chunks_written:06d}.npz"
        write_atomic(path, lambda f: np.savez(f, **arrays))
        self._chunks_written += 1
        self._pending = []
        return path

    def load(self, keep: Optional[Iterable[int]] = None) -> Dict[str, Dict[int, np.ndarray]]:
        """Every stored image's detections, ``{view: {image_id: (N, 6) array}}``.

        ``keep`` limits them to those image ids. A chunk that cannot be read, or that was
        written for other views, is ignored with a warning (its images are evaluated again).
        """
        keep_set: Optional[Set[int]] = None if keep is None else {int(i) for i in keep}
        out: Dict[str, Dict[int, np.ndarray]] = {v: {} for v in self.views}
        for path in sorted(self.dir.glob("dets-*.npz")) if self.dir.is_dir() else []:
            try:
                with np.load(path, allow_pickle=False) as z:
                    if list(z["views"]) != self.views:
                        raise ValueError(f"views {list(z['views'])}, not {self.views}")
                    ids = z["image_ids"]
                    for k, view in enumerate(self.views):
                        parts = np.split(z[f"dets_{k}"], np.cumsum(z[f"counts_{k}"])[:-1])
                        for i, dets in zip(ids.tolist(), parts):
                            if keep_set is None or i in keep_set:
                                out[view].setdefault(i, dets)
            except Exception as e:  # noqa: BLE001  a damaged chunk costs a recomputation, not the run
                logger.warning("ignoring unreadable detections chunk %s (%s)", path, e)
        # an image counts as done only when every view of it was read
        done = set.intersection(*(set(d) for d in out.values())) if out else set()
        return {v: {i: d for i, d in out[v].items() if i in done} for v in self.views}
