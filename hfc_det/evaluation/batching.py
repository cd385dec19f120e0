"""Grouping images into model batches that leave every detection as it is alone.

detectron2's models pad each batch to its largest image (``ImageList.from_tensors``,
rounded up to the backbone's ``size_divisibility``, 32 for an FPN). An image alone is padded
only to its own size rounded up; padded further, the convolutions near its bottom and right
edges see other values and its detections change. So a batch only ever holds images of
one padded size, and every image is padded exactly as it would be alone.

No detectron2 here: the grouping only needs each image's size.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, List, Tuple

__all__ = ["padded_size", "SameSizeBatcher"]


def padded_size(height: int, width: int, size_divisibility: int) -> Tuple[int, int]:
    """``(H, W)`` rounded up to multiples of ``size_divisibility`` (<= 1: unchanged), as
    ``ImageList.from_tensors`` pads one image."""
    d = max(int(size_divisibility), 1)
    return (-(-int(height) // d) * d, -(-int(width) // d) * d)


class SameSizeBatcher:
    """Collects items into batches of up to ``batch_size`` items with the same key.

    ``add(item)`` returns the batches it completes (a list, usually empty or one batch);
    ``flush()`` returns what is left. At most ``max_pending`` items wait (default
    ``4 * batch_size``): past that, the largest waiting group leaves as a short batch,
    which bounds memory when the keys (image sizes) are many. Every item leaves exactly once.

    Args:
        batch_size: items per batch (>= 1).
        key: ``item -> hashable``, e.g. the padded image size.
    """

    def __init__(self, batch_size: int, key: Callable[[object], Hashable], max_pending: int = 0):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.max_pending = max(int(max_pending) or 4 * self.batch_size, self.batch_size)
        self._key = key
        self._groups: "OrderedDict[Hashable, List[object]]" = OrderedDict()
        self._pending = 0

    def add(self, item) -> List[List[object]]:
        k = self._key(item)
        group = self._groups.setdefault(k, [])
        group.append(item)
        self._pending += 1
        out = []
        if len(group) == self.batch_size:
            out.append(self._take(k))
        elif self._pending > self.max_pending:
            out.append(self._take(max(self._groups, key=lambda g: len(self._groups[g]))))
        return out

    def flush(self) -> List[List[object]]:
        return [self._take(k) for k in list(self._groups)]

    def _take(self, k) -> List[object]:
        group = self._groups.pop(k)
        self._pending -= len(group)
        return group

