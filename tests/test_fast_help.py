"""``--help`` and argument errors answer before torch and detectron2 load (issue 16, item 8).

Each tool runs in a fresh interpreter (``runpy``, as ``python tools/X.py`` would) with
``--help`` or a wrong argument; afterwards ``torch`` and ``detectron2`` must not be in
``sys.modules``. The parser that stands in for detectron2's ``default_argument_parser`` is
compared with detectron2's own, option by option, so the two cannot drift apart.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = sorted(p.name for p in (ROOT / "tools").glob("*.py"))
HEAVY = ("torch", "detectron2", "torchvision", "matplotlib")

PROBE = r"""
import contextlib, io, json, os, runpy, sys
for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):  # as for a user who set neither
    os.environ.pop(k, None)
tool, argv = sys.argv[1], sys.argv[2:]
sys.argv = [tool] + argv
out, err = io.StringIO(), io.StringIO()
code = None
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        runpy.run_path(tool, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                  "loaded": [m for m in %r if m in sys.modules],
                  "openmp": [os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")]}))
""" % (HEAVY,)


def probe(tool, *argv):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "tools" / tool), *argv],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_tool_is_probed():
    assert len(TOOLS) >= 14 and "eval_lfc.py" in TOOLS and "train_net.py" in TOOLS


@pytest.mark.parametrize("tool", TOOLS)
def test_help_loads_neither_torch_nor_detectron2(tool):
    r = probe(tool, "--help")
    assert r["code"] in (0, None), r
    assert "usage:" in r["stdout"], r
    assert not [m for m in r["loaded"] if m in ("torch", "detectron2")], f"{tool} --help loaded {r['loaded']}"


@pytest.mark.parametrize("tool", TOOLS)
def test_argument_error_is_one_line_without_torch(tool):
    r = probe(tool, "--no-such-option")
    assert r["code"] == 2, r
    lines = [line for line in r["stderr"].splitlines() if line.strip()]
    assert ": error: " in lines[-1], r  # argparse's one line (after the usage)
    assert "Traceback" not in r["stderr"]
    assert not [m for m in r["loaded"] if m in ("torch", "detectron2")], f"{tool}: loaded {r['loaded']}"


@pytest.mark.parametrize("tool", ["eval_lfc.py", "train_net.py", "demo.py", "texture_experiment.py"])
def test_tools_that_train_or_evaluate_set_openmp_waiting_before_torch_loads(tool):
    """OpenMP reads the variables once, when torch loads it: set at import, before torch."""
    r = probe(tool, "--help")
    assert r["openmp"] == ["ACTIVE", "10000"] and "torch" not in r["loaded"], r


def test_eval_lfc_bad_choice_answers_without_torch():
    r = probe("eval_lfc.py", "--filter-stage", "sideways")
    assert r["code"] == 2 and "invalid choice: 'sideways'" in r["stderr"], r
    assert "torch" not in r["loaded"] and "detectron2" not in r["loaded"]


def _options(parser):
    """{option strings or dest: (default, type, nargs, action class, help)} of a parser."""
    return {
        tuple(a.option_strings) or a.dest: (a.default, a.type, a.nargs, type(a).__name__, a.help)
        for a in parser._actions
    }


def test_launch_parser_matches_detectron2_default_argument_parser():
    import hfc_det.compat  # noqa: F401
    from detectron2.engine import default_argument_parser

    from hfc_det.cli.options import launch_argument_parser

    ours, theirs = launch_argument_parser(epilog="x"), default_argument_parser(epilog="x")
    assert _options(ours) == _options(theirs)
    argv = ["--num-gpus", "3", "--machine-rank", "1", "--num-machines", "2", "--config-file", "c.yaml",
            "--resume", "--eval-only", "--dist-url", "tcp://h:1", "A.B", "1", "C.D", "x"]
    assert vars(ours.parse_args(argv)) == vars(theirs.parse_args(argv))
    assert vars(ours.parse_args([])) == vars(theirs.parse_args([]))
    assert ours.formatter_class is theirs.formatter_class
    # without an epilog both print detectron2's examples
    assert launch_argument_parser().epilog == default_argument_parser().epilog


def test_config_module_reexports_the_options():
    from hfc_det import config
    from hfc_det.cli import options

    for name in ("FILTER_STAGES", "HFC_SCALINGS", "CONFIG_DIR", "available_configs", "resolve_config_file",
                 "check_overrides"):
        assert getattr(config, name) is getattr(options, name)
    from hfc_det.metrics import coco_backends

    assert coco_backends.COCO_BACKENDS is options.COCO_BACKENDS
