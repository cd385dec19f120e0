#!/usr/bin/env python
"""OpenMP's wait policy and the demo detector's CPU training speed, quiet and busy.

The tools set ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep while waiting) unless the user set
it: on a CPU shared with other jobs, spinning threads made training several times slower.
This measures what that choice costs on a quiet machine and saves on a busy one: the demo's
RetinaNet-R18-FPN trained for ``--iters`` iterations by ``tools/train_net.py`` under each
policy of :data:`POLICIES`, once with the cores to itself and once beside ``--busy``
processes that keep a core busy each (pure-Python loops, like other users' jobs). libgomp's
own default (no ``OMP_WAIT_POLICY``: spin 300 000 times, then sleep) cannot be asked for
through the tools, which set PASSIVE when the variable is unset; ``ACTIVE`` with
``GOMP_SPINCOUNT=300000`` is that default's spin count. The figure is detectron2's own median
seconds per iteration from ``metrics.json`` (iterations after the first 20).

    python benchmarks/measure_omp_policy.py --iters 100 --busy 2
    python benchmarks/measure_omp_policy.py --eval-weights output/demo/model_<hash>/model_final.pth \
        --eval-data output/demo/shapes/<hash>     # also: eval_lfc.py wall time, original + low_r24

With ``--eval-weights`` and ``--eval-data`` (a shapes folder with instances_val.json and
val/), the same comparison for ``tools/eval_lfc.py`` on the val images (wall seconds).

Not a bench_*.py, so ``make bench`` does not start it (about 5 min on 2 cores). Writes results/omp_policy.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine_info, write_result

ROOT = Path(__file__).resolve().parents[1]


def _spin(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


#: name -> environment: sleep at once; libgomp's default spin count; a short spin.
POLICIES = {
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin300k": {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "300000"},
    "spin10k": {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "10000"},
}


def seconds_per_iteration(policy: str, iters: int, shapes_root: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(POLICIES[policy])
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(ROOT / "tools" / "train_net.py"), "--config-file",
               "demo/retinanet_R18_FPN_shapes", "SOLVER.MAX_ITER", str(iters), "SHAPES.ROOT", shapes_root,
               "OUTPUT_DIR", out, "TEST.EVAL_PERIOD", "0", "SOLVER.CHECKPOINT_PERIOD", str(10 * iters)]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: training failed: {proc.stderr.strip().splitlines()[-1:]}")
        rows = [json.loads(line) for line in open(Path(out) / "metrics.json") if line.strip()]
    times = [r["time"] for r in rows if "time" in r and r.get("iteration", 0) >= 20]
    return statistics.median(times)


def eval_seconds(policy: str, weights: str, data: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(POLICIES[policy])
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(ROOT / "tools" / "eval_lfc.py"), "--config", "demo/retinanet_R18_FPN_shapes",
               "--dataset-json", str(Path(data) / "instances_val.json"), "--image-root", str(Path(data) / "val"),
               "--output", out, "--views", "original", "low", "--radius", "24", "--no-progress",
               "--no-error-breakdown", "MODEL.WEIGHTS", weights]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"error: evaluation failed: {proc.stderr.strip().splitlines()[-1:]}")
    return seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=100, help="training iterations per run (default: %(default)s)")
    p.add_argument("--busy", type=int, default=2, help="busy processes in the 'busy' runs (default: %(default)s)")
    p.add_argument("--shapes-root", default="output/bench_omp/shapes", help="shapes data cache")
    p.add_argument("--eval-weights", metavar="FILE", help="demo detector weights: also time tools/eval_lfc.py")
    p.add_argument("--eval-data", metavar="DIR", help="shapes folder (instances_val.json, val/) for the evaluation")
    args = p.parse_args(argv)
    if bool(args.eval_weights) != bool(args.eval_data):
        sys.exit("error: --eval-weights and --eval-data go together")
    if args.iters < 40:
        sys.exit("error: --iters must be at least 40 (the first 20 iterations are not counted)")
    result = {"iters": args.iters, "busy_processes": args.busy, "seconds_per_iteration": {}}
    for load in ("quiet", "busy"):
        for policy in POLICIES:
            hogs = []
            if load == "busy":
                stop_at = time.time() + 3600
                hogs = [multiprocessing.Process(target=_spin, args=(stop_at,), daemon=True) for _ in range(args.busy)]
                for h in hogs:
                    h.start()
            try:
                s = seconds_per_iteration(policy, args.iters, args.shapes_root)
                if args.eval_weights:
                    e = eval_seconds(policy, args.eval_weights, args.eval_data)
                    result.setdefault("eval_seconds", {})[f"{load}_{policy}"] = round(e, 2)
                    print(f"{load:5s} {policy:7s}: evaluation {e:.1f} s", flush=True)
            finally:
                for h in hogs:
                    h.terminate()
                    h.join()
            result["seconds_per_iteration"][f"{load}_{policy}"] = round(s, 4)
            print(f"{load:5s} {policy:7s}: {s:.3f} s/iteration", flush=True)
    spi = result["seconds_per_iteration"]
    for load in ("quiet", "busy"):  # > 1: slower than PASSIVE
        for policy in list(POLICIES)[1:]:
            result[f"{load}_{policy}_over_passive"] = round(spi[f"{load}_{policy}"] / spi[f"{load}_passive"], 2)
            if "eval_seconds" in result:
                ev = result["eval_seconds"]
                result[f"eval_{load}_{policy}_over_passive"] = round(ev[f"{load}_{policy}"] / ev[f"{load}_passive"], 2)
    result["machine"] = machine_info()
    write_result("omp_policy", result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
