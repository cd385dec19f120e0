"""Detector weights: the model zoo's checkpoint chosen when none is given (resolution only, no
download), zoo-format ``.pkl`` == ``.pth``, and weights that leave tensors uninitialised refused
(or, with ``--allow-partial-weights``, recorded); one-line errors for a failed download, a
``.pkl`` detectron2 does not read as its own, and a model that returns no ``instances``."""
import json
import pickle
from pathlib import Path

import pytest
import torch


import hfc_det.compat  # noqa: F401  (before any detectron2 import)
from detectron2 import model_zoo

from hfc_det.evaluation.command import EvalSettings, prepare_run
from hfc_det.evaluation.model_source import build_detector, eval_config
from hfc_det.evaluation.weights import WeightsError, load_detector_weights

FASTER = "zoo:COCO-Detection/faster_rcnn_R_50_FPN_1x"
TINY = ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96",
        "DATALOADER.NUM_WORKERS", "0", "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "MODEL.RPN.POST_NMS_TOPK_TEST", "30", "TEST.DETECTIONS_PER_IMAGE", "20"]
LAZY_FCOS = "zoo:COCO-Detection/fcos_R_50_FPN_1x"


def tiny_model(*extra, seed=0):
    cfg, _ = eval_config(FASTER, [*TINY, *extra])
    torch.manual_seed(seed)
    return build_detector(cfg).eval()


@pytest.fixture(scope="module")
def trained_state():
    """A state dict unlike the evaluation's own random initialisation (seed 7, not 0)."""
    return tiny_model(seed=7).state_dict()


def save_pth(path, state):
    torch.save({"model": state}, path)
    return str(path)


def save_pkl(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return str(path)


def zoo_format(state):
    return {"model": {k: v.numpy() for k, v in state.items()}, "__author__": "hfc_det tests", "matching_heuristics": True}


def run(tool, data, out, weights, *options):
    json_file, image_root = data
    argv = ["--config", FASTER, "--dataset-json", json_file, "--image-root", image_root, "--output", str(out),
            "--radius", "8", "--views", "original", "low", "--max-images", "2", "--no-progress",
            "--no-error-breakdown", *options, *TINY, "MODEL.WEIGHTS", weights]
    tool.main(tool.parse_args(argv))
    return json.loads((Path(out) / "summary.json").read_text())


def detections(out):
    return {v: json.loads((Path(out) / "detections" / f"{v}.json").read_text()) for v in ("original", "low_r8")}


# --- which weights: the zoo's checkpoint unless given (no download) ---------------------------

@pytest.mark.parametrize("name", ["zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x", "zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml"])
def test_zoo_name_takes_the_zoo_checkpoint_url(name):
    cfg, path = eval_config(name, ["MODEL.DEVICE", "cpu"])
    # the zoo's published checkpoint of this config (detectron2's MODEL_ZOO.md)
    assert cfg.MODEL.WEIGHTS == ("https://dl.fbaipublicfiles.com/detectron2/COCO-Detection/"
                                 "faster_rcnn_R_50_FPN_3x/137849458/model_final_280758.pkl")
    assert path == model_zoo.get_config_file("COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml")
    assert (cfg.HFC.CONFIG_SYSTEM, cfg.HFC.CONFIG_FILE) == ("yacs", "zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml")
    given, _ = eval_config(name, ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "mine.pth"])
    assert given.MODEL.WEIGHTS == "mine.pth"


def test_lazy_zoo_name_takes_the_zoo_checkpoint_url():
    name = "new_baselines/mask_rcnn_R_50_FPN_100ep_LSJ"
    cfg, path = eval_config("zoo:" + name, ["train.device=cpu"])
    assert cfg.HFC.CONFIG_SYSTEM == "lazy" and path.endswith(name + ".py")
    assert cfg.MODEL.WEIGHTS == model_zoo.get_checkpoint_url(name + ".py")
    assert cfg.MODEL.WEIGHTS.startswith("https://dl.fbaipublicfiles.com/detectron2/" + name + "/")
    given, _ = eval_config("zoo:" + name, ["train.device=cpu", "train.init_checkpoint=mine.pkl"])
    assert given.MODEL.WEIGHTS == "mine.pkl" and given.MODEL.DEVICE == "cpu"


