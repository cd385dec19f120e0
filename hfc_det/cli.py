"""Small command-line helpers shared by the tools."""
from __future__ import annotations

import argparse

__all__ = ["is_number", "take_leading_numbers"]


def is_number(token: str) -> bool:
    try:
        float(token)
    except (TypeError, ValueError):
        return False
    return True


def take_leading_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str) -> None:
    """``--radius 8 16 MODEL.DEVICE cpu``: an ``nargs="+"`` option swallows the trailing
    ``KEY VALUE`` config overrides too. Keep its leading numbers (as floats) and move the rest
    to the front of ``args.opts``; ``parser.error`` if it starts with no number. A ``None``
    value (option not given) is left alone."""
    tokens = getattr(args, name)
    if tokens is None:
        return
    tokens = [str(t) for t in tokens]
    n = next((k for k, t in enumerate(tokens) if not is_number(t)), len(tokens))
    if n == 0:
        parser.error(f"argument --{name.replace('_', '-')}: expected a number, got {tokens[0]!r}")
    setattr(args, name, [float(t) for t in tokens[:n]])
    args.opts = tokens[n:] + list(args.opts)
