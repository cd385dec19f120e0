"""Write output files so that a crash never leaves a half-written file a re-run would trust.

Everything is written to a hidden temporary name in the destination folder
(``.<stem>.tmp-<pid><suffix>``), flushed to disk, then moved into place with
:func:`os.replace` (atomic on POSIX when both names are on one file system). Every module of
the project writes its outputs through here.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Union

__all__ = ["atomic_path", "write_atomic", "write_text_atomic", "write_json_atomic", "save_figure_atomic",
           "read_json", "TEMP_GLOB"]

# What a killed writer leaves behind (see hfc_det.evaluation.store.remove_stale_temp_files).
TEMP_GLOB = ".*.tmp-*"

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``.

    The temporary name keeps the suffix, so writers that infer the format from the file
    name (matplotlib, PIL, cv2) still work. On error the temporary file is removed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        # A rename that survives a crash must not point at data still in the page cache.
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno is not None and not exc.filename:
            # A failed write() (a full disk: ENOSPC) names no file: say which output it was.
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(final)) from None
        raise


def write_atomic(path: PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(binary_file)`` on a temporary file, then rename it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return Path(path)


def write_text_atomic(path: PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _json_default(obj: Any):
    # numpy scalars and arrays appear in the dicts the drawing functions return.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json_atomic(path: PathLike, data: Any) -> Path:
    """JSON with NaN written as ``null`` (strict JSON, readable by browsers)."""
    text = json.dumps(_nan_to_none(data), indent=2, default=_json_default, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _nan_to_none(obj.tolist())
    return obj


def save_figure_atomic(fig, path: PathLike, **savefig_kwargs) -> Path:
    """``fig.savefig`` to ``path`` atomically; the format comes from ``path``'s suffix."""
    final = Path(path)
    fmt = final.suffix.lstrip(".") or "png"
    with atomic_path(final) as tmp:
        fig.savefig(tmp, format=fmt, **savefig_kwargs)
    return final


def read_json(path: PathLike, what: str, error: type = ValueError) -> Any:
    """Parse the JSON file ``path``; any failure is ``error`` with one line naming ``what``
    and the file (``what``: e.g. "annotation file", "summary"): not UTF-8 text, not JSON
    (with the parser's line and column), or unreadable (the OS's reason)."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise error(f"{what} {path} is not JSON ({e})") from None
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from None