def test_unknown_zoo_name_is_one_line_with_close_names():
    with pytest.raises(FileNotFoundError) as e:
        eval_config("zoo:COCO-Detection/faster_rcnn_R50_FPN_3x", [])
    assert "\n" not in str(e.value) and "zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x" in str(e.value)


@pytest.mark.parametrize("system,hint", [("yacs", "MODEL.WEIGHTS /path/to/model_final_0.pkl"),
                                         ("lazy", "train.init_checkpoint=/path/to/model_final_0.pkl")])
def test_failed_download_names_the_url_and_a_local_file(system, hint):
    url = "http://127.0.0.1:9/detectron2/model_final_0.pkl"  # nothing listens on port 9
    key = "MODEL.WEIGHTS " if system == "yacs" else "train.init_checkpoint="
    with pytest.raises(WeightsError) as e:
        load_detector_weights(tiny_model(), url, hint_key=key)
    assert "\n" not in str(e.value) and url in str(e.value) and hint in str(e.value)


# --- .pkl and .pth ----------------------------------------------------------------------------

def test_zoo_pkl_gives_the_detections_of_the_same_pth(tool, data, tmp_path, trained_state):
    pth = save_pth(tmp_path / "w.pth", trained_state)
    pkl = save_pkl(tmp_path / "w.pkl", zoo_format(trained_state))
    s_pth = run(tool, data, tmp_path / "pth", pth)
    s_pkl = run(tool, data, tmp_path / "pkl", pkl)
    run(tool, data, tmp_path / "random", "")
    assert detections(tmp_path / "pkl") == detections(tmp_path / "pth")
    assert detections(tmp_path / "pkl") != detections(tmp_path / "random")  # the weights were loaded
    assert s_pth["weights_check"] == {"file": pth, "uninitialised": [], "unused": [], "allowed_partial": False}
    assert s_pkl["variants"] == s_pth["variants"]


# --- weights that leave tensors uninitialised ------------------------------------------------

def test_half_the_keys_missing_is_refused_in_one_line(tool, data, tmp_path, trained_state, capsys):
    keys = sorted(trained_state)
    kept = {k: v for i, (k, v) in enumerate(sorted(trained_state.items())) if i % 2}
    missing = [k for k in trained_state if k not in kept]  # in the model's order
    path = save_pth(tmp_path / "half.pth", kept)
    json_file, image_root = data
    argv = ["--config", FASTER, "--dataset-json", json_file, "--image-root", image_root, "--output",
            str(tmp_path / "refused"), "--max-images", "1", "--no-progress", *TINY, "MODEL.WEIGHTS", path]
    with pytest.raises(SystemExit) as e:
        tool.cli(argv)
    err = str(e.value.code)  # exit_on_user_error: the one line Python prints, exit status 1
    assert err.startswith("error: ") and "\n" not in err
    assert f"leave {len(missing)} of the model's {len(keys)} tensors uninitialised" in err
    assert missing[0] in err and "--allow-partial-weights" in err
    # opted in: evaluated, and the keys recorded in summary.json and said on stderr
    summary = run(tool, data, tmp_path / "allowed", path, "--allow-partial-weights")
    check = summary["weights_check"]
    assert check["uninitialised"] == missing and check["allowed_partial"] is True
    assert "warning:" in capsys.readouterr().err


def test_another_class_count_and_another_architecture_are_refused(tmp_path, trained_state):
    path = save_pth(tmp_path / "coco80.pth", trained_state)
    with pytest.raises(WeightsError) as e:
        load_detector_weights(tiny_model("MODEL.ROI_HEADS.NUM_CLASSES", "3"), path)
    predictor = sorted(k for k in trained_state if k.startswith("roi_heads.box_predictor."))
    assert f"leave {len(predictor)} of the model's" in str(e.value) and "\n" not in str(e.value)
    cfg, _ = eval_config("zoo:COCO-Detection/retinanet_R_50_FPN_1x",
                         ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", "MODEL.RESNETS.DEPTH", "18",
                          "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"])
    with pytest.raises(WeightsError, match="uninitialised"):
        load_detector_weights(build_detector(cfg), path)
    # nothing of it fits: another architecture's weights altogether
    foreign = save_pth(tmp_path / "foreign.pth", {"classifier.weight": torch.zeros(10, 4)})
    with pytest.raises(WeightsError, match="no tensor of the weights"):
        load_detector_weights(tiny_model(), foreign)


