"""Small command-line helpers shared by the tools: the one error-exit convention
(:func:`exit_on_user_error`), the one device policy (:func:`resolve_device`), options.

Imports neither detectron2 nor the classification package (torch only when a device is
resolved), so every tool can use it.
"""
from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import re
import sys
from typing import Any, Callable, Iterable, Optional, Tuple

__all__ = [
    "UserError",
    "USER_ERRORS",
    "OPENMP_WAITING",
    "configure_openmp_waiting",
    "exit_on_user_error",
    "user_errors_across_processes",
    "resolve_device",
    "drop_options",
    "is_number",
    "take_leading_numbers",
    "take_leading_view_names",
]


class UserError(ValueError):
    """A mistake in the command line or its inputs: reported in one line, no traceback."""


#: What a tool reports in one line: bad values (ValueError, UserError and the one-line
#: errors of the package derive from it) and files that cannot be read or written.
USER_ERRORS = (ValueError, OSError)


def exit_on_user_error(main: Optional[Callable[..., Any]] = None, *, also: Tuple[type, ...] = ()):
    """Wrap a tool's ``main`` so expected errors (:data:`USER_ERRORS` and ``also``) become
    ``error: ...`` on stderr and exit 1, and Ctrl-C ``error: interrupted``; anything else
    keeps its traceback (a bug). Use as ``@exit_on_user_error`` or
    ``@exit_on_user_error(also=(SomeError,))``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except USER_ERRORS + tuple(also) as exc:
                sys.exit(f"error: {exc}")
            except KeyboardInterrupt:
                sys.exit("error: interrupted")
            except Exception as exc:  # noqa: BLE001  a worker's user error arrives as its traceback text
                message = _worker_user_error(exc)
                if message is None:
                    raise
                sys.exit(f"error: {message}")

        return wrapper

    return decorate(main) if main is not None else decorate


#: Marks a user error raised in a worker process: torch.multiprocessing (what detectron2's
#: ``launch`` uses for several GPUs) hands the parent only the worker's traceback as text.
_WORKER_MARK = "hfc_det user error: "


def user_errors_across_processes(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the function ``launch`` runs in each process (a tool's ``main``) so that a user
    error inside a worker still ends as one ``error: ...`` line: in a worker process the
    error is re-raised as a marked one-line ``RuntimeError``, which the parent's
    :func:`exit_on_user_error` finds in the text torch hands it (only the first failing
    process is reported, so 8 GPUs give one line, not 8). In a single process (one GPU, CPU)
    the error passes through unchanged."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            if multiprocessing.parent_process() is None:
                raise
            raise RuntimeError(_WORKER_MARK + " ".join(str(exc).split())) from None

    return wrapper


def _worker_user_error(exc: BaseException) -> Optional[str]:
    """The one-line message of a marked worker error in ``exc``'s text, else ``None``."""
    match = re.search(re.escape(_WORKER_MARK) + r"(.+)", str(exc))
    return match.group(1).strip() if match else None


#: How the tools' OpenMP threads wait (libgomp, which torch's Linux wheels use): spin briefly,
#: then sleep. Measured on 2 cores (benchmarks/measure_omp_policy.py, the demo detector, two
#: runs): on a quiet machine 0.76-0.83x PASSIVE's time per training iteration and 0.86x its
#: evaluation time; beside two busy processes 0.86-1.02x and 1.05x, where libgomp's default
#: spin (300 000, what an unset OMP_WAIT_POLICY gives) took 1.33-1.78x and 1.50x: spinning
#: long is what made CPU runs several times slower on a shared machine, sleeping at once
#: (PASSIVE, this project's earlier setting) what cost a quarter of the speed on a quiet one.
OPENMP_WAITING = {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "10000"}


def configure_openmp_waiting(environ=os.environ) -> None:
    """Set :data:`OPENMP_WAITING` unless the user set either variable. Call before torch is
    imported (OpenMP reads them once, when it loads)."""
    if not any(k in environ for k in OPENMP_WAITING):
        environ.update(OPENMP_WAITING)


def resolve_device(name: Optional[str]):
    """The one CUDA policy. ``None``/``"auto"``: CUDA when torch sees a device, else CPU;
    a named device as is, except cuda without a CUDA device, which is refused with a
    one-line :class:`UserError` (never a silent fall-back). Returns a ``torch.device``."""
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"bad --device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA device is available")
    return device


def drop_options(parser: argparse.ArgumentParser, dests: Iterable[str]) -> None:
    """Remove options (by ``dest``) that a borrowed parser adds but the tool does not use,
    e.g. detectron2's ``--resume``/``--eval-only`` in an evaluation-only tool, so that
    ``--help`` lists no option that does nothing (and giving one is an error)."""
    dests = set(dests)
    for action in [a for a in parser._actions if a.dest in dests]:
        # argparse's own way of removing an option (what conflict_handler="resolve" does)
        parser._handle_conflict_resolve(None, [(s, action) for s in list(action.option_strings)])


def is_number(token: str) -> bool:
    try:
        float(token)
    except (TypeError, ValueError):
        return False
    return True


def _take_leading(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str,
                  belongs, convert, expected: str) -> None:
    """An ``nargs="+"`` option swallows the trailing ``KEY VALUE`` config overrides too: keep
    its leading tokens for which ``belongs`` holds (converted) and move the rest to the front
    of ``args.opts``; ``parser.error`` if none belongs. ``None`` (not given) is left alone."""
    tokens = getattr(args, name)
    if tokens is None:
        return
    tokens = [str(t) for t in tokens]
    n = next((k for k, t in enumerate(tokens) if not belongs(t)), len(tokens))
    if n == 0:
        parser.error(f"argument --{name.replace('_', '-')}: expected {expected}, got {tokens[0]!r}")
    setattr(args, name, [convert(t) for t in tokens[:n]])
    args.opts = tokens[n:] + list(args.opts)


def take_leading_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str) -> None:
    """``--radius 8 16 MODEL.DEVICE cpu``: keep the leading numbers (as floats), move the
    rest to the front of ``args.opts``."""
    _take_leading(parser, args, name, is_number, float, "a number")


_CONFIG_KEY = re.compile(r"[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+")


def take_leading_view_names(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str) -> None:
    """``--views original band_r8-16 MODEL.DEVICE cpu``: keep the tokens before the first
    config key (``UPPER.CASE``); the views are checked later, with the config."""
    _take_leading(parser, args, name, lambda t: not _CONFIG_KEY.fullmatch(t), str, "a view name")
