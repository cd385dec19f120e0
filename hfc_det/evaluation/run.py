"""The evaluation run behind ``tools/eval_lfc.py``: model, loader, views loop, outputs.

One pass over the dataset: each image is decoded and filtered once by
:class:`FrequencyDatasetMapper`, its views go through the model together as one batch,
and :class:`FrequencyViewsEvaluator` keeps the detections per view and per image. Works
under detectron2's ``launch``: the images still to do are sharded by detectron2's
``InferenceSampler`` (contiguous, near-equal shards, each image once), and the main process
gathers and evaluates.

Resumable (:mod:`.store`): with an output folder, each process saves its finished images
every ``save_every`` images; a re-run loads them, evaluates only the rest, and recomputes
the summaries from all of them.
"""
from __future__ import annotations

import logging
import platform
from typing import Dict, List, Optional

import torch
from tqdm import tqdm

import hfc_det
import hfc_det.compat  # noqa: F401  (before any detectron2 import)
import detectron2
from detectron2.data import DatasetCatalog, DatasetFromList, MapDataset, MetadataCatalog
from detectron2.data.build import trivial_batch_collator
from detectron2.data.samplers import InferenceSampler
from detectron2.utils import comm

from hfc_det.config import images_per_batch, views_from_cfg
from hfc_det.data.mapper import FrequencyDatasetMapper, model_inputs

from hfc_det.evaluation.batching import SameSizeBatcher, padded_size
from hfc_det.evaluation.evaluator import FrequencyViewsEvaluator, ViewsEvaluation
from hfc_det.evaluation.model_source import build_detector, model_num_classes, weights_override_hint
from hfc_det.evaluation.store import DetectionStore, init_seed, prepare_output, run_fingerprint
from hfc_det.evaluation.weights import WeightsError, load_detector_weights  # noqa: F401  (re-exported)

__all__ = ["WeightsError", "load_detector_weights", "check_num_classes", "build_eval_model", "build_views_loader", "run_views_inference",
           "evaluate_views", "run_metadata", "dataset_files"]

logger = logging.getLogger(__name__)


def check_num_classes(cfg, dataset_name: str) -> None:
    """Raise a one-line ``ValueError`` when the model's classes cannot be the dataset's.

    detectron2 maps the dataset's sorted category ids onto class indices 0..K-1, so a model
    trained on COCO's 80 classes only makes sense on a json with the same 80 categories.
    """
    DatasetCatalog.get(dataset_name)  # loading sets thing_classes
    classes = MetadataCatalog.get(dataset_name).get("thing_classes", None)
    known = model_num_classes(cfg)
    if classes is None or known is None:
        return
    key, num = known
    if num != len(classes):
        lazy = cfg.HFC.CONFIG_SYSTEM == "lazy"
        setting = " ".join(f"{k}={len(classes)}" for k in key.split(",")) if lazy else f"{key} {len(classes)}"
        raise ValueError(
            f"the model predicts {num} classes ({key}) but dataset {dataset_name!r} has "
            f"{len(classes)} categories: give a json with the model's categories (COCO's 80 for "
            f"the model zoo) or set {setting}"
        )


