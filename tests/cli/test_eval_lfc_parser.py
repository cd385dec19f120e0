"""hfc_det.cli.eval_lfc_parser: eval_lfc.py's parser as a module of the package, standard library
only (tests/test_fast_help.py checks that --help loads neither torch nor detectron2)."""
import json
import subprocess
import sys

import pytest

from hfc_det.cli.eval_lfc_parser import build_parser, parse_args


def test_parser_loads_no_heavy_package():
    probe = ("import json, sys; import hfc_det.cli.eval_lfc_parser; "
             "print(json.dumps([m for m in ('torch', 'detectron2', 'numpy') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_prog_names_the_usage_line(capsys):
    """The detector's heat map parses its eval_lfc options in its own process: a bad one is
    reported as eval_lfc.py's, with exit 2, as when eval_lfc.py ran on its own."""
    assert build_parser(prog="eval_lfc.py").format_usage().startswith("usage: eval_lfc.py ")
    with pytest.raises(SystemExit) as e:
        parse_args(["--no-such-option"], prog="eval_lfc.py")
    assert e.value.code == 2
    assert "eval_lfc.py: error: unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_training_options_are_not_offered():
    """detectron2's --resume and --eval-only mean nothing to an evaluation: not in the parser."""
    options = {s for a in build_parser()._actions for s in a.option_strings}
    assert "--resume" not in options and "--eval-only" not in options
    assert {"--num-gpus", "--dist-url", "--radius", "--views", "--fresh"} <= options
    args = parse_args(["--radius", "8", "16", "--views", "original", "low", "MODEL.DEVICE", "cpu"])
    assert args.radius == [8.0, 16.0] and args.views == ["original", "low"] and args.opts == ["MODEL.DEVICE", "cpu"]
