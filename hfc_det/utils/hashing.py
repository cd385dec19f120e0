"""Content hashes of files: what a run's identity (weights, datasets, checkpoints) is made of."""
import hashlib
import os
from typing import Union


def sha256_file(path: Union[str, os.PathLike], block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in ``block``-byte pieces (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()
