"""gpu_check.json, the last step of benchmarks/gpu_check.sh: the card, torch, the kit, every
step's exit status, seconds and log tail, the CUDA tests' counts and each benchmark's
headline figures, in one file beside the benchmarks' own JSON.

usage: python gpu_check_summary.py OUT_DIR DEVICE WORK_DIR KIT_DIR|'' LIMIT_S ELAPSED_S
"""
import json
import platform
import re
import sys
from pathlib import Path

#: The figures RESULTS.md's GPU section waits for, per benchmark JSON (missing ones are left out).
HEADLINES = {
    "eval": ("ours_original_vs_baseline_time", "all_views_N1_vs_baseline_time", "all_views_best_vs_baseline_time",
             "best_n_float32", "views_per_s_fastest_vs_baseline_images_per_s", "amp_all_views_best_vs_float32_time"),
    "amp": ("n_images", "max_abs_coco_ap_difference", "bf16_vs_float32_time"),
    "frequency": (),
    "cifar_epoch": ("full_cifar10_epoch_seconds_extrapolated", "epoch_seconds_measured",
                    "target_full_epoch_seconds_on_h100_class_gpu"),
}
LOG_TAIL_LINES = 15


def pytest_counts(log: str):
    """``{"passed": 3, "skipped": 1, ...}`` from pytest's last summary line (empty if none)."""
    lines = [ln for ln in log.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", ln)]
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", lines[-1])} if lines else {}


def main(out, device, work, kit, limit, elapsed):
    import torch

    out, work = Path(out), Path(work)
    steps = []
    for line in (work / "steps.tsv").read_text().splitlines():
        name, rc, ms, note = (line.split("\t") + [""])[:4]
        log = work / "logs" / f"{name}.log"
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if log.is_file() else []
        steps.append({"step": name, "exit": int(rc) if rc else None, "seconds": int(ms) / 1000, "note": note,
                      "log_tail": tail})
    summary = {
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__, "python": platform.python_version(),
        "time_limit_s": int(limit), "elapsed_s": int(elapsed),
        "all_steps_passed": all(s["exit"] in (0, None) for s in steps),
        "steps": steps,
    }
    test_log = work / "logs" / "cuda_tests.log"
    if test_log.is_file():
        summary["cuda_tests"] = pytest_counts(test_log.read_text(errors="replace"))
    if kit:
        manifest = json.loads((Path(kit) / "kit.json").read_text())
        summary["kit"] = {"folder": kit, "created": manifest["created"], "hfc_det": manifest["hfc_det"],
                          "total_mib": round(manifest["total_bytes"] / 2 ** 20, 2),
                          "wheels": [f"{w['name']}=={w['version']}" for w in manifest["wheels"]],
                          "weights": [w["file"] for w in manifest["weights"]]}
        imported = work / "kit_import.json"
        if imported.is_file():
            summary["kit"]["import_check"] = json.loads(imported.read_text())
    for name, keep in HEADLINES.items():
        path = out / f"{name}_{device}.json"
        if path.is_file():
            result = json.loads(path.read_text())
            summary[name] = {k: result[k] for k in keep if k in result}
    tmp = out / "gpu_check.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(out / "gpu_check.json")
    print(json.dumps({k: v for k, v in summary.items() if k != "steps"}, indent=2))
    for s in steps:
        print(f"{s['step']:<16} exit {s['exit'] if s['exit'] is not None else '-':<4} {s['seconds']:8.1f} s  {s['note']}")


if __name__ == "__main__":
    main(*sys.argv[1:7])