def build_eval_model(cfg) -> torch.nn.Module:
    """The detector of ``cfg`` (``build_model(cfg)``, or ``instantiate`` of a LazyConfig's
    model: :func:`~hfc_det.evaluation.model_source.build_detector`) in eval mode with
    ``cfg.MODEL.WEIGHTS`` loaded (none if empty; weights that leave tensors uninitialised are
    refused unless ``cfg.HFC.ALLOW_PARTIAL_WEIGHTS``; what was loaded is the model's
    ``hfc_weights_check``), its first convolution smoothed when ``cfg.HFC.SMOOTH_RHO > 0``.

    The initialisation is seeded (``cfg.SEED``, or 0 when negative), so a randomly
    initialised model is the same in every process and in every run: a resumed or
    distributed evaluation of ``MODEL.WEIGHTS ""`` means something.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(cfg))
        model = build_detector(cfg)
    model.eval()
    check = None
    if cfg.MODEL.WEIGHTS:
        check = load_detector_weights(model, cfg.MODEL.WEIGHTS, allow_partial=bool(cfg.HFC.ALLOW_PARTIAL_WEIGHTS),
                                      hint_key=weights_override_hint(cfg, ""))
    else:
        logger.warning("MODEL.WEIGHTS is empty: evaluating a randomly initialised model (seed %d)", init_seed(cfg))
    rho = float(cfg.HFC.SMOOTH_RHO)
    if rho > 0:
        from hfc_det.analysis.smoothing import first_conv, smooth_first_layer

        model = smooth_first_layer(model, rho)
        logger.info("smoothed the first convolution (%s) with rho %g", first_conv(model)[0], rho)
    model.hfc_weights_check = check
    return model


def _selected_dicts(dataset_name: str, max_images: Optional[int]):
    dicts = DatasetCatalog.get(dataset_name)
    return dicts if max_images is None else dicts[: max(0, int(max_images))]


def build_views_loader(cfg, dataset_name: str, max_images: Optional[int] = None, dicts=None):
    """A test loader over ``dicts`` or the first ``max_images`` of ``dataset_name``: what
    detectron2's ``build_detection_test_loader`` builds (``InferenceSampler``: this process's
    shard; one mapped image per item, as a list), with the views mapper and, on CUDA,
    pinned memory (the views' copy to the GPU is then a plain DMA)."""
    if dicts is None:
        dicts = _selected_dicts(dataset_name, max_images)
    dataset = MapDataset(DatasetFromList(dicts, copy=False), FrequencyDatasetMapper(cfg))
    return torch.utils.data.DataLoader(
        dataset, batch_size=1, sampler=InferenceSampler(len(dataset)), num_workers=cfg.DATALOADER.NUM_WORKERS,
        collate_fn=trivial_batch_collator, pin_memory=str(cfg.MODEL.DEVICE).startswith("cuda"),
    )


def _size_divisibility(model) -> int:
    """What the model pads each image to a multiple of (``ImageList.from_tensors``)."""
    return int(getattr(getattr(model, "backbone", None), "size_divisibility", 0) or 1)


def run_views_inference(model, data_loader, evaluator: FrequencyViewsEvaluator, views, progress: bool = True,
                        images_per_batch: int = 1, amp: bool = False):
    """Run ``model`` on every view of every image; returns ``evaluator.evaluate()``.

    The views of ``images_per_batch`` images of the same padded size go through the model
    as one batch (:mod:`.batching`: the detections are those of one image at a time).
    ``amp``: bf16 autocast on the model's CUDA device. On CUDA, ``cudnn.benchmark`` is on
    while it runs: same-size batches repeat the same few shapes, whose fastest kernels
    cuDNN then picks once.
    """
    evaluator.reset()
    total = len(data_loader) if hasattr(data_loader, "__len__") else None
    bar = tqdm(total=total, desc="images", unit="img", dynamic_ncols=True,
               disable=not (progress and comm.is_main_process()))
    d = _size_divisibility(model)

    def size(mapped):  # the views of an image share its (resized) size
        return padded_size(*next(iter(mapped["views"].values())).shape[-2:], d) if images_per_batch > 1 else None

    batcher = SameSizeBatcher(images_per_batch, key=size)
    device = torch.device(getattr(model, "device", "cpu"))  # detectron2's models say where they run
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(amp))

    def run(batch):
        flat = [inp for mapped in batch for inp in model_inputs(mapped, views)]
        with autocast:
            out = model(flat)
        _check_instances(model, out)
        n = len(views)
        evaluator.process(batch, [dict(zip(views, out[k * n:(k + 1) * n])) for k in range(len(batch))])
        bar.update(len(batch))

    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = benchmark or device.type == "cuda"
    try:
        with torch.no_grad():
            for inputs in data_loader:
                for mapped in inputs:
                    if "skipped" in mapped:
                        evaluator.process([mapped], [None])
                        bar.update(1)
                        continue
                    for batch in batcher.add(mapped):
                        run(batch)
            for batch in batcher.flush():
                run(batch)
    except KeyboardInterrupt:
        evaluator.save_finished()  # Ctrl-C keeps every finished image, not only the last chunk
        raise
    finally:
        torch.backends.cudnn.benchmark = benchmark
        bar.close()
    return evaluator.evaluate()


def _check_instances(model, outputs) -> None:
    """A one-line ``ValueError`` for a model whose outputs hold no ``instances`` (boxes)."""
    missing = [o for o in outputs if not isinstance(o, dict) or "instances" not in o]
    if missing:
        got = sorted(missing[0]) if isinstance(missing[0], dict) else type(missing[0]).__name__
        raise ValueError(f"the model ({type(model).__name__}) returns {got} but no 'instances': eval_lfc "
                         f"evaluates detectors whose outputs hold boxes")


def dataset_files(dataset_name: str):
    """``(json_file, image_root)`` of a registered COCO-format dataset."""
    meta = MetadataCatalog.get(dataset_name)
    return meta.json_file, meta.image_root


def _earlier_detections(store: DetectionStore, image_ids: List[int]):
    """Load what earlier runs finished, agree across processes on the images done, and
    keep in this process only the ones it owns (the lowest rank that could read them:
    every image is gathered once, and machines that do not share the folder still work)."""
    loaded = store.load(keep=image_ids)
    mine = set(next(iter(loaded.values()), {}))
    owner: Dict[int, int] = {}
    for rank, ids in enumerate(comm.all_gather(sorted(mine))):
        for i in ids:
            owner.setdefault(i, rank)
    rank = comm.get_rank()
    kept = {v: {i: d for i, d in dets.items() if owner[i] == rank} for v, dets in loaded.items()}
    return kept, set(owner)


