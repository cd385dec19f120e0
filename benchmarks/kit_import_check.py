"""The GPU check's kit_import step (benchmarks/gpu_check.sh --kit): run from a folder outside
the checkout with only the kit's install folder on PYTHONPATH, it checks that the installed
hfc_det (not the checkout's) imports with detectron2 and the other carried packages, and
that its packaged configs resolve; writes what it found to the JSON path given.

usage: python kit_import_check.py OUT_JSON
"""
import importlib
import importlib.metadata
import json
import platform
import sys
from pathlib import Path

CARRIED = ["hfc_det", "detectron2", "pycocotools", "faster-coco-eval", "fvcore", "iopath", "yacs", "omegaconf",
           "hydra-core", "antlr4-python3-runtime", "termcolor", "tidecv", "appdirs"]
MODULES = ["hfc_det.compat", "detectron2.modeling", "detectron2.evaluation", "pycocotools.cocoeval", "faster_coco_eval",
           "fvcore.common.config", "omegaconf", "hydra", "tidecv", "hfc_det.evaluation.run", "hfc_det.metrics.image_ap"]


def main(out):
    import torch
    import torchvision

    import hfc_det

    found = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
             "hfc_det_file": hfc_det.__file__, "versions": {}}
    for name in CARRIED:
        try:
            found["versions"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found["versions"][name] = None
    for module in MODULES:  # hfc_det.compat first: it readies detectron2 v0.6 for today's packages
        importlib.import_module(module)
    from hfc_det.config import get_cfg

    found["configs"] = {name: get_cfg(name).MODEL.META_ARCHITECTURE
                        for name in ("retinanet_R50_FPN", "demo/retinanet_R18_FPN_shapes")}
    Path(out).write_text(json.dumps(found, indent=2) + "\n")
    print(json.dumps(found, indent=2))
    missing = [n for n, v in found["versions"].items() if v is None]
    if missing:
        sys.exit(f"error: not installed from the kit: {', '.join(missing)}")
    checkout = Path(__file__).resolve().parents[1]
    if checkout in Path(hfc_det.__file__).resolve().parents:
        sys.exit(f"error: hfc_det came from the checkout ({hfc_det.__file__}), not from the kit")


if __name__ == "__main__":
    main(sys.argv[1])
