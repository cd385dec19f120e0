"""The view-name grammar is one table (``VIEW_KINDS``) and the only parser of view names."""
import ast
import math
from pathlib import Path

import pytest

from hfc_det.views.grammar import VIEW_KINDS, canonical_view_name, parse_view

PACKAGE = Path(__file__).resolve().parents[2] / "hfc_det"

# One valid name per kind, written the way a user might (padded parameters), and the name the
# views are filed under, written by hand.
EXAMPLES = {
    "low": ("low_r8.0", "low_r8"),
    "high": ("high_r2.50", "high_r2.5"),
    "band": ("band_r8-16.0", "band_r8-16"),
    "blur": ("blur_s2.0", "blur_s2"),
    "noise": ("noise_r16.0", "noise_r16"),
    "svd_top": ("svd_top4", "svd_top4"),
    "svd_tail": ("svd_tail12", "svd_tail12"),
    "fourier": ("fourier_u2_v-3_e500.0", "fourier_u2_v-3_e500"),
    "corrupt": ("corrupt_gaussian_noise_s03", "corrupt_gaussian_noise_s3"),
}


def test_every_row_has_an_example():
    assert sorted(k.kind for k in VIEW_KINDS) == sorted(EXAMPLES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_row_parses_and_names_its_views(kind):
    written, canonical = EXAMPLES[kind]
    got_kind, parameter = parse_view(written)
    assert got_kind == kind
    assert canonical_view_name(written) == canonical
    assert parse_view(canonical) == (got_kind, parameter)  # the canonical name reads back the same


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_a_broken_parameter_names_the_kind_it_meant(kind):
    """``noise_r``, ``band_r8``, ``svd_topx``: the kind is clear, so the error shows that kind's form."""
    row = next(k for k in VIEW_KINDS if k.kind == kind)
    broken = row.prefix + "x"
    with pytest.raises(ValueError) as info:
        parse_view(broken)
    message = str(info.value)
    assert "\n" not in message and repr(broken) in message and row.form in message
    assert "expected 'original'" not in message  # not the list of every form


def test_unknown_kind_lists_every_form():
    with pytest.raises(ValueError) as info:
        parse_view("mid_r4")
    assert all(k.form in str(info.value) for k in VIEW_KINDS)


def test_original_has_no_parameter():
    kind, parameter = parse_view("original")
    assert kind == "original" and math.isnan(parameter)


def _module_level_definitions():
    """``{public name: [modules defining it]}`` from the package source (imports not counted)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for name in names:
                if not name.startswith("_") and name != "logger":  # the logging idiom
                    found.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    return found


def test_no_name_is_defined_twice_in_the_package():
    """One meaning per name: a public name is defined in one module (others import it), so
    ``VIEW_KINDS`` cannot mean the grammar's table in one place and config shorthands in another."""
    twice = {name: where for name, where in _module_level_definitions().items() if len(where) > 1}
    assert twice == {}


def test_no_second_view_name_parser():
    """The grammar's table is the only parser: no other module defines a ``parse_*view*`` function."""
    parsers = {name: where for name, where in _module_level_definitions().items()
               if name.startswith("parse_") and "view" in name}
    assert parsers == {"parse_view": ["views/grammar.py"]}
