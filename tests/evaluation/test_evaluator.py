"""FrequencyViewsEvaluator against detectron2's COCOEvaluator and pycocotools, and its gather."""
import contextlib
import io
import math
import pickle

import numpy as np
import pytest
import torch

import hfc_det.compat  # noqa: F401
from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import COCOEvaluator
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.structures import Boxes, Instances
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from helpers.coco_fixture import make_coco_fixture
from hfc_det.config import get_cfg as get_hfc_cfg
from hfc_det.data import resolve_dataset
from hfc_det.evaluation import FrequencyViewsEvaluator, compare_to_original, evaluate_detections
from hfc_det.evaluation.evaluator import instances_to_array

VIEWS = ["original", "low_r8"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    json_file, image_root = make_coco_fixture(tmp_path_factory.mktemp("coco"))
    return resolve_dataset(json_file=json_file, image_root=image_root)


def fake_predictions(dataset_name, seed):
    """Per image: each ground-truth box jittered (sometimes to the wrong class) plus false
    positives, with random scores, as detectron2 Instances in contiguous class ids."""
    rng = np.random.default_rng(seed)
    dicts = DatasetCatalog.get(dataset_name)  # detectron2 dicts: category_id already contiguous
    inputs, outputs = [], []
    for d in dicts:
        boxes, classes = [], []
        for a in d["annotations"]:
            x, y, w, h = a["bbox"]
            j = rng.normal(0, 0.15, 4) * [w, h, w, h]
            boxes.append([x + j[0], y + j[1], x + w + j[2], y + h + j[3]])
            classes.append(a["category_id"] if rng.random() < 0.8 else int(rng.integers(80)))
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, [d["width"] * 0.7, d["height"] * 0.7])
            boxes.append([x, y, x + rng.uniform(5, d["width"] * 0.3), y + rng.uniform(5, d["height"] * 0.3)])
            classes.append(int(rng.integers(80)))
        inst = Instances((d["height"], d["width"]))
        inst.pred_boxes = Boxes(torch.tensor(np.reshape(boxes, (-1, 4)), dtype=torch.float32))
        inst.scores = torch.tensor(rng.random(len(boxes)), dtype=torch.float32)
        inst.pred_classes = torch.tensor(classes, dtype=torch.int64)
        inputs.append({"image_id": d["image_id"], "file_name": d["file_name"]})
        outputs.append(inst)
    return inputs, outputs


def view_outputs(dataset_name):
    inputs, original = fake_predictions(dataset_name, seed=1)
    _, low = fake_predictions(dataset_name, seed=2)
    return inputs, [{"original": {"instances": a}, "low_r8": {"instances": b}} for a, b in zip(original, low)]


def evaluate_once(dataset_name):
    inputs, outputs = view_outputs(dataset_name)
    ev = FrequencyViewsEvaluator(dataset_name, VIEWS, distributed=False)
    ev.reset()
    ev.process(inputs, outputs)
    return ev.evaluate(), ev.result


def test_overall_ap_equals_detectron2_coco_evaluator(dataset):
    inputs, outputs = view_outputs(dataset)
    metrics, result = evaluate_once(dataset)
    for view in VIEWS:
        d2 = COCOEvaluator(dataset, tasks=("bbox",), distributed=False, use_fast_impl=False)
        d2.reset()
        d2.process(inputs, [o[view] for o in outputs])
        with contextlib.redirect_stdout(io.StringIO()):
            want = d2.evaluate()["bbox"]
        for m in ("AP", "AP50", "AP75", "APs", "APm", "APl"):
            got = metrics[view][m]
            assert (math.isnan(got) and math.isnan(want[m])) or abs(got - want[m]) < 1e-9, (view, m, got, want[m])
        assert 5 < metrics[view]["AP"] < 95  # a real test: neither empty nor perfect


