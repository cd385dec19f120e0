"""Package names imported on first use (PEP 562 module ``__getattr__``).

A subpackage lists ``{name: submodule}``; importing the subpackage then costs nothing, and
asking for a name imports only the submodule that defines it. This is what keeps
detectron2 out of ``import hfc_det.metrics.image_ap`` (the package ``__init__``
runs first and must not import the detectron2-facing submodules).
"""
from __future__ import annotations

import importlib
from typing import Callable, Dict, List, Tuple


def lazy_exports(package: str, exports: Dict[str, str]) -> Tuple[Callable[[str], object], Callable[[], List[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` exporting ``{name: ".submodule"}``."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    def __dir__() -> List[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(exports))

    return __getattr__, __dir__
