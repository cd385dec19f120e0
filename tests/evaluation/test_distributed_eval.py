"""Distributed evaluation: two CPU processes over gloo run tools/eval_lfc.py's own ``main``
(what detectron2's ``launch`` calls in each process; ``launch`` itself insists on GPUs for
more than one process, so the test sets the process group up as ``launch`` does) and end
with exactly the outputs of a one-process run. Each process evaluates the shard detectron2's
InferenceSampler gives it, and a resumed two-process run picks up a one-process run's work."""
import json

import numpy as np
import pytest
import torch

import hfc_det.compat  # noqa: F401
from detectron2.data.samplers import InferenceSampler

from helpers.eval_runs import ENV, comparable_outputs, fixture_and_reference, load_tool, tool_args


def _worker(rank, world_size, init_file, argv):
    # the same threads as the one-process run: CPU convolutions' rounding depends on them
    torch.set_num_threads(int(ENV["OMP_NUM_THREADS"]))
    import torch.distributed as dist
    from detectron2.utils import comm

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    comm._LOCAL_PROCESS_GROUP = dist.new_group(list(range(world_size)))  # as launch() sets it up
    comm.synchronize()
    tool = load_tool("eval_lfc_tool_dist")
    tool.main(tool.parse_args(argv))
    dist.destroy_process_group()


def run_two_processes(argv, tmp_path, monkeypatch):
    for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS"):  # read by the spawned interpreters' OpenMP
        monkeypatch.setenv(k, ENV[k])
    torch.multiprocessing.spawn(_worker, args=(2, str(tmp_path / "pg_init"), argv), nprocs=2)


def chunks_by_process(out):
    """``{process token: [image ids]}`` from the detection chunks each process wrote."""
    by_token = {}
    for p in sorted((out / "partial").glob("dets-*.npz")):
        with np.load(p) as z:
            by_token.setdefault(p.name.split("-")[1], []).extend(z["image_ids"].tolist())
    return by_token


def inference_shards(data, done=()):
    """The readable images each of two processes must evaluate: detectron2's InferenceSampler
    shards of the fixture's images not ``done`` (the corrupt image is read by no one)."""
    from detectron2.data import DatasetCatalog
    from hfc_det.data import resolve_dataset

    dicts = [d for d in DatasetCatalog.get(resolve_dataset(json_file=data[0], image_root=data[1]))
             if d["image_id"] not in set(done)]
    shards = [[dicts[k] for k in InferenceSampler._get_local_indices(len(dicts), 2, r)] for r in range(2)]
    return sorted((sorted(d["image_id"] for d in s if not d["file_name"].endswith("corrupt.jpg")) for s in shards),
                  key=lambda ids: ids[:1])


def test_two_processes_resume_a_one_process_run(tmp_path_factory, tmp_path, monkeypatch):
    """Half of a one-process run's chunks in the folder: two processes shard the other
    images as detectron2's InferenceSampler does, and the outputs are the one-process run's."""
    data, reference = fixture_and_reference(tmp_path_factory)
    out = tmp_path / "resumed"
    (out / "partial").mkdir(parents=True)
    (out / "run_fingerprint.json").write_bytes((reference / "run_fingerprint.json").read_bytes())
    chunks = sorted((reference / "partial").glob("*.npz"))
    for p in chunks[: len(chunks) // 2]:
        (out / "partial" / p.name).write_bytes(p.read_bytes())
    (token_before, done), = chunks_by_process(out).items()
    run_two_processes(tool_args(data, out, "--save-every", 2), tmp_path, monkeypatch)
    assert comparable_outputs(out) == comparable_outputs(reference)
    assert json.loads((out / "summary.json").read_text())["resumed_images"] == len(done) > 0
    new = {t: sorted(ids) for t, ids in chunks_by_process(out).items() if t != token_before}
    assert sorted(new.values(), key=lambda ids: ids[:1]) == inference_shards(data, done)


def test_bad_weights_found_by_two_processes_is_one_line(tmp_path, monkeypatch, capfd):
    """Weights that are not a checkpoint, found inside the worker processes (as with
    ``--num-gpus 2``): the tool ends with the first worker's one line, no traceback."""
    from helpers.coco_fixture import make_coco_fixture
    from hfc_det.cli.helpers import exit_on_user_error

    data = make_coco_fixture(tmp_path / "data")
    weights = tmp_path / "junk.pth"
    weights.write_bytes(bytes(range(256)) * 4)
    argv = tool_args(data, tmp_path / "o", "--max-images", "2") + ["MODEL.WEIGHTS", str(weights)]
    with pytest.raises(SystemExit) as exc:
        exit_on_user_error(run_two_processes)(argv, tmp_path, monkeypatch)
    message = str(exc.value.code)
    assert message.startswith(f"error: cannot load weights {weights}: not a detectron2 or PyTorch checkpoint")
    assert "\n" not in message
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path_factory, tmp_path, monkeypatch):
    data, reference = fixture_and_reference(tmp_path_factory)
    out = tmp_path / "two"
    run_two_processes(tool_args(data, out, "--save-every", 2), tmp_path, monkeypatch)
    assert comparable_outputs(out) == comparable_outputs(reference)
    assert sorted(chunks_by_process(out).values(), key=lambda ids: ids[:1]) == inference_shards(data)