def test_per_image_ap_equals_per_image_cocoeval(dataset):
    _, result = evaluate_once(dataset)
    coco_gt = COCO(MetadataCatalog.get(dataset).json_file)
    for view in VIEWS:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(result.coco_results(view))
        for image_id in result.image_ids:
            e = COCOeval(coco_gt, coco_dt, "bbox")
            e.params.imgIds = [image_id]
            with contextlib.redirect_stdout(io.StringIO()):
                e.evaluate(), e.accumulate(), e.summarize()
            got = result.per_image_ap[view][image_id]
            assert (e.stats[0] == -1 and math.isnan(got)) or abs(got - e.stats[0]) < 1e-9
    counts = result.counts("low_r8")
    assert sum(counts.values()) == len(result.image_ids) and counts["undefined"] == 1  # rocket: no GT


def test_results_are_detectron2_coco_json(dataset):
    inputs, outputs = view_outputs(dataset)
    to_dataset = {v: k for k, v in MetadataCatalog.get(dataset).thing_dataset_id_to_contiguous_id.items()}
    for inp, out in zip(inputs, outputs):
        inst = out["original"]["instances"]
        want = instances_to_coco_json(inst, inp["image_id"])
        for r in want:
            r["category_id"] = to_dataset[r["category_id"]]
        arr = instances_to_array(inst, to_dataset)
        got = [{"image_id": inp["image_id"], "category_id": int(a[5]), "bbox": list(a[:4]), "score": a[4]} for a in arr]
        assert got == want


def test_compare_to_original():
    per_image = {"original": {1: 0.5, 2: 0.5, 3: 0.5, 4: float("nan"), 5: 0.2},
                 "low_r8": {1: 0.6, 2: 0.4, 3: 0.5, 4: 0.3, 5: float("nan")}}
    assert compare_to_original(per_image, "low_r8") == {1: "gain", 2: "loss", 3: "tie", 4: "undefined", 5: "undefined"}


def test_view_without_detections_and_file_without_annotations(dataset, tmp_path):
    coco_gt = COCO(MetadataCatalog.get(dataset).json_file)
    ids = sorted(coco_gt.getImgIds())
    box = np.array([[20.0, 15.0, 345.0, 497.0, 0.9, 1]])
    ev = evaluate_detections(coco_gt, {"original": {101: box}, "low_r8": {}}, ids)
    assert ev.metrics["low_r8"]["AP"] == 0.0 and ev.per_image_ap["low_r8"][101] == 0.0
    assert ev.outcomes["low_r8"][101] == "loss"
    json_file, image_root = make_coco_fixture(tmp_path, annotations=False)
    with contextlib.redirect_stdout(io.StringIO()):
        empty = COCO(json_file)
    ev = evaluate_detections(empty, {"original": {101: box}, "low_r8": {101: box}}, ids)
    assert all(math.isnan(v) for v in ev.metrics["original"].values())
    assert all(math.isnan(v) for v in ev.per_image_ap["original"].values())
    assert ev.counts("low_r8") == {"gain": 0, "loss": 0, "tie": 0, "undefined": len(ids)}


def _gather_worker(rank, world_size, init_file, json_file, image_root, out_file):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    name = resolve_dataset(json_file=json_file, image_root=image_root)
    inputs, outputs = view_outputs(name)
    ev = FrequencyViewsEvaluator(name, VIEWS, distributed=True)
    ev.reset()
    # each process sees its own shard, like detectron2's InferenceSampler gives it
    ev.process(inputs[rank::world_size], outputs[rank::world_size])
    metrics = ev.evaluate()
    if rank == 0:
        with open(out_file, "wb") as f:
            pickle.dump((metrics, ev.result.per_image_ap, ev.result.coco_results("low_r8")), f)
    else:
        assert metrics == {} and ev.result is None
    dist.destroy_process_group()


@pytest.mark.slow  # tests/test_distributed_eval.py gathers across two processes by default
def test_gather_over_two_processes_equals_one(dataset, tmp_path):
    meta = MetadataCatalog.get(dataset)
    out_file = tmp_path / "rank0.pkl"
    torch.multiprocessing.spawn(
        _gather_worker, args=(2, str(tmp_path / "init"), meta.json_file, meta.image_root, str(out_file)), nprocs=2
    )
    metrics, per_image, results = pickle.loads(out_file.read_bytes())
    want_metrics, want = evaluate_once(dataset)
    assert metrics == want_metrics
    assert per_image.keys() == want.per_image_ap.keys()
    for v in VIEWS:
        np.testing.assert_array_equal(list(per_image[v].values()), list(want.per_image_ap[v].values()))
    assert results == want.coco_results("low_r8")


