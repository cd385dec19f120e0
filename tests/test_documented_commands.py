"""Every command the README, the docs pages and the tools' help texts show, run as written
(issues 16 and 20).

Commands are collected from the code of README.md and of every docs/*.md page (indented code
lines and fenced code blocks) and from the examples in the tools' docstrings and epilogs
(what ``--help`` prints), backslash continuations joined.
Each runs in a fresh folder (so ``output/...`` lands there) with no datasets, no network
(proxies pointed at a closed port) and no GPU, and must do one of:

- ``ok``: finish with exit code 0;
- ``starts``: get past its set-up as written (the file ``sentinel`` appears), then it is
  stopped: the long trainings the pages show, checked for what broke them before;
- ``refused``: stop at once with exit code 1 and one ``error: ...`` line on stderr, no
  traceback, naming what is missing (COCO, CIFAR, a checkpoint, a GPU, a folder).

A documented command that this table does not know fails the test, so a new example in the
README, a docs page or a help text gets run too. Those that train for minutes are marked ``slow``.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL_LINE = re.compile(r"^\s*(?:\S*python\S*\s+)?(?:tools/)?(\w+\.py)(?=\s|$)")


def _joined_lines(text: str):
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1].rstrip() + " " + lines[i].strip()
        yield line
        i += 1


def _command(line: str):
    """The command on a documentation line as ``tools/NAME.py ARGS`` (whichever interpreter
    the text names: ``python``, ``.venv/bin/python`` or none), or None."""
    line = re.sub(r"\s+#.*$", "", line).strip().rstrip("\\").strip()
    match = TOOL_LINE.match(line)
    if not match or not (ROOT / "tools" / match.group(1)).is_file() or "..." in line:
        return None  # prose, or a pattern with "..." rather than a command
    return f"tools/{match.group(1)} {line[match.end():].strip()}".strip()


DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _code_lines(text: str):
    """The lines of a Markdown text's code: indented code lines and fenced blocks' lines."""
    fenced = False
    for ln in _joined_lines(text):
        if ln.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or ln.startswith("    "):
            yield ln


def page_commands():
    return [c for page in DOC_PAGES for ln in _code_lines(page.read_text()) if (c := _command(ln))]


def help_commands():
    out = []
    for tool in sorted((ROOT / "tools").glob("*.py")):
        text = tool.read_text().replace("\\\\\n", "\\\n")  # a docstring's "\\" is the "\" --help prints
        for ln in _joined_lines(text):
            ln = re.sub(r"^(\s*)example:\s*", r"\1", ln)
            if re.match(r"^\s*(python\s+)?tools/\w+\.py\s", ln) and (c := _command(ln)):
                out.append(c)
    return out


DOCUMENTED = list(dict.fromkeys(page_commands() + help_commands()))

NO_COCO = "annotation file of dataset 'coco_2017_val' not found"
NO_GPU = "cuda"
# command as written -> (how it is checked, what: sentinel file or the error's text, slow?)
EXPECT = {
    "tools/eval_lfc.py --config retinanet_R50_FPN": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --config retinanet_R50_FPN --radius 128 --num-gpus 8": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --radius 64 128 --max-images 20 --output output/quick MODEL.DEVICE cpu":
        ("refused", NO_COCO, False),
    "tools/eval_lfc.py --num-gpus 8 --radius 128": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --dataset-json ann.json --image-root imgs/ --max-images 20 --output out/ "
    "MODEL.WEIGHTS model.pkl MODEL.DEVICE cpu": ("refused", "model.pkl", False),
    "tools/eval_lfc.py --num-gpus 8 --num-machines 2 --machine-rank 0 --dist-url tcp://HOST0:29500 "
    "--output /shared/eval": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --num-gpus 8 --num-machines 2 --machine-rank 1 --dist-url tcp://HOST0:29500 "
    "--output /shared/eval": ("refused", NO_GPU, False),
    "tools/demo.py --radius 16 24 --max-images 50 SOLVER.MAX_ITER 600":
        ("starts", "output/demo/shapes", True),
    "tools/make_shapes.py --texture-correlation 0.5 --texture-amplitude 0.06 --seed 3 --output output/shapes":
        ("ok", None, True),
    "tools/texture_experiment.py --skip-untrained": ("ok", None, False),
    # the node's package list comes from the node (docs/gpu.md): in a fresh folder there is none
    "tools/offline_kit.py KIT --node-packages node-freeze.txt --weights model_final.pth":
        ("refused", "node-freeze.txt", False),
    "tools/offline_kit.py KIT --node-packages node-freeze.txt": ("refused", "node-freeze.txt", False),
    "tools/demo_frequency.py --radii 4 16 64 --photos astronaut coffee --output output/freq":
        ("ok", None, False),
    "tools/demo_frequency.py --output output/demo/frequency --radii 8 16 32 64": ("ok", None, True),
    "tools/texture_experiment.py": ("starts", "output/demo/shapes", True),
    "tools/train_net.py --config-file demo/retinanet_R18_FPN_shapes OUTPUT_DIR output/r18":
        ("starts", "output/r18/config.yaml", True),
    "tools/train_net.py --config-file demo/retinanet_R18_FPN_shapes OUTPUT_DIR output/shapes_r18":
        ("starts", "output/shapes_r18/config.yaml", True),
    "tools/train_net.py --config-file demo/retinanet_R18_FPN_shapes SHAPES.TEXTURE_CORRELATION 0.0":
        ("starts", "output/config.yaml", True),
    "tools/train_net.py --config-file retinanet_R50_FPN --num-gpus 8 --register mytrain "
    "train.json images/ DATASETS.TRAIN \"('mytrain',)\"": ("refused", NO_GPU, False),
    "tools/train_net.py --config-file CONFIG --eval-only MODEL.WEIGHTS output/model_final.pth":
        ("refused", "unknown config 'CONFIG'", False),
    "tools/visualize_gain_loss.py output/eval_lfc --top 8 --view low_r128 --score-thresh 0.5":
        ("refused", "output folder output/eval_lfc does not exist", False),
    "tools/visualize_gain_loss.py output/eval --top 8 --view low_r128 --score-thresh 0.5":
        ("refused", "output folder output/eval does not exist", False),
    "tools/train_cifar.py --dataset digits --model lenet --train-on low --radius 3 --epochs 40 "
    "--batch-size 64 --lr 1e-3 --seed 0 --output output/digits_low_r3": ("ok", None, True),
    "tools/train_cifar.py --dataset cifar10 --data-root data --download --train-on low --radius 8 "
    "--output output/c10_low_r8": ("refused", "cannot download cifar10", False),
    "tools/run_experiments.py --list": ("ok", None, False),
    "tools/run_experiments.py table1 --data-root data": ("refused", "data/cifar-10-batches-py", False),
    "tools/run_experiments.py table1 --dataset digits --model lenet --epochs 5 --lr 1e-3 --batch-size 64":
        ("ok", None, True),
    "tools/attack_cifar.py --checkpoint runs/natural runs/adversarial --label natural adversarial "
    "--rho 0 0.25 0.5 1.0 --eps 0.03 0.06 0.09 --output out/table2": ("refused", "no checkpoint at runs/natural", False),
    "tools/visualize_kernels.py --checkpoint runs/natural runs/adversarial --label natural adversarial "
    "--rho 0 1.0 --output out/fig7": ("refused", "no checkpoint at runs/natural", False),
    "tools/find_hfc_examples.py --checkpoint runs/natural --radius 4 8 12 16 --split both --k 4 8 16 "
    "--output out/fig2": ("refused", "no checkpoint at runs/natural", False),
    "tools/eval_lfc.py --radius 128 --num-gpus 8 --images-per-batch 4 --amp": ("refused", NO_GPU, False),
    "tools/fourier_heatmap.py --checkpoint output/digits_lenet --grid 4 --eps 1 --output output/heat_digits":
        ("refused", "no checkpoint.pth at output/digits_lenet", False),
    "tools/fourier_heatmap.py --config output/demo/model_<hash>/eval_config.yaml --grid 32 --step 8 --eps 3000 "
    "--max-images 50 --dataset-json output/demo/shapes/<hash>/instances_val.json --image-root "
    "output/demo/shapes/<hash>/val --output output/heat_demo": ("refused", "unknown config", False),
    "tools/gradient_spectrum.py --checkpoint output/digits_lenet output/digits_lenet_adv --label natural "
    "adversarial --output output/spectra_digits": ("refused", "no checkpoint.pth at output/digits_lenet", False),
    "tools/fourier_heatmap.py --checkpoint runs/lenet --grid 4 --eps 1 --output out/heat":
        ("refused", "no checkpoint.pth at runs/lenet", False),
    "tools/fourier_heatmap.py --config retinanet_R50_FPN --grid 8 --step 4 --eps 2000 --max-images 100 "
    "--num-gpus 8 --output out/heat MODEL.WEIGHTS model.pkl": ("refused", NO_GPU, False),
    "tools/gradient_spectrum.py --checkpoint runs/natural runs/adversarial --label natural adversarial "
    "--output out/spectra": ("refused", "no checkpoint.pth at runs/natural", False),
    "tools/gradient_spectrum.py --config retinanet_R50_FPN --weights a.pkl b.pkl --label a b --dataset "
    "coco_2017_val --max-images 50 --output out/spectra MODEL.DEVICE cpu": ("refused", "a.pkl", False),
    # docs/compare.md: the demo example (trains the demo model first in a fresh folder), the zoo sweep
    "tools/compare_runs.py RUN_A RUN_B RUN_C --output DIR": ("refused", "no output folder RUN_A", False),
    "tools/demo.py --output output/cmp/plain --cache output/demo --max-images 50 --no-report":
        ("starts", "output/demo/shapes", True),
    "tools/demo.py --output output/cmp/smoothed --cache output/demo --max-images 50 --no-report HFC.SMOOTH_RHO 1.0":
        ("starts", "output/demo/shapes", True),
    "tools/compare_runs.py output/cmp/plain output/cmp/smoothed --labels plain smoothed --output output/cmp/compare":
        ("refused", "no output folder output/cmp/plain", False),
    "tools/eval_lfc.py --config zoo:COCO-Detection/retinanet_R_50_FPN_3x --radius 4 8 16 32 64 128 "
    "--output output/zoo/retinanet_R50": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --config zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x --radius 4 8 16 32 64 128 "
    "--output output/zoo/faster_rcnn_R50": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --config zoo:COCO-Detection/fcos_R_50_FPN_1x --radius 4 8 16 32 64 128 "
    "--output output/zoo/fcos_R50 train.init_checkpoint=fcos_R_50_FPN_1x.pth": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --config zoo:new_baselines/mask_rcnn_R_50_FPN_400ep_LSJ --radius 4 8 16 32 64 128 "
    "--output output/zoo/mask_rcnn_lsj": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --config path/to/detectron2/projects/ViTDet/configs/COCO/mask_rcnn_vitdet_b_100ep.py "
    "--radius 4 8 16 32 64 128 --output output/zoo/vitdet_b": ("refused", "mask_rcnn_vitdet_b_100ep.py", False),
    "tools/compare_runs.py output/zoo/retinanet_R50 output/zoo/faster_rcnn_R50 output/zoo/fcos_R50 "
    "output/zoo/mask_rcnn_lsj output/zoo/vitdet_b --output output/zoo/compare":
        ("refused", "no output folder output/zoo/retinanet_R50", False),
    # docs/detection.md, "Any detectron2 detector"
    "tools/eval_lfc.py --config zoo:COCO-Detection/faster_rcnn_R_50_FPN_3x --max-images 20 MODEL.DEVICE cpu":
        ("refused", NO_COCO, False),
    "tools/eval_lfc.py --config zoo:COCO-Detection/fcos_R_50_FPN_1x train.device=cpu train.init_checkpoint=fcos.pth":
        ("refused", "weights file not found", False),
    "tools/eval_lfc.py --config detectron2/projects/ViTDet/configs/COCO/mask_rcnn_vitdet_b_100ep.py "
    "train.init_checkpoint=model_final_61ccd1.pkl": ("refused", "mask_rcnn_vitdet_b_100ep.py", False),
    # docs/corruptions.md
    "tools/eval_lfc.py --config zoo:COCO-Detection/retinanet_R_50_FPN_3x --corruptions benchmark --radius 16 32 64 128 "
    "--views original low high band_r0-16 band_r16-32 band_r32-64 band_r64-128 band_r128-256 --num-gpus 8 "
    "--output output/coco_c/retinanet_R50": ("refused", NO_GPU, False),
    "tools/eval_lfc.py --corruptions gaussian_noise fog jpeg_compression --severities 3 --max-images 20 MODEL.DEVICE cpu":
        ("refused", NO_COCO, False),
    "tools/visualize_gain_loss.py output/coco_c/retinanet_R50 --view corrupt_fog_s3":
        ("refused", "output folder output/coco_c/retinanet_R50 does not exist", False),
    "tools/train_cifar.py --dataset cifar10 --data-root data --track-views corrupt_gaussian_noise_s3 corrupt_fog_s3 "
    "--output output/c10_corrupt": ("refused", "data/cifar-10-batches-py", False),
}


def test_every_documented_command_is_in_the_table():
    unknown = [c for c in DOCUMENTED if c not in EXPECT]
    assert not unknown, f"documented commands with no expectation here: {unknown}"
    stale = [c for c in EXPECT if c not in DOCUMENTED]
    assert not stale, f"expectations for commands the documentation no longer shows: {stale}"
    assert len(DOCUMENTED) >= 20  # the collection found the pages' and the help texts' examples


def test_commands_are_collected_from_fenced_and_indented_code_only():
    text = ("Run `python tools/eval_lfc.py --prose` in prose.\n\n"
            "    python tools/eval_lfc.py --indented\n\n"
            "```bash\npython tools/eval_lfc.py --fenced \\\n    --continued\n```\n\n"
            "python tools/eval_lfc.py --after-the-fence\n")
    assert [_command(ln) for ln in _code_lines(text)] == [
        "tools/eval_lfc.py --indented", "tools/eval_lfc.py --fenced --continued"]
    assert {p.name for p in DOC_PAGES} >= {"README.md", "detection.md", "demo.md"}


def _argv(command: str):
    words = shlex.split(command)
    if "python" in Path(words[0]).name:
        words = words[1:]
    return [sys.executable, str(ROOT / "tools" / Path(words[0]).name), *words[1:]]


def _env(tmp_path):
    closed = "http://127.0.0.1:9"  # no download reaches the network, whatever the machine
    return {**os.environ, "DETECTRON2_DATASETS": str(tmp_path / "datasets"), "OMP_NUM_THREADS": "2",
            "OMP_WAIT_POLICY": "PASSIVE", "CUDA_VISIBLE_DEVICES": "", "http_proxy": closed,
            "https_proxy": closed, "HTTP_PROXY": closed, "HTTPS_PROXY": closed,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}


def _params():
    for command in DOCUMENTED:
        mode, _, slow = EXPECT.get(command, ("unknown", None, False))
        yield pytest.param(command, marks=[pytest.mark.slow] if slow else [], id=command[:70])


@pytest.mark.parametrize("command", list(_params()))
def test_documented_command_runs_as_written(command, tmp_path):
    mode, what, _ = EXPECT[command]
    argv, env = _argv(command), _env(tmp_path)
    if mode == "starts":
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.monotonic() + 600
        try:
            while not (tmp_path / what).exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            assert (tmp_path / what).exists(), proc.stderr.read()[-3000:] if proc.poll() is not None else "timed out"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        return
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    if mode == "ok":
        assert done.returncode == 0, done.stderr[-3000:]
        return
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr[-3000:]
    assert what.lower() in lines[0].lower(), lines[0]
