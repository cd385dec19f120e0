"""Figure 2's search (tools/find_hfc_examples.py): the test samples a classifier gets right on
the original image and on its detail view (the HFC, or the SVD tail) but wrong on the smooth
view (the LFC, or the truncated-SVD top), for every radius and every k, with their
galleries, ``examples.csv`` and ``counts.json``.

The selection itself is :func:`hfc_det.classification.hfc_examples.select_hfc_examples`.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hfc_det.classification.catalog import dataset_info
from hfc_det.classification.tool_options import check_nonnegative
from hfc_det.cli.helpers import UserError
from hfc_det.utils.atomic import atomic_path, write_json_atomic

__all__ = ["SPLIT_CHOICES", "search_parameters", "gallery_name", "find_hfc_examples"]

#: ``--split``: which split(s) to search.
SPLIT_CHOICES = ("frequency", "svd", "both")


def search_parameters(split: str, dataset: Optional[str], image_size: int, radii: Optional[Sequence[float]] = None,
                      ks: Optional[Sequence[int]] = None) -> List[Tuple[str, float]]:
    """``[(split, parameter)]`` to search, checked (one-line :class:`UserError`).

    ``radii`` (frequency bins, > 0) default to the dataset's tracked radii (4 8 12 16 for
    CIFAR-10); ``ks`` (singular values kept, >= 1) to 1/16, 1/8, 1/4 and 1/2 of
    ``image_size``. A radius without the frequency split, or a k without the SVD one, is an
    error."""
    out = []
    if split in ("frequency", "both"):
        radii = check_nonnegative("--radius", radii or list(dataset_info(dataset).default_track_radii))
        if 0 in radii:
            raise UserError("--radius values must be > 0")
        out += [("frequency", r) for r in radii]
    elif radii:
        raise UserError("--radius is for the frequency split; add --split both to search both")
    if split in ("svd", "both"):
        ks = ks or sorted({max(1, image_size // d) for d in (16, 8, 4, 2)})
        if any(k < 1 for k in ks):
            raise UserError(f"--k values must be >= 1, got {ks}")
        out += [("svd", k) for k in dict.fromkeys(ks)]
    elif ks:
        raise UserError("--k is for the SVD split; add --split svd or --split both")
    return out


def gallery_name(split: str, parameter: float) -> str:
    return f"gallery_frequency_r{parameter:g}.png" if split == "frequency" else f"gallery_svd_k{parameter:g}.png"


def find_hfc_examples(checkpoint, output, *, split: str = "frequency", radii: Optional[Sequence[float]] = None,
                      ks: Optional[Sequence[int]] = None, gallery_size: int = 8, dataset: Optional[str] = None,
                      data_root: str = "data", download: bool = False, limit: Optional[int] = None,
                      batch_size: int = 500, device: Optional[str] = "auto") -> Dict[str, Any]:
    """Search a tools/train_cifar.py run's test set (or ``dataset``'s first ``limit``
    samples) and write into ``output``: ``examples.csv`` (one row per sample and split
    parameter), ``counts.json`` (counts, fractions, per-view accuracies, galleries) and the
    galleries of the first ``gallery_size`` samples per parameter. Returns ``counts.json``'s
    dict; raises one-line errors for bad input."""
    if gallery_size < 0 or batch_size < 1:
        raise UserError("--gallery-size must be >= 0 and --batch-size >= 1")
    # torch and matplotlib load only now, after the arguments are checked
    from hfc_det.classification.hfc_examples import (
        CLASS_NAMES,
        CSV_COLUMNS,
        save_hfc_gallery,
        select_hfc_examples,
        view_probabilities,
    )
    from hfc_det.classification.tool_support import load_models, load_test_set
    from hfc_det.cli.helpers import resolve_device
    from hfc_det.views.grammar import split_view_names

    device = resolve_device(device)
    (model, config), = load_models([checkpoint], device)
    dataset, images, labels = load_test_set(dataset, [config], [model], data_root, download, limit)
    searches = search_parameters(split, dataset, images.shape[-1], radii, ks)
    names = ["original"] + [n for s, p in searches for n in split_view_names(s, p)]
    probs = view_probabilities(model, images, names, batch_size=batch_size, device=device, progress="views")
    class_names = CLASS_NAMES.get(dataset)

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    all_rows, counts, galleries = [], {"frequency": {}, "svd": {}}, []
    for s, parameter in searches:
        rows = select_hfc_examples(probs, labels, s, parameter)
        all_rows += rows
        counts[s][f"{parameter:g}"] = len(rows)
        if rows and gallery_size:
            path, drawn = save_hfc_gallery(images, rows, out / gallery_name(s, parameter), class_names,
                                           max_examples=gallery_size)
            galleries.append({"split": s, "parameter": parameter, "path": Path(path).name,
                              "indices": [r["index"] for r in rows[:drawn]]})
    with atomic_path(out / "examples.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(all_rows)
    accuracy = {name: float((p.argmax(dim=1) == labels).double().mean()) for name, p in probs.items()}
    record = {
        "checkpoint": str(checkpoint),
        "dataset": dataset,
        "n_samples": len(images),
        "definition": "argmax right on original and on the detail view (HFC / SVD tail), "
                      "wrong on the smooth view (LFC / SVD top)",
        "counts": {k: v for k, v in counts.items() if v},
        "fraction": {s: {p: n / len(images) for p, n in c.items()} for s, c in counts.items() if c},
        "accuracy": accuracy,
        "galleries": galleries,
    }
    write_json_atomic(out / "counts.json", record)
    return record
