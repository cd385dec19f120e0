"""A few RetinaNet iterations on tiny synthetic images lower the loss; the cache works."""
import json
import os

import pytest

detectron2 = pytest.importorskip("detectron2")

from hfc_det.config import get_cfg  # noqa: E402
from hfc_det.engine.training import config_hash, train_cached  # noqa: E402

TINY = [
    "SHAPES.NUM_TRAIN", 16, "SHAPES.NUM_VAL", 4, "SHAPES.NUM_CONFLICT", 2, "SHAPES.IMAGE_SIZE", 64,
    "SHAPES.MIN_SIZE", 14.0, "SHAPES.MAX_SIZE", 30.0, "SHAPES.MAX_OBJECTS", 2,
    "INPUT.MIN_SIZE_TRAIN", (64,), "INPUT.MAX_SIZE_TRAIN", 64,
    "INPUT.MIN_SIZE_TEST", 64, "INPUT.MAX_SIZE_TEST", 64,
    "SOLVER.IMS_PER_BATCH", 4, "SOLVER.BASE_LR", 0.02, "SOLVER.WARMUP_ITERS", 5,
    "SOLVER.MAX_ITER", 60, "SOLVER.STEPS", (), "DATALOADER.NUM_WORKERS", 0,
    "MODEL.DEVICE", "cpu", "SEED", 1,
]


def _tiny_cfg(tmp_path, *extra):
    opts = [str(v) if not isinstance(v, str) else v for v in TINY + list(extra)]
    cfg = get_cfg("demo/retinanet_R18_FPN_shapes", opts)
    cfg.SHAPES.ROOT = str(tmp_path / "shapes")
    return cfg


def test_training_lowers_the_loss_and_is_cached(tmp_path, one_thread):
    cfg = _tiny_cfg(tmp_path)
    root = str(tmp_path / "models")
    result = train_cached(cfg, root)
    assert not result["cached"]
    assert os.path.isfile(result["weights"])
    assert os.path.basename(result["model_dir"]) == f"model_{config_hash(cfg)}"
    # detectron2's JSONWriter logs the median of each 20-iteration window.
    with open(os.path.join(result["model_dir"], "metrics.json")) as f:
        rows = [json.loads(line) for line in f if "total_loss" in line]
    first, last = rows[0]["total_loss"], rows[-1]["total_loss"]
    print("total_loss per 20-iteration window:", [round(r["total_loss"], 3) for r in rows])
    assert rows[-1]["iteration"] == 59
    assert last < 0.8 * first, (first, last)
    assert set(result["metrics"]["bbox"]) >= {"AP", "AP50"}
    assert [n for n in os.listdir(root) if n.startswith(".")] == []  # no temporary folder left

    again = train_cached(_tiny_cfg(tmp_path), root)
    assert again["cached"] and again["weights"] == result["weights"]


def test_config_hash_ignores_paths_but_not_training_keys(tmp_path):
    a = _tiny_cfg(tmp_path)
    b = _tiny_cfg(tmp_path, "OUTPUT_DIR", "/elsewhere", "HFC.RADII", "[8]")
    b.SHAPES.ROOT = "/another/cache"
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(_tiny_cfg(tmp_path, "SOLVER.BASE_LR", "0.05"))
    assert config_hash(a) != config_hash(_tiny_cfg(tmp_path, "SHAPES.TEXTURE_CORRELATION", "0.0"))


def test_config_hash_follows_the_generator_version(tmp_path, monkeypatch):
    # A model trained on images that older drawing code made must not be reused.
    import hfc_det.data.shapes as shapes

    before = config_hash(_tiny_cfg(tmp_path))
    monkeypatch.setattr(shapes, "GENERATOR_VERSION", shapes.GENERATOR_VERSION + 1)
    assert config_hash(_tiny_cfg(tmp_path)) != before


def _train_in_process(shapes_root, root, barrier, results):
    import torch

    torch.set_num_threads(1)
    cfg = get_cfg("demo/retinanet_R18_FPN_shapes", [str(v) if not isinstance(v, str) else v
                                                    for v in TINY + ["SOLVER.MAX_ITER", 8]])
    cfg.SHAPES.ROOT = shapes_root
    barrier.wait()  # both look for the cached model at the same moment
    results.put(train_cached(cfg, root, evaluate=False)["cached"])


def test_two_runs_sharing_a_cache_train_the_model_once(tmp_path):
    """Two texture experiments (or a demo beside one) on one --cache: without the lock both
    would train, and the second rename would pull the folder from under the first."""
    import multiprocessing as mp

    from hfc_det.data.shapes import make_shapes_dataset
    from hfc_det.engine.training import shapes_spec_from_cfg

    cfg = _tiny_cfg(tmp_path)
    make_shapes_dataset(shapes_spec_from_cfg(cfg), cfg.SHAPES.ROOT)  # the data first: only the model races
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    root = str(tmp_path / "models")
    procs = [ctx.Process(target=_train_in_process, args=(cfg.SHAPES.ROOT, root, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    cached = sorted(results.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(60)
    assert cached == [False, True]  # one trained, the other waited and found it
    assert sorted(os.listdir(root)) == [f"model_{config_hash(_tiny_cfg(tmp_path, 'SOLVER.MAX_ITER', 8))}"]
