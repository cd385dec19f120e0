"""The classification tools' torch-free modules: what their parsers and argument checks
need (:mod:`hfc_det.classification.catalog`, ``.tool_options``, ``.errors``) loads without
torch, and agrees with the torch-side modules that re-export it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIGHT_MODULES = [
    "hfc_det.classification",
    "hfc_det.classification.catalog",
    "hfc_det.classification.tool_options",
    "hfc_det.classification.errors",
]


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_module_imports_without_torch(module):
    probe = (f"import importlib, json, sys; importlib.import_module({module!r}); "
             "print(json.dumps([m for m in ('torch', 'matplotlib') if m in sys.modules]))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_model_names_are_the_builders():
    from hfc_det.classification import catalog, models

    assert tuple(models._BUILDERS) == catalog.MODEL_NAMES
    assert models.MODEL_NAMES is catalog.MODEL_NAMES


def test_torch_side_modules_reexport_the_same_objects():
    from hfc_det import classification
    from hfc_det.classification import catalog, data, errors, experiments, tool_options, tool_support, training

    for name in ("DatasetInfo", "DATASETS", "dataset_info"):
        assert getattr(data, name) is getattr(catalog, name)
    assert experiments.SUITES_DIR is catalog.SUITES_DIR and experiments.list_suites is catalog.list_suites
    assert training.TrainingError is errors.TrainingError
    for name in tool_options.__all__:
        assert getattr(tool_support, name) is getattr(tool_options, name)
    assert classification.DATASETS is catalog.DATASETS and classification.MODEL_NAMES is catalog.MODEL_NAMES
    assert set(classification.__all__) <= set(dir(classification))


def test_dataset_info_names_the_choices():
    from hfc_det.classification.catalog import dataset_info

    assert dataset_info("digits").size == 8
    with pytest.raises(ValueError, match="cifar10, mnist, fashionmnist, digits"):
        dataset_info("imagenet")
