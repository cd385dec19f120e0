"""Installed, not only checked out: a non-editable install of the package finds its configs.

The working tree's package (setup.py, README.md, LICENSE, hfc_det/) is copied to a temporary
folder, so that the build's ``build/`` and ``*.egg-info`` stay out of the checkout, and pip
installs it (no dependencies, no index) into another temporary folder. From a third folder,
with only that folder on PYTHONPATH before the venv's site-packages (which keep torch and
detectron2, and the checkout's editable install behind the path entries), the config names
resolve to the installed package data: ``--config retinanet_R50_FPN`` and the demo's config
(with its ``_BASE_``), the CIFAR suites with their ``base.yaml``, and the tools' ``--help``
lists the same names.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "hfc_det" / "configs"

PROBE = r"""
import json, sys
import hfc_det
from hfc_det.cli.options import available_configs, resolve_config_file
from hfc_det.classification.catalog import SUITES_DIR, list_suites
from hfc_det.classification.experiments import load_suite
from hfc_det.config import get_cfg

retinanet, demo = get_cfg("retinanet_R50_FPN"), get_cfg("demo/retinanet_R18_FPN_shapes")
print(json.dumps({
    "package": hfc_det.__file__,
    "modules": sorted(m.__file__ for n, m in list(sys.modules.items()) if n.split(".")[0] == "hfc_det"),
    "retinanet": resolve_config_file("retinanet_R50_FPN"),
    "demo": resolve_config_file("demo/retinanet_R18_FPN_shapes"),
    "available": available_configs(),
    "depths": [retinanet.MODEL.RESNETS.DEPTH, demo.MODEL.RESNETS.DEPTH],
    "suites_dir": str(SUITES_DIR),
    "suites": list_suites(),
    "table1": {run.name: [run.config.train_on, run.config.radius] for run in load_suite("table1")},
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(site, env, cwd)``: the package installed non-editable into ``site``, the environment
    that puts it first on the path, and a working directory outside the checkout."""
    tmp = tmp_path_factory.mktemp("install")
    src, site, elsewhere = tmp / "src", tmp / "site", tmp / "elsewhere"
    src.mkdir()
    elsewhere.mkdir()
    for name in ("setup.py", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "hfc_det", src / "hfc_det", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(site), str(src)], capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1")
    return site.resolve(), env, elsewhere


def test_installed_package_finds_its_configs(installed):
    site, env, elsewhere = installed
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    package = site / "hfc_det"
    # the installed copy, not the checkout
    assert Path(got["package"]) == package / "__init__.py"
    assert got["modules"] and all(Path(f).is_relative_to(package) for f in got["modules"]), got["modules"]

    # detection configs: the installed files, byte for byte the checkout's
    assert Path(got["retinanet"]) == package / "configs" / "retinanet_R50_FPN.yaml"
    assert Path(got["demo"]) == package / "configs" / "demo" / "retinanet_R18_FPN_shapes.yaml"
    for key in ("retinanet", "demo"):
        assert Path(got[key]).read_bytes() == (CONFIGS / Path(got[key]).relative_to(package / "configs")).read_bytes()
    assert {"retinanet_R50_FPN", "demo/retinanet_R18_FPN_shapes"} <= set(got["available"])
    assert got["depths"] == [50, 18]  # R50; R18 through the demo config's _BASE_

    # classification configs: the suites and their runs, from the installed base.yaml
    assert Path(got["suites_dir"]) == package / "configs" / "cifar"
    expected_suites = sorted(p.name for p in (CONFIGS / "cifar").iterdir() if p.is_dir() and any(p.glob("*.yaml")))
    assert got["suites"] == expected_suites and "table1" in expected_suites
    expected = {}
    for path in (CONFIGS / "cifar" / "table1").glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        expected[path.stem] = [raw["train_on"], raw["radius"]]
    assert got["table1"] == expected


def test_tools_list_the_installed_configs(installed):
    """The checkout's tools/ scripts on the installed package (sys.path[0] is tools/, which
    holds no package): --help lists the names, without torch."""
    site, env, elsewhere = installed
    help_text = {}
    for tool in ("eval_lfc.py", "run_experiments.py"):
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / tool), "--help"], capture_output=True, text=True,
                              cwd=elsewhere, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        help_text[tool] = " ".join(proc.stdout.split())
    assert "retinanet_R50_FPN" in help_text["eval_lfc.py"]
    assert "demo/retinanet_R18_FPN_shapes" in help_text["eval_lfc.py"]
    assert "table1" in help_text["run_experiments.py"] and "fig3" in help_text["run_experiments.py"]
