"""Detector input gradients: against a finite-difference directional derivative (float64),
batch-norm statistics untouched, and tools/gradient_spectrum.py --config on the fixture."""
import json

import numpy as np
import pytest
import torch

import hfc_det.compat  # noqa: F401
from detectron2.data import DatasetCatalog

from helpers.cifar_fixture import call_tool_main
from helpers.coco_fixture import make_coco_fixture
from helpers.eval_runs import FAST
from hfc_det.config import get_cfg
from hfc_det.data import resolve_dataset
from hfc_det.evaluation.gradients import _loss_mapper, detector_input_gradient, freeze_norm_layers, training_losses
from hfc_det.evaluation.run import build_eval_model

pytestmark = pytest.mark.usefixtures("one_thread")
TOOL = __import__("pathlib").Path(__file__).resolve().parents[2] / "tools" / "gradient_spectrum.py"
# BatchNorm in the backbone (the default R50 has FrozenBN), so that freezing it is tested.
BN = ["MODEL.RESNETS.NORM", "BN", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    json_file, image_root = make_coco_fixture(tmp_path_factory.mktemp("coco"))
    return json_file, image_root, resolve_dataset(json_file=json_file, image_root=image_root)


def test_gradient_is_the_directional_derivative_and_bn_is_untouched(data):
    cfg = get_cfg("retinanet_R50_FPN", FAST[:4] + BN)
    model = build_eval_model(cfg).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    freeze_norm_layers(model)
    mapped = _loss_mapper(cfg)(dict(DatasetCatalog.get(data[2])[0]))
    assert len(mapped["instances"]) > 0
    mapped["image"] = mapped["image"].double()
    x = mapped["image"].detach()
    grad, losses = detector_input_gradient(model, {**mapped, "image": x})
    assert grad.shape == x.shape and set(losses) == {"loss_cls", "loss_box_reg"}
    direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    assert not hasattr(model, "loss_normalizer")

    def loss(img):
        with torch.no_grad():
            return float(sum(training_losses(model, {**mapped, "image": img}).values()))

    # detectron2's focal loss keeps float32 parts, and ReLU kinks are near: a step of 0.01
    # pixel levels and a few percent (leaving out the box loss, ~10%, would fail).
    h = 1e-2
    fd = (loss(x + h * direction) - loss(x - h * direction)) / (2 * h)
    assert float((grad.double() * direction).sum()) == pytest.approx(fd, rel=4e-2)
    assert not hasattr(model, "loss_normalizer")  # RetinaNet's running normaliser left as it was
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k].to(before[k].dtype)) for k in before)  # running stats too


def test_tool_with_a_detector_config(data, tmp_path):
    json_file, image_root, _ = data
    out = tmp_path / "spec"
    code = call_tool_main(TOOL, "--config", "retinanet_R50_FPN", "--dataset-json", json_file, "--image-root",
                          image_root, "--max-images", "2", "--output", str(out), "--no-progress", *FAST[:4], *BN)
    assert code == 0
    stack = np.load(out / "spectrum.npy")
    record = json.loads((out / "spectrum.json").read_text())
    assert stack.shape[0] == 1 and record["images"] == 2 and record["labels"] == ["random-init"]
    assert record["loss"] == "detectron2 training losses" and (stack > 0).all()
    msg = call_tool_main(TOOL, "--config", "retinanet_R50_FPN", "--weights", str(tmp_path / "nope.pkl"),
                         "--output", str(out), "MODEL.DEVICE", "cpu")
    assert "weights file not found" in msg and "\n" not in msg
    if not torch.cuda.is_available():
        msg = call_tool_main(TOOL, "--config", "retinanet_R50_FPN", "--output", str(out))
        assert "add MODEL.DEVICE cpu" in msg
