"""Shared bits of the benchmarks: which machine, best-of timing, writing results.

Benchmarks measure ratios within one run (these machines are noisy), print the machine
they ran on, and write ``benchmarks/results/<name>.json``.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Dict

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> Dict[str, object]:
    """CPU model and count, torch version and threads, and the CUDA device if one is used."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):  # a shared machine's load says how far to trust absolute times
        info["load_average_1_5_15_min_at_end"] = [round(x, 1) for x in os.getloadavg()]
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def best_time(fn: Callable[[], object], repeat: int = 3, sync_cuda: bool = False) -> float:
    """Best wall-clock seconds of ``repeat`` calls (the least disturbed by other load)."""
    import torch

    best = float("inf")
    for _ in range(repeat):
        if sync_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync_cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def write_result(name: str, result: Dict[str, object], path=None) -> Path:
    """Write ``results/<name>.json`` (or ``path``) with the machine, atomically, and print it."""
    path = Path(path) if path else RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "machine": machine_info(), **result}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)
    print(json.dumps(result, indent=2))
    return path