def evaluate_views(cfg, dataset_name: str, max_images: Optional[int] = None, progress: bool = True,
                   model=None, output_dir: Optional[str] = None, save_every: int = 20,
                   fresh: bool = False, coco_backend: Optional[str] = None,
                   error_breakdown: bool = False) -> Optional[ViewsEvaluation]:
    """Evaluate every view ``cfg`` asks for on ``dataset_name`` (its first ``max_images``).

    With ``output_dir`` the run is resumable: the main process checks the folder's
    fingerprint (:func:`~hfc_det.evaluation.store.prepare_output`, ``fresh`` wipes it
    first), every process saves its finished images every ``save_every`` images, and images
    an earlier run of the same fingerprint finished are not evaluated again.
    ``error_breakdown`` adds TIDE's error breakdown per view (when tidecv is installed).
    Returns the :class:`ViewsEvaluation` on the main process, ``None`` on the others.
    Raises ``OutputMismatchError`` when the folder holds another run's detections.
    """
    views = views_from_cfg(cfg)
    dicts = _selected_dicts(dataset_name, max_images)
    store, earlier, done = None, {v: {} for v in views}, set()
    if output_dir is not None:
        if comm.is_main_process():
            prepare_output(output_dir, run_fingerprint(cfg, *dataset_files(dataset_name)), fresh=fresh)
        comm.synchronize()  # nobody reads or writes the folder before it is checked and cleaned
        store = DetectionStore(output_dir, views, save_every)
        earlier, done = _earlier_detections(store, [int(d["image_id"]) for d in dicts])
    todo = [d for d in dicts if int(d["image_id"]) not in done]
    if done:
        logger.info("resuming: %d of %d images were evaluated by an earlier run, %d to go",
                    len(done), len(dicts), len(todo))
    evaluator = FrequencyViewsEvaluator(dataset_name, views, distributed=comm.get_world_size() > 1,
                                        store=store, coco_backend=coco_backend,
                                        strict_score=float(cfg.HFC.STRICT_SCORE), error_breakdown=error_breakdown)
    evaluator.preload(earlier)
    loader = []
    if todo:  # (InferenceSampler refuses an empty dataset; with nothing to do, no model either)
        model = build_eval_model(cfg) if model is None else model
        loader = build_views_loader(cfg, dataset_name, dicts=todo)
    run_views_inference(model, loader, evaluator, views, progress=progress,
                        images_per_batch=images_per_batch(cfg), amp=bool(cfg.HFC.AMP))
    if not comm.is_main_process():
        return None
    evaluator.result.resumed_images = len(done)
    # what the weights left uninitialised or unused (None: no weights, or no model was needed)
    evaluator.result.weights_check = getattr(model, "hfc_weights_check", None)
    return evaluator.result


def _version(module_name: str) -> str:
    try:
        from importlib.metadata import version

        return version(module_name)
    except Exception:  # noqa: BLE001  a version we cannot read is reported, not fatal
        return "unknown"


def run_metadata(cfg, dataset_name: str, config_file: Optional[str] = None,
                 max_images: Optional[int] = None) -> Dict:
    """What summary.json records besides the results: dataset, views, settings, versions."""
    meta = MetadataCatalog.get(dataset_name)
    return {
        "dataset": {"name": dataset_name, "json_file": meta.get("json_file", None),
                    "image_root": meta.get("image_root", None)},
        "radii": [float(r) if not float(r).is_integer() else int(r) for r in cfg.HFC.RADII],
        "views": views_from_cfg(cfg),
        "filter_stage": cfg.HFC.FILTER_STAGE,
        "hfc_scaling": cfg.HFC.HFC_SCALING,
        "smooth_rho": float(cfg.HFC.SMOOTH_RHO),
        "strict_score": float(cfg.HFC.STRICT_SCORE),
        "config_file": config_file,
        "config_system": cfg.HFC.CONFIG_SYSTEM,
        "config_name": cfg.HFC.CONFIG_FILE,
        "lazy_overrides": list(cfg.HFC.LAZY_OVERRIDES),
        "weights": cfg.MODEL.WEIGHTS,
        "max_images": max_images,
        "input_size": {"min_size_test": cfg.INPUT.MIN_SIZE_TEST, "max_size_test": cfg.INPUT.MAX_SIZE_TEST,
                       "format": cfg.INPUT.FORMAT},
        "device": cfg.MODEL.DEVICE,
        "images_per_batch": images_per_batch(cfg),
        "amp": bool(cfg.HFC.AMP),
        "world_size": comm.get_world_size(),
        "versions": {
            "hfc_det": hfc_det.__version__,
            "detectron2": detectron2.__version__,
            "torch": torch.__version__,
            "torchvision": _version("torchvision"),
            "pycocotools": _version("pycocotools"),
            "faster_coco_eval": _version("faster-coco-eval"),
            "numpy": _version("numpy"),
            "python": platform.python_version(),
        },
        "config": cfg.dump(),
    }
