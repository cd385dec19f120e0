"""CUDA paths against their CPU results (skipped without a CUDA device; run by
benchmarks/gpu_check.sh): evaluation on MODEL.DEVICE cuda, batched and with --amp, and a
few CIFAR training steps with --device cuda --amp."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

ROOT = Path(__file__).resolve().parent.parent
OPTS = ["MODEL.WEIGHTS", "", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "100", "DATALOADER.NUM_WORKERS", "0",
        "HFC.RADII", "[8]", "MODEL.RETINANET.SCORE_THRESH_TEST", "0.02"]


def _evaluate(name, device, images_per_batch=1, amp=False):
    from hfc_det.config import get_cfg, views_from_cfg
    from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator
    from hfc_det.evaluation.run import build_eval_model, build_views_loader, run_views_inference

    cfg = get_cfg("retinanet_R50_FPN", OPTS + ["MODEL.DEVICE", device])
    views = views_from_cfg(cfg)
    evaluator = FrequencyViewsEvaluator(name, views, distributed=False)
    run_views_inference(build_eval_model(cfg), build_views_loader(cfg, name), evaluator, views, progress=False,
                        images_per_batch=images_per_batch, amp=amp)
    return evaluator.result


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from helpers.coco_fixture import make_coco_fixture
    from hfc_det.data import resolve_dataset

    json_file, image_root = make_coco_fixture(tmp_path_factory.mktemp("gpu"))
    return resolve_dataset(json_file=json_file, image_root=image_root)


def test_eval_on_cuda_matches_cpu_batched_and_amp(dataset):
    cpu = _evaluate(dataset, "cpu")
    cuda = _evaluate(dataset, "cuda", images_per_batch=4)
    amp = _evaluate(dataset, "cuda", images_per_batch=4, amp=True)
    n_close = n_all = 0
    for v in cpu.views:
        for i in cpu.image_ids:
            a, b = cpu.detections[v][i], cuda.detections[v][i]
            n_all += len(a)
            if a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=0.05):
                n_close += len(a)
            assert np.isfinite(amp.detections[v][i]).all()
    assert n_all > 100 and n_close >= 0.95 * n_all, (n_close, n_all)  # cuDNN vs CPU kernels: rounding only
    for v in cpu.views:
        for m, want in cpu.metrics[v].items():
            got = cuda.metrics[v][m]
            assert (math.isnan(want) and math.isnan(got)) or abs(got - want) < 0.5, (v, m, got, want)


def test_train_cifar_cuda_amp_few_steps(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "train_cifar.py"), "--dataset", "digits", "--model",
                           "lenet", "--epochs", "1", "--batch-size", "64", "--device", "cuda", "--amp",
                           "--track-radii", "1", "2", "--output", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and math.isfinite(metrics["history"][0]["loss"])
