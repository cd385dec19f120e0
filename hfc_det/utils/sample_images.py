"""Real photographs that installed packages bundle, for demos and tests without downloads.

scikit-image ships astronaut, coffee, chelsea, rocket, ...; scikit-learn ships two JPEGs
(china, flower). Both are optional dependencies (the ``demo`` extra).
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import numpy as np

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")


def bundled_photos(names: Optional[Iterable[str]] = None) -> Dict[str, np.ndarray]:
    """Return ``{name: HxWx3 uint8 RGB}`` for the bundled photos (grayscale ones as 3 channels).

    ``names`` picks a subset (skimage names, or ``china``/``flower``); unknown names raise
    ``ValueError``. Raises ``ImportError`` with the install line if neither package is there.
    """
    wanted = None if names is None else list(names)
    photos: Dict[str, np.ndarray] = {}
    try:
        import skimage.data
    except ImportError:
        skimage = None
    else:
        for name in SKIMAGE_PHOTOS:
            if wanted is None or name in wanted:
                photos[name] = getattr(skimage.data, name)()
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:
        load_sample_image = None
    else:
        for file_name in SKLEARN_PHOTOS:
            name = file_name.split(".")[0]
            if wanted is None or name in wanted:
                photos[name] = load_sample_image(file_name)
    if skimage is None and load_sample_image is None:
        raise ImportError("bundled photos need scikit-image or scikit-learn: pip install 'hfc_det[demo]'")
    if wanted is not None:
        missing = sorted(set(wanted) - set(photos))
        if missing:
            raise ValueError(f"unknown bundled photo(s) {missing}; known: {sorted(photos)}")
    return {k: np.repeat(v[..., None], 3, axis=2) if v.ndim == 2 else v[..., :3] for k, v in photos.items()}
