"""The layer map of ``hfc_det/__init__.py``, folder by folder, enforced.

1. Every module of the package sits in a layer (:data:`LAYERS`, by folder) and imports
   only from its own layer or lower ones; the import graph is read from the source with
   ``ast`` (imports inside functions included).
2. The layers below detectron2's, the classification toolkit and the detectron2-free
   tools import without detectron2: each is imported in a fresh interpreter, which then
   must not have ``detectron2`` in ``sys.modules``.
3. The package has no import cycle.
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

#: The layer of every folder (and root module) of the package. A module imports only from
#: its own layer or a lower one. Layers 1-2 and ``classification`` never import detectron2.
LAYERS = {
    # 1. foundations: numpy/torch (matplotlib for analysis pictures), no detectron2
    "hfc_det.utils": 1,
    "hfc_det.cli": 1,
    "hfc_det.views": 1,
    "hfc_det.analysis": 1,
    # 2. results and metrics: no detectron2
    "hfc_det.metrics": 2,
    # 3. classification (no detectron2) | detection (detectron2, after hfc_det.compat)
    "hfc_det.classification": 3,
    "hfc_det.compat": 3,
    "hfc_det.config": 3,
    "hfc_det.data": 3,
    "hfc_det.evaluation": 3,
    "hfc_det.engine": 3,
    # 4. read results and draw, or orchestrate the layers below
    "hfc_det.visualization": 4,
    "hfc_det.experiments": 4,
}
#: Layers whose folders must load without detectron2 (checked module by module).
DETECTRON2_FREE_LAYERS = (1, 2)
DETECTRON2_FREE_FOLDERS = ("hfc_det.classification",)
#: detectron2-free modules of the detectron2 layer that tools and tests import on their own.
DETECTRON2_FREE_EXTRA = [
    "hfc_det",
    "hfc_det.data.shapes",
    "hfc_det.evaluation.store",
    "hfc_det.evaluation.batching",
    "hfc_det.visualization.report",
    "hfc_det.visualization.ap_curves",
]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str):
    """The layer of a package module (the package face ``hfc_det`` itself has none)."""
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _all_modules():
    return sorted(_module_name(p, PACKAGE.parent) for p in PACKAGE.rglob("*.py"))


def _detectron2_free_modules():
    found = [m for m in _all_modules()
             if layer_of(m) in DETECTRON2_FREE_LAYERS or m.startswith(DETECTRON2_FREE_FOLDERS)]
    return found + DETECTRON2_FREE_EXTRA


# The classification tools and the shapes generator, imported as modules (their main()
# does not run): what they import at the top must not pull detectron2 in either.
DETECTRON2_FREE_TOOLS = [
    "train_cifar.py",
    "attack_cifar.py",
    "run_experiments.py",
    "visualize_kernels.py",
    "find_hfc_examples.py",
    "make_shapes.py",
    "fourier_heatmap.py",  # detectron2 only once a detector's heat map is asked for
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


@pytest.mark.parametrize("module", _detectron2_free_modules())
def test_module_imports_without_detectron2(module):
    assert _detectron2_modules_after_import(module) == []


@pytest.mark.parametrize("tool", DETECTRON2_FREE_TOOLS)
def test_tool_imports_without_detectron2(tool):
    assert _detectron2_modules_after_import(str(ROOT / "tools" / tool)) == []


def test_probe_sees_detectron2_where_it_is_imported():
    """The probe can fail: a detection module does bring detectron2 in."""
    pytest.importorskip("detectron2")
    assert "detectron2" in _detectron2_modules_after_import("hfc_det.evaluation.evaluator")


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
    assert "hfc_det.views.frequency" in graph and len(graph) > 30
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer():
    """A new folder must be placed on the map before it can hold code."""
    unplaced = [m for m in _all_modules() if m != "hfc_det" and layer_of(m) is None]
    assert unplaced == []


def test_root_holds_only_the_package_face():
    root_modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert root_modules == ["__init__.py", "compat.py", "config.py"]


def upward_imports(graph):
    """``[(module, imported)]`` where a module imports from a higher layer."""
    bad = []
    for module, targets in graph.items():
        here = layer_of(module)
        if here is None:
            continue
        bad += [(module, t) for t in sorted(targets) if (layer_of(t) or 0) > here]
    return sorted(bad)


def test_no_import_goes_up_a_layer():
    graph = import_graph()
    assert upward_imports(graph) == []


def test_upward_import_check_can_fail(tmp_path):
    """The layer check finds an import from layer 1 (views) up into layer 3 (evaluation)."""
    pkg = tmp_path / "hfc_det"
    for folder in ("views", "evaluation"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "evaluation" / "run.py").write_text("from hfc_det.views.grammar import f\n")
    (pkg / "views" / "grammar.py").write_text("def f():\n    from hfc_det.evaluation import run\n")
    assert upward_imports(import_graph(pkg)) == [("hfc_det.views.grammar", "hfc_det.evaluation.run")]


#: A tool parses options, calls the package and prints; logic past this size belongs in hfc_det/.
TOOL_MAX_LINES = 120


def test_tools_are_thin():
    long = {p.name: n for p in sorted((ROOT / "tools").glob("*.py"))
            if (n := len(p.read_text().splitlines())) > TOOL_MAX_LINES}
    assert long == {}
