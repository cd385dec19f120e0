"""detectron2 v0.6 next to today's Pillow/setuptools, with or without its compiled ops."""
import subprocess
import sys

import pytest

import hfc_det.compat as compat

pytest.importorskip("detectron2")


def test_pillow_linear_alias():
    from PIL import Image

    assert Image.LINEAR == Image.BILINEAR
    import detectron2.data.transforms as T  # used LINEAR as a default argument

    assert T.ExtentTransform.__init__.__defaults__[0] == Image.BILINEAR


def test_model_zoo_config_files_resolve():
    import os

    from detectron2 import model_zoo

    path = model_zoo.get_config_file("COCO-Detection/retinanet_R_50_FPN_3x.yaml")
    assert os.path.isfile(path)


def test_missing_ops_fail_with_a_clear_message():
    from detectron2 import _C

    if compat.HAS_COMPILED_OPS:
        pytest.skip("detectron2 was built with its compiled ops")
    with pytest.raises(RuntimeError, match="without its compiled ops.*nms_rotated"):
        _C.nms_rotated
    assert not hasattr(_C, "deform_conv_forward")
    from detectron2.layers import nms_rotated

    import torch

    with pytest.raises(compat.MissingCompiledOpsError):
        nms_rotated(torch.zeros(1, 5), torch.ones(1), 0.5)


def test_evaluation_and_modeling_import_and_collect_env_works():
    code = (
        "import hfc_det.compat, detectron2.evaluation, detectron2.modeling;"
        "from detectron2.utils.collect_env import collect_env_info; print(collect_env_info())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "detectron2" in proc.stdout


def test_patch_is_idempotent():
    before = compat.HAS_COMPILED_OPS
    assert compat.patch() == before
    assert compat.patch() == before


def test_a_deprecated_pkg_resources_imports_without_its_warning(tmp_path):
    """setuptools < 82 (what torch 2.11 requires) still has pkg_resources and warns on its import;
    compat imports it quietly, so a tool's error stays one line. A stand-in that warns as
    setuptools 81 does, first on the path, with warnings turned into errors."""
    (tmp_path / "pkg_resources.py").write_text(
        "import warnings\nwarnings.warn('pkg_resources is deprecated as an API. See https://x', UserWarning, "
        "stacklevel=2)\ndef resource_filename(p, r):\n    return 'real'\n")
    code = "import sys, hfc_det.compat; print(sys.modules['pkg_resources'].resource_filename('x', 'y'))"
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{compat.__file__.rsplit('/hfc_det/', 1)[0]}"}
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "real" and "deprecated" not in proc.stderr, proc.stderr
