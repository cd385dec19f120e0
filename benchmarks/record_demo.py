#!/usr/bin/env python
"""Record `make demo` runs (their demo.json files) as benchmarks/results/demo.json.

Not a bench_*.py: a demo run takes minutes to tens of minutes on 2 CPU cores, so `make bench`
does not start one. Run `make demo` (with SEED=N for other seeds, each into its own --output),
then:

    python benchmarks/record_demo.py output/demo/demo.json output/demo_seed2/demo.json ...
    python benchmarks/run_all.py --render-only

Per run: the seed, stage seconds, whether the model came from the cache, the load average at
the start and end (the machines here are shared), and the val AP/AP50 on the original images;
then the mean and spread of the AP over the runs.
"""
from __future__ import annotations

import argparse
import json
import sys

from common import write_result


def summarise(demos):
    rows = []
    for path, d in demos:
        bbox = d.get("val_bbox") or {}
        views = d.get("views") or {}
        rows.append({
            "run": path,
            "seed": d.get("seed"),
            "model_cached": d.get("model_cached"),
            **{k: v for k, v in (d.get("seconds") or {}).items() if k != "total_s"},
            # total_s: recorded by tools/demo.py from this change on; older demo.json files
            # have only the stages (the wall time is then a few seconds more than their sum)
            "stages_sum_s": round(sum(v for k, v in (d.get("seconds") or {}).items() if k != "total_s"), 1),
            "total_s": (d.get("seconds") or {}).get("total_s"),
            "load_start": (d.get("load_average") or {}).get("start"),
            "load_end": (d.get("load_average") or {}).get("end"),
            "AP": bbox.get("AP"),
            "AP50": bbox.get("AP50"),
            "AP_low_r24": (views.get("low_r24") or {}).get("AP"),
        })
    aps = [r["AP"] for r in rows if r["AP"] is not None]
    out = {"rows": rows}
    if aps:
        out.update(AP_mean=round(sum(aps) / len(aps), 2), AP_min=round(min(aps), 2), AP_max=round(max(aps), 2),
                   runs=len(aps))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("demo_json", nargs="+", help="demo.json files written by tools/demo.py")
    p.add_argument("--note", default="", help="free text stored with the record (e.g. the load)")
    args = p.parse_args(argv)
    demos = []
    for path in args.demo_json:
        try:
            with open(path) as f:
                demos.append((path, json.load(f)))
        except (OSError, ValueError) as e:
            sys.exit(f"error: cannot read {path}: {e}")
    result = summarise(demos)
    if args.note:
        result["note"] = args.note
    write_result("demo", result)


if __name__ == "__main__":
    main()
