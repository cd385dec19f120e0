"""Fixtures of the detector tests (test_model_zoo.py, test_detector_weights.py)."""
import pytest

from helpers.coco_fixture import make_coco_fixture
from helpers.eval_runs import load_tool


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The COCO fixture ``(json_file, image_root)``, once per module."""
    return make_coco_fixture(tmp_path_factory.mktemp("detector_fixture"))


@pytest.fixture(scope="module")
def tool():
    """tools/eval_lfc.py as a module (its ``main``, ``cli``, ``parse_args``), run in this process."""
    return load_tool("eval_lfc_in_process")