def test_config_is_the_model_zoo_retinanet():
    ours = get_hfc_cfg("retinanet_R50_FPN")
    zoo = get_cfg()
    zoo.merge_from_file(model_zoo.get_config_file("COCO-Detection/retinanet_R_50_FPN_3x.yaml"))

    def flat(node, prefix=""):
        out = {}
        for k, v in node.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
        return out

    a, b = flat(ours), flat(zoo)
    differ = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    # the synthetic-data keys (one config entry holds them too) are the project's own: not in the zoo's
    shapes = {k for k in differ if k.startswith("SHAPES.")}
    assert shapes == {k for k in a if k.startswith("SHAPES.")} and not shapes & set(b)
    # so are the HFC keys: every one of them, and nothing else of detectron2's, besides the weights
    hfc = {k for k in differ if k.startswith("HFC.")}
    assert hfc == {k for k in a if k.startswith("HFC.")} and not hfc & set(b)
    assert {"HFC.RADII", "HFC.VIEWS", "HFC.FILTER_STAGE", "HFC.STRICT_SCORE"} <= hfc
    assert differ - shapes - hfc == {"MODEL.WEIGHTS"}
    assert ours.MODEL.WEIGHTS.endswith("retinanet_R_50_FPN_3x/190397829/model_final_5bd44e.pkl")


def test_smooth_rho_smooths_the_stem_the_evaluation_uses():
    """HFC.SMOOTH_RHO > 0: RetinaNet's stem kernels are the loaded ones convolved with Eq. 3's
    mask (scipy, mirrored borders, as the authors); 0 leaves every weight alone."""
    from scipy.signal import convolve2d

    from hfc_det.evaluation.run import build_eval_model

    stem = "backbone.bottom_up.stem.conv1.weight"
    opts = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"]
    plain = build_eval_model(get_hfc_cfg("retinanet_R50_FPN", opts)).state_dict()
    same = build_eval_model(get_hfc_cfg("retinanet_R50_FPN", opts + ["HFC.SMOOTH_RHO", 0.0])).state_dict()
    rho = 0.5
    smoothed = build_eval_model(get_hfc_cfg("retinanet_R50_FPN", opts + ["HFC.SMOOTH_RHO", rho])).state_dict()
    for k in plain:
        assert torch.equal(plain[k], same[k]), k  # and the seeded random init is reproducible
        if k != stem:
            assert torch.equal(plain[k], smoothed[k]), k
    mask = np.full((3, 3), rho)
    mask[1, 1] = 1.0
    w = plain[stem].double().numpy()
    want = np.stack([[convolve2d(w[o, i], mask, mode="same", boundary="symm") for i in range(w.shape[1])]
                     for o in range(w.shape[0])])
    np.testing.assert_allclose(smoothed[stem].double().numpy(), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(want, w)
    with pytest.raises(ValueError, match="SMOOTH_RHO"):
        get_hfc_cfg("retinanet_R50_FPN", opts + ["HFC.SMOOTH_RHO", -1.0])


def test_faster_coco_eval_backend_in_the_evaluator(dataset):
    """--coco-backend faster-coco-eval gives the evaluator's pycocotools results exactly."""
    pytest.importorskip("faster_coco_eval")
    inputs, outputs = view_outputs(dataset)
    results = {}
    for backend in ("pycocotools", "faster-coco-eval"):
        ev = FrequencyViewsEvaluator(dataset, VIEWS, distributed=False, coco_backend=backend)
        ev.process(inputs, outputs)
        ev.evaluate()
        results[backend] = ev.result
    a, b = results["pycocotools"], results["faster-coco-eval"]
    for v in VIEWS:
        for m, want in a.metrics[v].items():
            got = b.metrics[v][m]
            assert (math.isnan(got) and math.isnan(want)) or abs(got - want) < 1e-9, (v, m, got, want)
        np.testing.assert_allclose(list(b.per_image_ap[v].values()), list(a.per_image_ap[v].values()), rtol=0, atol=1e-12)
        assert a.outcomes.get(v) == b.outcomes.get(v)