def test_unused_keys_are_fine_and_recorded(tmp_path, trained_state):
    path = save_pth(tmp_path / "extra.pth", {**trained_state, "extra_head.weight": torch.zeros(3)})
    check = load_detector_weights(tiny_model(), path)
    assert check["uninitialised"] == [] and check["unused"] == ["extra_head.weight"]


def test_pkl_without_author_says_what_a_detectron2_pkl_holds(tmp_path, trained_state):
    no_author = save_pkl(tmp_path / "no_author.pkl", {"model": zoo_format(trained_state)["model"]})
    with pytest.raises(WeightsError) as e:
        load_detector_weights(tiny_model(), no_author)
    text = str(e.value)
    assert "\n" not in text and "no '__author__'" in text and "'matching_heuristics': True" in text


def test_plain_name_to_array_pkl_says_what_a_detectron2_pkl_holds(tmp_path, trained_state):
    """detectron2 reads a plain {name: array} .pkl as Caffe2 weights and renames them the
    Caffe2 way, so none of it reaches the model: refused, saying what a detectron2 .pkl holds."""
    plain = save_pkl(tmp_path / "plain.pkl", zoo_format(trained_state)["model"])
    with pytest.raises(WeightsError) as e:
        load_detector_weights(tiny_model(), plain)
    text = str(e.value)
    assert "\n" not in text and "no tensor of the weights" in text
    assert "without a 'model' entry" in text and "'__author__': ..." in text


# --- models and configs eval_lfc cannot use ---------------------------------------------------

def test_model_without_instances_is_one_line(tool, data, tmp_path, capsys):
    json_file, image_root = data
    argv = ["--config", "zoo:COCO-Detection/rpn_R_50_FPN_1x", "--dataset-json", json_file, "--image-root",
            image_root, "--output", str(tmp_path / "rpn"), "--max-images", "1", "--no-progress",
            "--radius", "8", *TINY[:14]]
    with pytest.raises(SystemExit) as e:
        tool.cli(argv)
    err = str(e.value.code)  # exit_on_user_error: the one line Python prints, exit status 1
    assert err.startswith("error: ") and "\n" not in err
    assert "ProposalNetwork" in err and "no 'instances'" in err and "proposals" in err


@pytest.mark.parametrize("overrides,message", [
    (["train.device"], "a LazyConfig takes key=value overrides"),
    (["train.device=cpu", "model.head.num_classes=3"], "class counts disagree: model.head.num_classes=3, model.num_classes=80"),
    # (the head's count follows the model's: ${..num_classes})
    (["train.device=cpu", "model.num_classes=3"], "set model.head.num_classes=80 model.num_classes=80"),
    (["train.device=cpu", "model.nonsense.deeper=1"], None),
    (["train.device=cpu", "dataloader.test.mapper.augmentations=[]", "HFC.AMP=True"], "CUDA only"),
])
def test_lazyconfig_mistakes_are_one_line(data, tmp_path, overrides, message):
    json_file, image_root = data
    settings = EvalSettings(config=LAZY_FCOS, overrides=("train.init_checkpoint=", *overrides),
                            dataset_json=json_file, image_root=image_root, output=str(tmp_path / "out"))
    if message is None:  # an override omegaconf accepts (a new key) that the model's class then refuses
        cfg = prepare_run(settings).cfg
        with pytest.raises(ValueError, match="cannot build the model of zoo:COCO-Detection/fcos_R_50_FPN_1x.py"):
            build_detector(cfg)
        return
    with pytest.raises(ValueError) as e:
        prepare_run(settings)
    assert "\n" not in str(e.value) and message in str(e.value)
