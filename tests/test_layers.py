"""The layer map of ``hfc_det/__init__.py``, enforced.

1. The core, the results/metrics layer, the shapes generator and the classification
   toolkit (with its tools) import without detectron2: each module is imported in a fresh
   interpreter, which then must not have ``detectron2`` in ``sys.modules``.
2. The package has no import cycle: the module graph is read from the source with
   ``ast`` (imports inside functions included), so a cycle hidden in a function body,
   which Python tolerates at run time, still fails here.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hfc_det"

# Each entry also covers what it imports (a subpackage's __init__ included), so the list
# names the layers' tops: visualization.report covers plots, report_html, spectrum. (The
# classification tools import their heavy modules only after parsing, so those are listed.)
DETECTRON2_FREE_MODULES = [
    "hfc_det",
    "hfc_det.frequency",
    "hfc_det.views",
    "hfc_det.svd",
    "hfc_det.smoothing",
    "hfc_det.display",
    "hfc_det.results",
    "hfc_det.cli",
    "hfc_det.options",
    "hfc_det.evaluation.per_image_ap",
    "hfc_det.evaluation.coco_backends",
    "hfc_det.evaluation.store",
    "hfc_det.evaluation.batching",
    "hfc_det.data.shapes",
    "hfc_det.data.annotations",
    "hfc_det.classification",
    "hfc_det.classification.hfc_examples",
    "hfc_det.classification.kernel_pictures",
    "hfc_det.visualization.report",
    "hfc_det.fourier_basis",
    "hfc_det.gradient_spectrum",
    "hfc_det.heatmap",
    "hfc_det.spectrum_plots",
    "hfc_det.classification.fourier_heatmap",
    "hfc_det.classification.gradients",
    "hfc_det.classification.catalog",
    "hfc_det.classification.tool_options",
    "hfc_det.classification.errors",
    "hfc_det.classification.training",
    "hfc_det.classification.experiments",
    "hfc_det.classification.robustness",
    "hfc_det.classification.tool_support",
    "hfc_det.visualization.ap_curves",
]
# The classification tools and the shapes generator, imported as modules (their main()
# does not run): what they import at the top must not pull detectron2 in either.
DETECTRON2_FREE_TOOLS = [
    "train_cifar.py",
    "attack_cifar.py",
    "run_experiments.py",
    "visualize_kernels.py",
    "find_hfc_examples.py",
    "make_shapes.py",
    "fourier_heatmap.py",  # a detector's heat map runs eval_lfc.py in its own process
    "gradient_spectrum.py",  # detectron2 only once --config asks for a detector
]

_PROBE = """
import importlib, importlib.util, json, sys
target = sys.argv[1]
if target.endswith(".py"):
    spec = importlib.util.spec_from_file_location("tool_under_test", target)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
else:
    importlib.import_module(target)
print(json.dumps(sorted(m for m in sys.modules if m == "detectron2" or m.startswith("detectron2."))))
"""


def _detectron2_modules_after_import(target: str):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", _PROBE, target], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"importing {target} failed:\n{out.stderr[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", DETECTRON2_FREE_MODULES)
def test_module_imports_without_detectron2(module):
    assert _detectron2_modules_after_import(module) == []


@pytest.mark.parametrize("tool", DETECTRON2_FREE_TOOLS)
def test_tool_imports_without_detectron2(tool):
    assert _detectron2_modules_after_import(str(ROOT / "tools" / tool)) == []


def test_probe_sees_detectron2_where_it_is_imported():
    """The probe can fail: a detection module does bring detectron2 in."""
    pytest.importorskip("detectron2")
    assert "detectron2" in _detectron2_modules_after_import("hfc_det.evaluation.evaluator")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(package_dir: Path = PACKAGE):
    """``{module: {imported hfc_det modules}}`` from every import statement, at any depth.

    ``from a import b`` counts as an import of ``a.b`` when that is a module of the
    package, otherwise of ``a``; importing ``a.b`` also runs ``a/__init__``, but a
    package importing its own submodules is not a cycle, so edges to ancestors are not
    added."""
    files = {_module_name(p, package_dir.parent): p for p in package_dir.rglob("*.py")}
    graph = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:  # `import hfc_det.x.y` names a module
                    target = target.rpartition(".")[0]
                if target and target != module and not module.startswith(target + "."):
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph):
    """One cycle as a list of modules (first == last), or None (iterative DFS)."""
    state = {}
    for start in sorted(graph):
        if start in state:
            continue
        path, iters = [start], [iter(sorted(graph[start]))]
        state[start] = "open"
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = "done"
                iters.pop()
            elif state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = "open"
                path.append(nxt)
                iters.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_find_cycle_finds_one_inside_a_function(tmp_path):
    """The cycle test can fail: a cycle through a function-level import is found."""
    pkg = tmp_path / "hfc_det"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from hfc_det import a\n")
    (pkg / "c.py").write_text("import hfc_det.a\n")
    graph = import_graph(pkg)
    assert graph["hfc_det.c"] == {"hfc_det.a"}
    assert find_cycle(graph) in (["hfc_det.a", "hfc_det.b", "hfc_det.a"], ["hfc_det.b", "hfc_det.a", "hfc_det.b"])


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert "hfc_det.frequency" in graph and len(graph) > 30
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
