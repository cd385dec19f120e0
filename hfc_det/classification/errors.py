"""The classification package's own error, in a module without torch, so that a tool can
name it in :func:`hfc_det.cli.helpers.exit_on_user_error` before torch loads (``--help`` and
argument errors then answer at once). :mod:`.training` raises and re-exports it.
"""

__all__ = ["TrainingError"]


class TrainingError(RuntimeError):
    """A run that cannot start or continue (e.g. an existing checkpoint without --resume)."""
