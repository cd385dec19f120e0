"""The Python API works as the docs show it.

The documented names are collected from the docs themselves (README.md and docs/*.md): every
dotted ``hfc_det.x.y`` in a code span or code block, every ``from hfc_det.x import a, b`` in
code, and every mkdocstrings ``::: hfc_det.x.y`` directive, so a new line in a page is checked
too. Each name is imported in both forms the docs use (``from hfc_det.x import name`` and
``import hfc_det.x; hfc_det.x.name``) in two import orders:

- the name first: each form in a process where no hfc_det module is loaded yet (forked from
  a fresh interpreter that has loaded only third-party libraries, so that a name does not
  pay for a fresh torch import);
- after every module of the package has been imported, which must not change what the name is.

Both forms must give the same object, a module only where the name is a module file, and a
callable where the docs call it. A second check finds the collision that once made ``from
hfc_det.evaluation import per_image_ap`` the module ``per_image_ap.py``: no package exports a
name that is also one of its submodules.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "hfc_det"

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
# fenced code blocks (``` or ~~~, any info string) and inline code spans
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_DIRECTIVE = re.compile(r"^:::[ \t]+(\S+)", re.M)


def doc_files() -> List[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_texts(markdown: str) -> List[str]:
    """The code of a markdown page: fenced blocks, then the inline spans of the prose."""
    blocks = [m.group(2) for m in _FENCE.finditer(markdown)]
    prose = _FENCE.sub("", markdown)
    return blocks + [m.group(2) for m in _SPAN.finditer(prose)]


def documented_names(markdown: str, package: str = PACKAGE) -> Dict[str, bool]:
    """``{dotted name: called}`` for every name of ``package`` the page shows in code:
    ``called`` when some code calls it (``name(``)."""
    dotted = re.compile(rf"(?<![\w./-]){package}(?:\.{_IDENT})+")
    from_import = re.compile(rf"\bfrom[ \t]+({package}(?:\.{_IDENT})*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)")
    names: Dict[str, bool] = {}

    def add(name: str, called: bool):
        names[name] = names.get(name, False) or called

    for code in code_texts(markdown):
        for m in dotted.finditer(code):
            add(m.group(0), code[m.end():m.end() + 1] == "(")
        for m in from_import.finditer(code):
            for item in m.group(2).strip("()").replace("\n", " ").split(","):
                item = item.split(" as ")[0].strip().strip("\\").strip()
                if re.fullmatch(_IDENT, item):
                    add(f"{m.group(1)}.{item}", re.search(rf"(?<![\w.]){item}\(", code) is not None)
    for m in _DIRECTIVE.finditer(markdown):
        if m.group(1).startswith(package + "."):
            add(m.group(1), False)
    return names


def is_module_file(name: str, root: Path = ROOT) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def split_name(name: str, root: Path = ROOT, called: bool = False):
    """``(module, attributes)``: the longest prefix of ``name`` that is a module file, and the
    attribute path after it. A name the docs call is an attribute (a module is not callable),
    even where a module file has its name too."""
    parts = name.split(".")
    for k in range(len(parts) - called, 0, -1):
        if is_module_file(".".join(parts[:k]), root):
            return ".".join(parts[:k]), parts[k:]
    raise ValueError(f"{name}: no module of it is a file under {root}")


def package_modules(package: str = PACKAGE, root: Path = ROOT) -> List[str]:
    """Every module of the package, by its files (packages before their modules)."""
    out = []
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append(".".join(parts))
    return sorted(out)


# Runs in a fresh interpreter: reads the spec from stdin, prints {name: {form: result}}.
CHECKER = r'''
import importlib, json, os, sys, types
spec = json.load(sys.stdin)
sys.path[:0] = spec["path"]
for lib in spec["preload"]:  # third-party only: the package's own import order stays untouched
    importlib.import_module(lib)

def describe(obj):
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(mod, str) and isinstance(qual, str):
        return f"{type(obj).__name__} {mod}.{qual}"
    return f"{type(obj).__name__} {repr(obj)[:200]}"

def check(item, forms):
    name, module, attrs = item["name"], item["module"], item["attrs"]
    got, objects = {}, {}
    for form in forms:
        ns = {}
        if form == "from":
            parent, first = (module, attrs[0]) if attrs else module.rsplit(".", 1)
            statement, rest = f"from {parent} import {first} as _obj", attrs[1:]
        else:
            statement, rest = f"import {module}\n_obj = {name}", []
        try:
            exec(statement, ns)
            obj = ns["_obj"]
            for a in rest:
                obj = getattr(obj, a)
        except BaseException as e:
            got[form] = {"error": (f"{type(e).__name__}: {e}".splitlines() or [""])[0][:300]}
            continue
        objects[form] = obj
        got[form] = {"what": describe(obj), "module": isinstance(obj, types.ModuleType), "callable": callable(obj)}
    if len(objects) == 2:
        got["same"] = objects["from"] is objects["attr"]
    return got

def in_child(item, form):
    """check(item, [form]) in a forked child that has none of the package loaded."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            loaded = [m for m in sys.modules if m == spec["package"] or m.startswith(spec["package"] + ".")]
            out = {form: {"error": f"the package was loaded before the check: {loaded[:3]}"}} if loaded else check(item, [form])
            os.write(write, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 16):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(data) if data else {form: {"error": "the check's process died"}}

results = {}
if spec["import_all"]:
    for m in spec["modules"]:
        importlib.import_module(m)
    for item in spec["names"]:
        results[item["name"]] = check(item, ["from", "attr"])
else:  # the name first: each form of each name in its own child
    for item in spec["names"]:
        results[item["name"]] = {k: v for form in ("from", "attr") for k, v in in_child(item, form).items()}
print(json.dumps(results))
'''

# Loaded before the forks (third-party, slow to import, imported by most names); never
# detectron2, which hfc_det.compat must precede.
PRELOAD = ["numpy", "torch", "scipy.stats", "pandas", "matplotlib.pyplot", "pycocotools.coco"]


def run_checks(names: Dict[str, bool], import_all: bool, package: str = PACKAGE, root: Path = ROOT,
               preload=PRELOAD) -> Dict[str, dict]:
    items = []
    for name, called in sorted(names.items()):
        module, attrs = split_name(name, root, called)
        items.append({"name": name, "module": module, "attrs": attrs})
    spec = {"path": [str(root)], "package": package, "names": items, "import_all": import_all,
            "modules": package_modules(package, root), "preload": list(preload)}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHECKER], input=json.dumps(spec), capture_output=True, text=True,
                          cwd=root, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


FORMS = {"from": "from {parent} import {first}", "attr": "import {module}; {name}"}


def problems(names: Dict[str, bool], first: Dict[str, dict], after_all: Dict[str, dict], root: Path = ROOT) -> List[str]:
    """What is wrong with each documented name, one line each."""
    out = []
    for name, called in sorted(names.items()):
        module, attrs = split_name(name, root, called)
        parent, head = (module, attrs[0]) if attrs else module.rsplit(".", 1)
        expect_module = not attrs
        for order, results in (("imported first", first), ("after every module", after_all)):
            got = results[name]
            for form, template in FORMS.items():
                shown = template.format(parent=parent, first=head, module=module, name=name)
                r = got[form]
                if "error" in r:
                    out.append(f"{name} ({order}): `{shown}` fails: {r['error']}")
                elif r["module"] != expect_module:
                    out.append(f"{name} ({order}): `{shown}` gives {r['what']}, "
                               f"{'expected the module' if expect_module else 'not a module'}")
                elif called and not r["callable"]:
                    out.append(f"{name} ({order}): the docs call it, but `{shown}` gives {r['what']}")
            a, b = got["from"].get("what"), got["attr"].get("what")
            if got.get("same") is False or (a and b and a != b):
                out.append(f"{name} ({order}): the two forms give different objects: {a} vs {b}")
        a, b = first[name], after_all[name]
        for form in FORMS:
            if a.get(form, {}).get("what") != b.get(form, {}).get("what") and "what" in a.get(form, {}):
                out.append(f"{name}: importing every module changes what `{form}` gives: "
                           f"{a[form]['what']} -> {b.get(form, {}).get('what', b.get(form))}")
    return out


def all_documented_names() -> Dict[str, bool]:
    names: Dict[str, bool] = {}
    for path in doc_files():
        for name, called in documented_names(path.read_text(encoding="utf-8")).items():
            names[name] = names.get(name, False) or called
    return names


PER_IMAGE_AP = "hfc_det.evaluation.per_image_ap"


@pytest.fixture(scope="module")
def checked():
    """``(documented names, first, after_all)``: the checks of the documented names, the
    made-up page's and ``per_image_ap``'s, run together (one process per order)."""
    names = all_documented_names()
    every = {**documented_names(_MADE_UP_PAGE), **names, PER_IMAGE_AP: True}
    return names, run_checks(every, import_all=False), run_checks(every, import_all=True)


def test_every_documented_name_imports_as_documented(checked):
    names, first, after_all = checked
    api = documented_names((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    # the collector sees the API page's directives and examples
    assert {"hfc_det.metrics.coco_backends.per_image_ap", "hfc_det.evaluation.per_image_ap",
            "hfc_det.load_run", "hfc_det.metrics.run_results.load_run"} <= set(api)
    found = problems(names, first, after_all)
    assert not found, f"{len(found)} problems with the {len(names)} documented names:\n" + "\n".join(found)


def test_per_image_ap_is_the_function_in_any_order(checked):
    _, first, after_all = checked
    assert not problems({PER_IMAGE_AP: True}, first, after_all)
    for results in (first, after_all):
        for form in ("from", "attr"):
            assert results[PER_IMAGE_AP][form]["what"] == "function hfc_det.metrics.coco_backends.per_image_ap"
    # and after the modules that define and use it, by their own names
    code = ("import hfc_det.metrics.coco_backends, hfc_det.metrics.image_ap, hfc_det.evaluation.store\n"
            "from hfc_det.evaluation import per_image_ap\n"
            "import hfc_det.evaluation as e, hfc_det.metrics as m\n"
            "from hfc_det.metrics.coco_backends import per_image_ap as f\n"
            "assert per_image_ap is f is e.per_image_ap is m.per_image_ap, per_image_ap\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]


# Runs in a fresh interpreter: every exported name of every package that is also a submodule.
COLLISIONS = r'''
import importlib, json, pkgutil, sys, types
root, package = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
found = []
packages = [package] + [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")
                        if m.ispkg]
for name in packages:
    pkg = importlib.import_module(name)
    lazy = vars(pkg).get("__getattr__")
    exported = set(getattr(pkg, "__all__", ()))
    for sub in (m.name for m in pkgutil.iter_modules(pkg.__path__)):
        module_name = f"{name}.{sub}"
        served = None
        if lazy is not None:
            try:
                served = lazy(sub)  # what the package's PEP 562 __getattr__ gives for the name
            except AttributeError:
                pass
        eager = vars(pkg).get(sub)
        for how, value in (("exports lazily", served), ("binds", eager)):
            if value is not None and not (isinstance(value, types.ModuleType) and value.__name__ == module_name):
                found.append(f"{name} {how} {sub!r} ({type(value).__name__}), the name of its submodule {module_name}")
        if sub in exported and served is None and eager is None:
            found.append(f"{name}.__all__ lists {sub!r}, which only its submodule {module_name} provides")
print(json.dumps(found))
'''


def export_collisions(package: str = PACKAGE, root: Path = ROOT) -> List[str]:
    proc = subprocess.run([sys.executable, "-c", COLLISIONS, str(root), package], capture_output=True, text=True,
                          cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_exported_name_is_also_a_submodule():
    assert export_collisions() == []


# ---------------------------------------------------------------- the checks can fail

_MADE_UP_PAGE = """
Call `hfc_det.metrics.no_such_function(x)` or `hfc_det.load_run(folder)`; see hfc_det.not_in_code.

```python
from hfc_det.evaluation import (per_image_ap,
                                made_up_name as m)
per_image_ap(gt, dt)
```

::: hfc_det.metrics.no_such_module
"""


def test_collector_reads_spans_blocks_imports_and_directives():
    names = documented_names(_MADE_UP_PAGE)
    assert names == {"hfc_det.metrics.no_such_function": True, "hfc_det.load_run": True,
                     "hfc_det.evaluation.per_image_ap": True, "hfc_det.evaluation.made_up_name": False,
                     "hfc_det.metrics.no_such_module": False, "hfc_det.evaluation": False}


def test_made_up_documented_names_are_reported(checked):
    _, first, after_all = checked
    names = documented_names(_MADE_UP_PAGE)
    text = "\n".join(problems(names, first, after_all))
    for made_up in ("hfc_det.metrics.no_such_function", "hfc_det.evaluation.made_up_name",
                    "hfc_det.metrics.no_such_module"):
        assert f"{made_up} (imported first)" in text and f"{made_up} (after every module)" in text, text
    assert "hfc_det.load_run" not in text and "per_image_ap" not in text, text


def _collision_package(root: Path) -> Path:
    """A package with the old bug: a lazily exported function named like its own submodule."""
    pkg = root / "collide"
    (pkg / "evaluation").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "evaluation" / "__init__.py").write_text(
        "from hfc_det.utils.lazy import lazy_exports\n"
        "_EXPORTS = {'per_image_ap': '.per_image_ap', 'other': '.backends'}\n"
        "__all__ = list(_EXPORTS)\n"
        "__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)\n")
    (pkg / "evaluation" / "per_image_ap.py").write_text("def per_image_ap(gt, dt):\n    return {}\n")
    (pkg / "evaluation" / "backends.py").write_text("def other():\n    pass\n")
    return pkg


def test_collision_and_module_for_function_are_reported(tmp_path):
    _collision_package(tmp_path)
    assert export_collisions("collide", tmp_path) == [
        "collide.evaluation exports lazily 'per_image_ap' (function), the name of its submodule "
        "collide.evaluation.per_image_ap"]
    names = documented_names("`collide.evaluation.per_image_ap(gt, dt)`, `collide.evaluation.other`", "collide")
    assert names == {"collide.evaluation.per_image_ap": True, "collide.evaluation.other": False}
    spec = dict(package="collide", root=tmp_path, preload=[])
    first, after_all = run_checks(names, import_all=False, **spec), run_checks(names, import_all=True, **spec)
    text = "\n".join(problems(names, first, after_all, root=tmp_path))
    # the bug as users met it: `from ... import` gives the module, the attribute the function
    # until the submodule is imported
    assert ("collide.evaluation.per_image_ap (imported first): `from collide.evaluation import per_image_ap` "
            "gives module collide.evaluation.per_image_ap, not a module") in text
    assert ("collide.evaluation.per_image_ap (imported first): the two forms give different objects: "
            "module collide.evaluation.per_image_ap vs function collide.evaluation.per_image_ap.per_image_ap") in text
    assert ("collide.evaluation.per_image_ap: importing every module changes what `attr` gives: "
            "function collide.evaluation.per_image_ap.per_image_ap -> module collide.evaluation.per_image_ap") in text
    assert "collide.evaluation.other" not in text
