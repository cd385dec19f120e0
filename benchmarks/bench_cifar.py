#!/usr/bin/env python
"""CIFAR-10 training speed: an epoch with the tracking of 4 radii, and the data path
against a plain torchvision DataLoader.

Uses CIFAR-10-shaped synthetic data (no download). Measures, on --device:
  1. data only: images/s served by hfc_det's in-memory tensor batching vs torchvision's
     per-sample PIL -> ToTensor DataLoader (what torchvision's CIFAR10 dataset does);
  2. training step: images/s of one pass (forward, backward, Adam) fed by either path;
  3. one epoch as tools/train_cifar.py runs it (train + evaluation of the original, LFC and
     HFC at r = 4, 8, 12, 16 on --track-size training and test images), with the time for
     a full CIFAR-10 epoch (50000 train, 10000 + 10000 tracked) extrapolated when
     --train-size is smaller. Target on one H100-class GPU: <= 10 s.

Writes benchmarks/results/bench_cifar_<device>.json.
  python benchmarks/bench_cifar.py                      # CPU, small sizes
  python benchmarks/bench_cifar.py --device cuda --train-size 50000 --track-size 10000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import write_result  # noqa: E402
from hfc_det.classification.config import TrainConfig  # noqa: E402
from hfc_det.classification.data import tracked_views  # noqa: E402
from hfc_det.classification.models import build_model  # noqa: E402
from hfc_det.classification.training import RunData, evaluate_epoch, train_one_epoch  # noqa: E402
from hfc_det.cli.helpers import resolve_device  # noqa: E402


class PILDataset(torch.utils.data.Dataset):
    """What torchvision's CIFAR10 does per sample: uint8 HWC array -> PIL -> ToTensor."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray):
        import torchvision.transforms as T

        self.images, self.labels, self.to_tensor = images_hwc, labels, T.ToTensor()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        return self.to_tensor(Image.fromarray(self.images[i])), int(self.labels[i])


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rate(n_images: int, fn, device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return n_images / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--train-size", type=int, default=None, help="training images (default 50000 on CUDA, 500 on CPU)")
    p.add_argument("--track-size", type=int, default=None, help="tracked train and test images (default 10000 on CUDA, 200 on CPU)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    p.add_argument("--epoch-only", action="store_true",
                   help="only 3. (the epoch with 4 tracked radii): skip the data-path comparisons")
    p.add_argument("--output", help="result JSON path (default: benchmarks/results/bench_cifar_<device>.json)")
    args = p.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    gpu = device.type == "cuda"
    n_train = args.train_size or (50000 if gpu else 500)
    n_track = args.track_size or (10000 if gpu else 200)
    if gpu:
        torch.backends.cudnn.benchmark = True

    rng = np.random.default_rng(0)
    images_u8 = rng.integers(0, 256, size=(n_train, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_train)
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float().div(255)
    y = torch.from_numpy(labels)
    cfg = TrainConfig(model=args.model, batch_size=args.batch_size, device=str(device), epochs=1).validate()

    # 1. data only
    loader = torch.utils.data.DataLoader(PILDataset(images_u8, labels), batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=gpu)
    x_dev, y_dev = x.to(device), y.to(device)

    def tensor_batches(consume=lambda xb, yb: None):
        order = torch.randperm(n_train, device=device)
        for s in range(0, n_train, args.batch_size):
            idx = order[s:s + args.batch_size]
            consume(x_dev[idx], y_dev[idx])

    def tensor_batches_upto(consume, n):
        for s in range(0, min(n, n_train), args.batch_size):
            consume(x_dev[s:s + args.batch_size], y_dev[s:s + args.batch_size])

    def loader_batches(consume=lambda xb, yb: None):
        for xb, yb in loader:
            consume(xb.to(device, non_blocking=True), yb.to(device, non_blocking=True))

    data_tensor = data_loader = None
    if not args.epoch_only:
        data_tensor = _rate(n_train, tensor_batches, device)
        data_loader = _rate(n_train, loader_batches, device)

    # 2. training step fed by either path
    model = build_model(args.model, bn=cfg.bn).to(device)
    if gpu:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    from hfc_det.classification.evaluation import autocast_for

    def step(xb, yb):
        if gpu:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast_for(device):
            loss = torch.nn.functional.cross_entropy(model(xb).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if gpu:  # warm-up (cuDNN autotuning) on GPU only; 20 steps are enough when only the epoch is timed
        tensor_batches_upto(step, 20 * args.batch_size if args.epoch_only else n_train)
    train_tensor = train_loader = None
    if not args.epoch_only:
        train_tensor = _rate(n_train, lambda: tensor_batches(step), device)
        train_loader = _rate(n_train, lambda: loader_batches(step), device)

    # 3. one epoch as the trainer runs it, with 4 tracked radii
    t0 = time.perf_counter()
    views_train = tracked_views(x[:n_track], [4, 8, 12, 16], device)
    views_test = tracked_views(x[:n_track], [4, 8, 12, 16], device)
    _sync(device)
    t_views = time.perf_counter() - t0
    data = RunData(fit_x=x_dev, fit_y=y_dev, label_permutation=None, track_index=torch.arange(n_track),
                   train_views=views_train, test_views=views_test, test_y=y_dev[:n_track], num_classes=10, in_channels=3)
    _sync(device)
    t0 = time.perf_counter()
    train_one_epoch(model, opt, data, cfg, 1, device)
    _sync(device)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate_epoch(model, data, cfg, device)
    _sync(device)
    t_eval = time.perf_counter() - t0
    full_epoch = t_train * 50000 / n_train + t_eval * 10000 / n_track
    view_bytes = sum(v.numel() * v.element_size() for v in list(views_train.values()) + list(views_test.values()))

    write_result(f"bench_cifar_{device.type}", {
        "model": args.model, "batch_size": args.batch_size, "train_size": n_train, "track_size": n_track,
        "tracked_radii": [4, 8, 12, 16], "device": str(device),
        "data_only_images_per_s": None if args.epoch_only else {
            "hfc_det_tensors": round(data_tensor), "torchvision_dataloader": round(data_loader),
            "dataloader_workers": args.workers},
        "train_step_images_per_s": None if args.epoch_only else {
            "hfc_det_tensors": round(train_tensor, 1), "torchvision_dataloader": round(train_loader, 1)},
        "epoch_seconds_measured": {"train": round(t_train, 3), "track_eval_18_views": round(t_eval, 3),
                                   "compute_views_once": round(t_views, 3)},
        "full_cifar10_epoch_seconds_extrapolated": round(full_epoch, 2),
        "tracked_views_memory_MB": round(view_bytes / 2**20, 1),
        "tracked_views_memory_MB_at_10000": round(view_bytes / 2**20 * 10000 / n_track, 1),
        "target_full_epoch_seconds_on_h100_class_gpu": 10,
    }, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
