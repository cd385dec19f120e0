"""Make detectron2 v0.6 importable next to today's packages.

Import this module before anything from ``detectron2`` (``hfc_det``'s detectron2-facing
modules do it for you). A process that detectron2's ``launch`` spawns (``--num-gpus N``)
imports ``detectron2.engine`` first, to unpickle its target; the tool's script runs before
that, as ``__mp_main__``, so each launching tool imports this module at its top when
``__name__ == "__mp_main__"``. It smooths over three measured incompatibilities:

1. ``PIL.Image.LINEAR`` was removed in Pillow 10, and detectron2 v0.6 uses it as a default
   argument of ``ExtentTransform``, so ``import detectron2.data.transforms`` fails. It was
   always an alias of ``BILINEAR``; we put the alias back.
2. ``pkg_resources`` is gone from setuptools >= 82 and ``detectron2.model_zoo`` imports it
   for ``resource_filename`` only. Where it is missing we register a minimal module that
   answers ``resource_filename`` from the package's location on disk; where it is there
   (torch 2.11 requires setuptools < 82) we import it without its deprecation warning.
3. ``detectron2.evaluation`` and ``detectron2.layers`` import the compiled ops
   ``detectron2._C`` at import time. The offline install route (PyPI's v0.6 Python sources)
   has no compiled ops, so where ``detectron2._C`` cannot be imported we register a stand-in
   whose every op raises :class:`MissingCompiledOpsError` with a clear message. Rotated
   boxes, deformable convolution and detectron2's fast C++ COCOeval need the real ops; this
   project then evaluates with the pure-Python pycocotools COCOeval (see
   :data:`HAS_COMPILED_OPS`).
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import types
import warnings

__all__ = ["HAS_COMPILED_OPS", "MissingCompiledOpsError", "require_detectron2", "patch"]


class MissingCompiledOpsError(AttributeError, RuntimeError):
    """Raised when code needs detectron2's compiled ops and the install has none.

    An ``AttributeError`` so that ``hasattr(_C, op)`` answers False, and a
    ``RuntimeError`` for everyone else.
    """


_MISSING_OPS_MESSAGE = (
    "detectron2 is installed without its compiled ops (detectron2._C), so '{name}' is not "
    "available (rotated boxes, deformable convolution and the fast C++ COCOeval need them). "
    "Build detectron2 from source to get them: "
    "pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git'"
)


def _missing_ops_module() -> types.ModuleType:
    module = types.ModuleType("detectron2._C")
    module.__doc__ = "hfc_det stand-in: detectron2 was installed without its compiled ops."
    module.__file__ = __file__
    # collect_env (used by default_setup) asks these three; answer instead of failing.
    module.get_compiler_version = lambda: "not built (Python-only detectron2)"
    module.get_cuda_version = lambda: "not built (Python-only detectron2)"
    module.has_cuda = lambda: False
    module.HFC_DET_STANDIN = True

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise MissingCompiledOpsError(_MISSING_OPS_MESSAGE.format(name=name))

    module.__getattr__ = __getattr__
    return module


def _patch_pillow() -> None:
    from PIL import Image

    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR


def _patch_pkg_resources() -> None:
    if "pkg_resources" in sys.modules:
        return
    try:
        # setuptools < 82 (torch 2.11 requires it) warns on this import; left alone, every
        # tool would print the warning, and a bad-input error would no longer be one line.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)
            importlib.import_module("pkg_resources")
        return
    except ImportError:
        pass
    module = types.ModuleType("pkg_resources")
    module.__doc__ = "hfc_det stand-in for setuptools' pkg_resources (resource_filename only)."

    def resource_filename(package: str, resource: str) -> str:
        pkg = importlib.import_module(package)
        return os.path.join(os.path.dirname(pkg.__file__), resource)

    module.resource_filename = resource_filename
    sys.modules["pkg_resources"] = module


def _detect_compiled_ops() -> bool:
    existing = sys.modules.get("detectron2._C")
    if existing is not None:
        return not getattr(existing, "HFC_DET_STANDIN", False)
    if importlib.util.find_spec("detectron2") is None:
        return False
    try:
        importlib.import_module("detectron2._C")
        return True
    except ImportError:
        sys.modules["detectron2._C"] = _missing_ops_module()
        _register_missing_torch_ops()
        return False


_TORCH_OPS_LIBRARY = None


def _register_missing_torch_ops() -> None:
    """``detectron2.layers.nms_rotated`` calls ``torch.ops.detectron2.nms_rotated``, which the
    compiled ops register; without them torch raises an opaque AttributeError. Register the
    op with an implementation that raises our clear message instead."""
    global _TORCH_OPS_LIBRARY
    if _TORCH_OPS_LIBRARY is not None:
        return
    import torch

    def nms_rotated(boxes, scores, iou_threshold):
        raise MissingCompiledOpsError(_MISSING_OPS_MESSAGE.format(name="nms_rotated"))

    try:
        lib = torch.library.Library("detectron2", "DEF")
        lib.define("nms_rotated(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl("nms_rotated", nms_rotated, "CompositeExplicitAutograd")
    except RuntimeError:  # already defined by someone else: leave theirs
        return
    _TORCH_OPS_LIBRARY = lib


class _DropMessages(logging.Filter):
    """Drop log records whose message contains one of ``drop``; let those containing one of
    ``once`` through the first time only (per process), and only once logging is set up
    (a tool's checks before ``default_setup`` would otherwise print it through logging's
    last-resort handler, and the run would repeat it)."""

    def __init__(self, drop=(), once=()):
        super().__init__()
        self.drop, self.once, self.seen = tuple(drop), tuple(once), set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(d in text for d in self.drop):
            return False
        for o in self.once:
            if o in text:
                if o in self.seen or not logging.getLogger(record.name).hasHandlers():
                    return False
                self.seen.add(o)
        return True


def _quiet_noise() -> None:
    """Silence what every run printed without it meaning anything to the user."""
    # detectron2 v0.6 and fvcore script a few helpers with torch.jit.script at import time;
    # torch 2.14 warns about that on every run, which buries the tools' own output.
    warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated", category=FutureWarning)
    # detectron2's anchor generator calls torch.meshgrid without indexing=; the default "ij"
    # is what it means, so the warning says nothing about this project's results.
    warnings.filterwarnings("ignore", message=r"torch.meshgrid: in an upcoming release", category=UserWarning)
    # Importing torch.utils.cpp_extension (detectron2 does) on a machine without the CUDA
    # toolkit logs this; it matters only when compiling extensions, which no tool does.
    cpp_ext = logging.getLogger("torch.utils.cpp_extension")
    if not any(isinstance(f, _DropMessages) for f in cpp_ext.filters):
        cpp_ext.addFilter(_DropMessages(drop=["No CUDA runtime is found"]))
    # detectron2 warns each time it loads a json whose category ids are not 1..K (COCO's are
    # not): a tool loads it several times; once per process says it.
    coco = logging.getLogger("detectron2.data.datasets.coco")
    if not any(isinstance(f, _DropMessages) for f in coco.filters):
        coco.addFilter(_DropMessages(once=["Category ids in annotations are not in [1, #categories]"]))


def patch() -> bool:
    """Apply the three fixes (idempotent). Returns whether the compiled ops exist."""
    _quiet_noise()
    _patch_pillow()
    _patch_pkg_resources()
    return _detect_compiled_ops()


HAS_COMPILED_OPS: bool = patch()


def require_detectron2() -> None:
    """Raise a one-line ``ImportError`` that says how to install detectron2 when it is missing."""
    if importlib.util.find_spec("detectron2") is None:
        raise ImportError(
            "detectron2 is not installed: run `make setup` (or tools/install_detectron2.sh "
            "PYTHON) to install it"
        )
