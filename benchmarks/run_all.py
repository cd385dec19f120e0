#!/usr/bin/env python
"""Run every benchmark (benchmarks/bench_*.py) and write benchmarks/RESULTS.md.

Each benchmark writes benchmarks/results/<name>.json with the machine it ran on; this
script renders all result files (including GPU ones run elsewhere) into one Markdown page.

usage: python benchmarks/run_all.py [--only NAME ...] [--render-only] [-- extra args]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: RESULTS.md from this line on is written by hand (runs no benchmark script repeats: the
#: demo's tables, the shortcut experiment, single commands' timings); render() keeps it.
RECORDED_MARKER = "<!-- recorded runs: written by hand, kept by benchmarks/run_all.py -->"


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _table(rows) -> list:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return lines


def render() -> str:
    out = ["# Benchmark results", "",
           "Written by `make bench` (`benchmarks/run_all.py`) from `benchmarks/results/*.json`.",
           "Ratios are measured within one run; absolute times depend on the machine named.",
           "The CPU figures come from a 2-core machine shared with other jobs (its load, where",
           "recorded, is in the machine line). Runs recorded by hand (the demo's tables, the",
           "shortcut experiment, single commands) follow the generated sections, under \"Recorded runs\".", ""]
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    if not any(r.get("machine", {}).get("gpu") for r in results):
        out += ["## GPU", "",
                "**Pending**: no GPU has run these benchmarks yet (none was lent to the sessions that built",
                "them). On a GPU node without network, `benchmarks/gpu_check.sh OUT --kit .gpu_kit` (at most",
                "8 minutes; the kit from `benchmarks/gpu_kit.sh`, see docs/gpu.md) writes `OUT/eval_cuda.json`,",
                "`amp_cuda.json`, `frequency_cuda.json` and `cifar_epoch_cuda.json`: copy them into",
                "`benchmarks/results/` and run `benchmarks/run_all.py --render-only`; each names its card.", ""]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        machine = data.pop("machine", {})
        data.pop("benchmark", None)
        out += [f"## {path.stem}", "", "machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), ""]
        rows = data.pop("rows", None)
        if rows:
            out += _table(rows) + [""]
        for k, v in data.items():
            out.append(f"- {k}: {_cell(v)}")
        out.append("")
    return "\n".join(out) + _recorded_runs()


def _recorded_runs() -> str:
    """The hand-written part of the current RESULTS.md (from RECORDED_MARKER on), or ''."""
    current = HERE / "RESULTS.md"
    text = current.read_text() if current.is_file() else ""
    return text[text.index(RECORDED_MARKER):] if RECORDED_MARKER in text else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", help="benchmark names (e.g. frequency per_image_ap)")
    p.add_argument("--render-only", action="store_true", help="only rewrite RESULTS.md")
    args = p.parse_args()
    failed = []
    if not args.render_only:
        scripts = sorted(HERE.glob("bench_*.py"))
        if args.only:
            scripts = [s for s in scripts if s.stem[len("bench_"):] in args.only]
        for script in scripts:
            print(f"== {script.name}", flush=True)
            if subprocess.run([sys.executable, str(script)]).returncode != 0:
                failed.append(script.name)
    text = render()
    tmp = HERE / "RESULTS.md.tmp"
    tmp.write_text(text)
    tmp.replace(HERE / "RESULTS.md")
    print(f"wrote {HERE / 'RESULTS.md'}")
    if failed:
        sys.exit(f"error: benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
