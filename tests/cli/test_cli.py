"""hfc_det.cli.helpers (the tools' one error-exit convention and device policy), the one detection
config entry (hfc_det.config.get_cfg) and the shared divide-by-max rescale."""
import argparse

import numpy as np
import pytest
import torch

from hfc_det.cli import helpers as cli
from hfc_det.views.frequency import rescale_by_max


def test_exit_on_user_error_is_one_line_and_nonzero(capsys):
    @cli.exit_on_user_error
    def bad_value():
        raise ValueError("--radius must be > 0, got -1")

    @cli.exit_on_user_error(also=(RuntimeError,))
    def failed_stage():
        raise RuntimeError("evaluate views failed (exit 1)")

    for fn, text in ((bad_value, "error: --radius must be > 0, got -1"),
                     (failed_stage, "error: evaluate views failed (exit 1)")):
        with pytest.raises(SystemExit) as exc:
            fn()
        assert exc.value.code == text  # sys.exit(str): printed on stderr, exit status 1


def test_exit_on_user_error_keeps_bugs_as_tracebacks():
    @cli.exit_on_user_error
    def bug():
        raise KeyError("a bug, not a user mistake")

    with pytest.raises(KeyError):
        bug()


@cli.user_errors_across_processes
def _worker_with_a_user_error(rank, failing_rank):
    if rank == failing_rank:
        raise cli.UserError(f"weights junk.pth of rank {rank}:\nnot a checkpoint")


@pytest.mark.parametrize("failing_rank", [0, 1])
def test_a_user_error_in_a_worker_process_is_one_line(failing_rank):
    """As with detectron2's launch on 2 GPUs: torch.multiprocessing.spawn hands the parent
    only the failing worker's traceback text; the parent still ends with its one line."""

    @cli.exit_on_user_error
    def parent():
        torch.multiprocessing.spawn(_worker_with_a_user_error, args=(failing_rank,), nprocs=2)

    with pytest.raises(SystemExit) as exc:
        parent()
    assert exc.value.code == f"error: weights junk.pth of rank {failing_rank}: not a checkpoint"


def test_a_user_error_in_one_process_passes_through_unchanged():
    with pytest.raises(cli.UserError, match="of rank 0:\nnot a checkpoint"):
        _worker_with_a_user_error(0, 0)


def test_a_bug_in_a_worker_process_keeps_its_traceback():
    @cli.exit_on_user_error
    def parent():
        torch.multiprocessing.spawn(_worker_with_a_bug, nprocs=2)

    with pytest.raises(Exception, match="KeyError"):
        parent()


@cli.user_errors_across_processes
def _worker_with_a_bug(rank):
    raise KeyError("a bug, not a user mistake")


def test_openmp_waiting_is_set_unless_the_user_set_it():
    env = {}
    cli.configure_openmp_waiting(env)
    assert env == {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "10000"}
    for mine in ({"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "0"}):
        env = dict(mine)
        cli.configure_openmp_waiting(env)
        assert env == mine  # the user's choice, untouched


def test_resolve_device_refuses_cuda_without_a_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.resolve_device(None) == torch.device("cpu")
    assert cli.resolve_device("auto") == torch.device("cpu")
    assert cli.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(cli.UserError, match="no CUDA device"):
        cli.resolve_device("cuda")
    with pytest.raises(cli.UserError, match="bad --device"):
        cli.resolve_device("no-such-device")


def test_drop_options_removes_them_from_help_and_parsing():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--keep", action="store_true")
    cli.drop_options(parser, ("resume", "eval_only"))
    text = parser.format_help()
    assert "--keep" in text and "--resume" not in text and "--eval-only" not in text
    assert parser.parse_args(["--keep"]).keep
    with pytest.raises(SystemExit):
        parser.parse_args(["--resume"])


def test_rescale_by_max_matches_the_authors_formula():
    """img / img.max() * 255 per image (numpy), and images with max <= 0 left as they are."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 5, 6)).astype(np.float32)
    x[2] = -np.abs(x[2])  # max < 0: unchanged
    x[3] = 0.0  # constant: unchanged
    want = np.stack([img / img.max() * 255.0 if img.max() > 0 else img for img in x])
    got = rescale_by_max(torch.from_numpy(x), peak_value=255.0, eps=0.0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(got[2:], x[2:])


def test_get_cfg_has_both_key_sets_and_one_line_errors():
    pytest.importorskip("detectron2")
    from hfc_det.config import check_device, get_cfg, num_classes

    cfg = get_cfg("demo/retinanet_R18_FPN_shapes", ["SHAPES.NUM_VAL", "3", "HFC.RADII", "[8]"])
    assert cfg.SHAPES.NUM_VAL == 3 and list(cfg.HFC.RADII) == [8]
    assert num_classes(cfg) == ("MODEL.RETINANET.NUM_CLASSES", cfg.MODEL.RETINANET.NUM_CLASSES)
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    assert num_classes(cfg) == ("MODEL.ROI_HEADS.NUM_CLASSES", cfg.MODEL.ROI_HEADS.NUM_CLASSES)
    for opts, text in ((["NO.SUCH_KEY", "1"], "bad config override: Non-existent key: NO.SUCH_KEY"),
                       (["HFC.RADII"], "bad config override")):
        with pytest.raises(ValueError) as exc:
            get_cfg("retinanet_R50_FPN", opts)
        assert text in str(exc.value) and "\n" not in str(exc.value)
    if not torch.cuda.is_available():
        cfg.MODEL.DEVICE = "cuda"
        with pytest.raises(ValueError, match="MODEL.DEVICE cpu"):
            check_device(cfg)
