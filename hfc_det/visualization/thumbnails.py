"""Small thumbnails for the report's image table, made in parallel.

JPEG files are decoded with PIL's ``draft`` mode (the decoder skips to a 1/2, 1/4 or 1/8
scale before resizing), which is what keeps 5000 COCO images well under a minute on 2 cores.
A thumbnail already on disk and newer than its source is reused: it was written atomically,
so it is complete.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from PIL import Image, ImageOps

from hfc_det.utils.atomic import atomic_path
from hfc_det.visualization.parallel import available_cpus, parallel_map

__all__ = ["make_thumbnail", "make_thumbnails"]


def make_thumbnail(src: Path, dst: Path, size: int = 96, quality: int = 80) -> str:
    """Write a JPEG thumbnail whose longer side is ``size`` pixels (never enlarged).

    Returns ``"made"``, ``"reused"`` or ``"missing"`` (source file absent or unreadable).
    """
    src, dst = Path(src), Path(dst)
    try:
        src_mtime = src.stat().st_mtime
    except OSError:
        return "missing"
    try:
        if dst.stat().st_mtime >= src_mtime:
            return "reused"
    except OSError:
        pass
    try:
        with Image.open(src) as im:
            im.draft("RGB", (size, size))
            # upright as detectron2's read_image (and so the panels and the model) sees it
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((size, size), Image.BILINEAR)
            with atomic_path(dst) as tmp:
                im.save(tmp, format="JPEG", quality=quality)
    except (OSError, ValueError, Image.DecompressionBombError):
        return "missing"
    return "made"


def _run(job: Tuple[str, str, int]) -> str:
    return make_thumbnail(Path(job[0]), Path(job[1]), job[2])


def make_thumbnails(
    jobs: Sequence[Tuple[Path, Path]],
    size: int = 96,
    workers: Optional[int] = None,
    progress: bool = True,
) -> List[str]:
    """Make a thumbnail per ``(source, destination)`` pair; returns each job's status.

    ``workers``: threads (default: the CPUs this process may use); 1 runs in the caller.
    """
    args = [(str(s), str(d), int(size)) for s, d in jobs]
    return parallel_map(_run, args, workers or available_cpus(), "thumbnails", progress, min_parallel=64,
                        kind="thread")


def count_statuses(statuses: Iterable[str]) -> Dict[str, int]:
    out = {"made": 0, "reused": 0, "missing": 0}
    for s in statuses:
        out[s] += 1
    return out
