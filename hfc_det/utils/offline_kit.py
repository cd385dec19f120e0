"""The offline kit: everything a machine without network (an air-gapped cluster node with a
site-provided Python and torch) lacks to run hfc_det, as wheels for *that* Python, built on
a machine that reaches the package index (``tools/offline_kit.py``; the GPU check's kit:
``benchmarks/gpu_kit.sh``).

A kit folder holds::

    wheels/    one wheel per package, one version of each: the dependencies the node lacks
               (resolved for the node's Python and platform, pinned to the node's own versions
               of what it has where the index has them), detectron2 v0.6's Python sources
               (the route tools/install_detectron2.sh takes offline, as a pure-Python
               wheel) and hfc_det itself
    weights/   detector weights carried along, the model's parameters only (--weights)
    kit.json   the manifest: target Python and platforms, every file with size and sha256,
               what was left to the node, the pins that could not be checked

and installs on the node with its own python, nothing else::

    python3 -m pip install --no-index --no-deps --target SITE KIT/wheels/*.whl

Never carried: torch and torchvision (the site's build; a CUDA torch is gigabytes) and what
the node's package list (``--node-packages``: ``pip freeze``, ``pip list`` or one name per
line) names. Everything is resolved by pip itself (``pip install --dry-run --report``); a
dependency published only as a source archive is built into a wheel here when it is pure
Python (antlr4-python3-runtime, fvcore), else refused.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .hashing import sha256_file

__all__ = ["KitError", "KIT_MANIFEST", "DEFAULT_MAX_MIB", "ALWAYS_PROVIDED", "canonical_name", "read_package_list",
           "manylinux_platforms", "python_sources_wheel", "strip_weights", "build_kit", "kit_table"]

KIT_MANIFEST = "kit.json"
#: What the GPU machines of this project take in one run (and a sensible upload anywhere).
DEFAULT_MAX_MIB = 64
#: The site's own torch: never carried, whatever the package list says.
ALWAYS_PROVIDED = ("torch", "torchvision")
#: Carried without their requirements: tidecv requires the GUI opencv-python, which would
#: share ``cv2`` with opencv-python-headless (the Makefile installs it the same way).
NO_DEPS = ("tidecv==1.0.1",)
#: What tidecv needs beyond hfc_det's own requirements (its --no-deps install leaves it out).
EXTRA_REQUIREMENTS = ("appdirs",)
#: The version of detectron2's Python sources (tools/install_detectron2.sh --python-sources).
DETECTRON2_VERSION = "0.6"

ROOT = Path(__file__).resolve().parents[2]
#: What setup.py builds the project's wheel from.
PROJECT_FILES = ("setup.py", "README.md", "LICENSE", "hfc_det")


class KitError(ValueError):
    """The kit cannot be built as asked: one line, said to the user."""


def _pip_failure(what: str, output: str) -> KitError:
    """pip's first ERROR line as a KitError, with the likely cause when nothing was found."""
    lines = output.strip().splitlines()
    errors = [ln.strip() for ln in lines if ln.startswith("ERROR")]
    message = f"{what} failed: {errors[0] if errors else (lines or ['?'])[-1]}"
    if "No matching distribution" in message or "onnection" in message:
        message += " (a kit is built on a machine that reaches the package index)"
    return KitError(message)


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name: ``PyYAML`` and ``pyyaml``, ``hydra_core`` and
    ``hydra-core`` are one package."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def read_package_list(path) -> Dict[str, Optional[str]]:
    """A node's packages as ``{canonical name: version or None}`` from ``pip freeze`` output
    (``name==1.2``, ``name @ url``), ``pip list`` (its table, or ``--format=json``) or one
    name per line; ``#`` comments and blank lines are ignored. Raises KitError naming the
    file and line of anything else."""
    text = Path(path).read_text()
    if text.lstrip().startswith("["):
        try:
            return {canonical_name(p["name"]): p.get("version") for p in json.loads(text)}
        except (ValueError, KeyError, TypeError) as exc:
            raise KitError(f"{path}: not a `pip list --format=json` list ({exc})") from None
    packages: Dict[str, Optional[str]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-") or re.fullmatch(r"Package\s+Version.*", line):
            continue  # blank, `-e ...`/`--index-url` lines, the table's header and its ---- rule
        match = _NAME.match(line)
        rest = line[match.end():].strip() if match else ""
        if match and (not rest or rest.startswith("@")):
            version = None
        elif match and rest.startswith("=="):
            version = rest[2:].strip()
        elif match and re.fullmatch(r"\S+(\s+\S.*)?", rest) and not re.match(r"[<>=!~;\[]", rest):
            version = rest.split()[0]  # `pip list`: name, version, [editable location]
        else:
            raise KitError(f"{path}:{number}: not a package line ({raw.strip()!r}); expected `pip freeze`, "
                           "`pip list` or one name per line")
        packages[canonical_name(match.group(1))] = version
    return packages


def manylinux_platforms(glibc: str = "2.28", arch: str = "x86_64") -> List[str]:
    """pip's ``--platform`` tags a node with this glibc runs, newest first: pip matches
    ``manylinux_2_N`` exactly, so every N from the node's down to 17 is named, then the
    legacy aliases (manylinux2014 = 2.17, manylinux2010 = 2.12, manylinux1 = 2.5)."""
    match = re.fullmatch(r"2\.(\d+)", glibc)
    if not match or not 17 <= int(match.group(1)) <= 99:
        raise KitError(f"--glibc must be a glibc version 2.17 or newer such as 2.28, got {glibc!r}")
    minor = int(match.group(1))
    return ([f"manylinux_2_{n}_{arch}" for n in range(minor, 16, -1)]
            + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"])


def python_sources_wheel(package_dir, dest_dir, *, name: str, version: str, requires: Sequence[str] = (),
                         summary: str = "") -> Path:
    """A ``py3-none-any`` wheel of the pure-Python package in ``package_dir`` (its folder is
    the import name), written into ``dest_dir``; ``requires`` become its Requires-Dist.

    For sources that cannot go through ``pip wheel`` (detectron2 v0.6's archive lacks the C++
    sources its setup.py compiles). Byte-for-byte repeatable: entries sorted, timestamps fixed."""
    package_dir = Path(package_dir)
    dist = f"{name.replace('-', '_')}-{version}"
    info = f"{dist}.dist-info"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        f"Summary: {summary}\n" if summary else "",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    wheel_meta = "Wheel-Version: 1.0\nGenerator: hfc_det.utils.offline_kit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files: List[Tuple[str, bytes]] = []
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".so"):
            files.append((f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", path.read_bytes()))
    files += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel_meta.encode())]
    record = "".join(f"{arc},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for arc, data in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    out = Path(dest_dir) / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in files:
            entry = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return out


def strip_weights(src, dest) -> Dict[str, object]:
    """Copy detector weights for the kit, keeping the model's parameters only: a detectron2
    training checkpoint ``{"model": ..., "trainer": ..., "iteration": ...}`` (or a bare state
    dict) becomes ``{"model": state_dict}``, which MODEL.WEIGHTS reads the same way; a .pkl
    (detectron2's model-zoo format) is copied unchanged. Returns what was kept."""
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise KitError(f"--weights: no such file: {src}")
    if src.suffix == ".pkl":
        shutil.copyfile(src, dest)
        return {"from": str(src), "kept": "unchanged (.pkl)"}
    import torch

    try:
        # the user's own checkpoint; detectron2's trainer state holds plain Python objects
        checkpoint = torch.load(src, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001  any unreadable file is the user's mistake
        raise KitError(f"--weights: {src} is not a torch checkpoint ({type(exc).__name__}: {exc})") from None
    model = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(model, dict) or not model:
        raise KitError(f"--weights: {src} holds no state dict (neither {{'model': ...}} nor parameters)")
    torch.save({"model": model}, dest)
    dropped = sorted(set(checkpoint) - {"model"}) if "model" in checkpoint else []
    return {"from": str(src), "kept": "model", "dropped": dropped,
            "parameters": int(sum(v.numel() for v in model.values() if hasattr(v, "numel")))}


#: The pip that resolves: pip 23 checks a constraint's Requires-Python against the building
#: Python rather than --python-version (numpy 2.5 "requires a different Python: 3.11.7").
RESOLVER_PIP = "pip>=25"


class _Pip:
    """A private, recent pip (:data:`RESOLVER_PIP`) run by the building Python, its output kept
    for the one-line error."""

    def __init__(self, python: str, home: Path):
        self.python, self.env = python, None
        self(["install", "--quiet", "--target", str(home), RESOLVER_PIP], f"installing {RESOLVER_PIP} to resolve with")
        self.env = {**os.environ, "PYTHONPATH": str(home)}

    def __call__(self, args: Sequence[str], what: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.python, "-m", "pip", *args], capture_output=True, text=True, env=self.env)
        if proc.returncode:
            raise _pip_failure(what, proc.stderr + proc.stdout)
        return proc


def _target_options(python_version: str, platforms: Sequence[str]) -> List[str]:
    abi = "cp" + python_version.replace(".", "")
    return (["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp", "--abi", abi]
            + [opt for p in platforms for opt in ("--platform", p)])


def _report(pip: _Pip, requirements: Sequence[str], options: Sequence[str], work: Path, what: str) -> List[dict]:
    """pip's own resolution of ``requirements`` (``pip install --dry-run --report``): one
    entry per package, ``{"name", "version", "url"}``."""
    report = work / "report.json"
    pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), "--target",
         str(work / "unused"), *options, *requirements], what)
    return [{"name": canonical_name(item["metadata"]["name"]), "version": item["metadata"]["version"],
             "url": item["download_info"]["url"]} for item in json.loads(report.read_text())["install"]]


def _build_pure_wheels(pip: _Pip, entries: Iterable[dict], built: Path) -> List[str]:
    """Wheels of the source-only packages among ``entries``, built here (any Python runs a
    pure-Python wheel); refuses a package that compiles code."""
    names = []
    for e in entries:
        if e["url"].endswith(".whl"):
            continue
        pip(["wheel", "--no-deps", "--quiet", "-w", str(built), f"{e['name']}=={e['version']}"],
            f"building a wheel of {e['name']} {e['version']} (published as source only)")
        made = [w for w in built.glob("*.whl") if canonical_name(w.name.split("-")[0]) == e["name"]]
        if not made or not made[0].name.endswith("-none-any.whl"):
            raise KitError(f"{e['name']} {e['version']} has no wheel for the node and is not pure Python "
                           f"({made[0].name if made else 'no wheel built'}); build it on a machine with the node's Python")
        names.append(e["name"])
    return names


def _available(pip: _Pip, name: str, version: str, options: Sequence[str]) -> bool:
    proc = subprocess.run([pip.python, "-m", "pip", "index", "versions", name, *options], capture_output=True, text=True,
                          env=pip.env)
    listed = re.search(r"Available versions: (.*)", proc.stdout)
    return bool(listed) and version in [v.strip() for v in listed.group(1).split(",")]


def _project_requirements(wheel: Path) -> List[str]:
    """Requires-Dist of a wheel, without the ones behind an extra."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    return [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:") and "extra ==" not in ln]


def _requirement_name(requirement: str) -> str:
    return canonical_name(re.split(r"[<>=!~;\[ (@]", requirement.strip(), 1)[0])


def detectron2_sources(project: Path, python: str, dest: Path) -> List[str]:
    """detectron2 v0.6's Python sources in ``dest/detectron2`` as the project installs them
    offline (``tools/install_detectron2.sh --python-sources``); returns their requirements."""
    proc = subprocess.run(["bash", str(project / "tools" / "install_detectron2.sh"), "--python-sources", str(dest),
                           python], capture_output=True, text=True)
    if proc.returncode:
        raise _pip_failure("fetching detectron2's sources", proc.stderr)
    return (dest / "requirements.txt").read_text().split()


def _git_state(project: Path) -> Dict[str, object]:
    def git(*args):
        proc = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no"))
            if commit else None}


def build_kit(output, *, node_packages: Optional[Dict[str, Optional[str]]] = None, python_version: str = "3.12",
              glibc: str = "2.28", weights: Sequence[Tuple[str, str]] = (), also: Sequence[str] = (),
              max_mib: float = DEFAULT_MAX_MIB, project=ROOT, python: str = sys.executable,
              log: Callable[[str], None] = print) -> Dict[str, object]:
    """Build the kit in ``output`` (replaced only once the new one is complete and within
    ``max_mib``); returns its manifest (also written as ``output/kit.json``).

    Args:
        node_packages: ``{canonical name: version or None}`` the node has (not carried;
            versions pin the resolution where the index has them). None: only torch and
            torchvision are the node's.
        python_version, glibc: the node's Python (``3.12``) and C library (``2.28``: wheels for
            glibc 2.17-2.28, which most clusters run).
        weights: ``(file, name)`` pairs carried as ``weights/<name>.pth`` (model only).
        also: more requirements to carry with their dependencies (pip syntax).
    """
    if not re.fullmatch(r"3\.\d+", python_version):
        raise KitError(f"--python-version must look like 3.12, got {python_version!r}")
    platforms = manylinux_platforms(glibc)
    node = dict(node_packages or {})
    provided = set(node) | set(ALWAYS_PROVIDED)
    out = Path(output).resolve()
    # refused before any download: a folder that is not an earlier kit is never replaced
    if out.exists() and not (out / KIT_MANIFEST).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise KitError(f"{out} exists and is not a kit (no {KIT_MANIFEST}); choose another folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None))
    try:
        work, wheels, built = tmp / "work", tmp / "kit" / "wheels", tmp / "work" / "built"
        for d in (work, wheels, built):
            d.mkdir(parents=True)
        pip = _Pip(python, work / "pip")
        log(f"[kit] hfc_det wheel from {project}")
        # built from a copy, so that the build's build/ and *.egg-info stay out of the checkout
        source = work / "project"
        source.mkdir()
        for name in PROJECT_FILES:
            copy = shutil.copytree if (project / name).is_dir() else shutil.copy2
            copy(project / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                   if (project / name).is_dir() else {}))
        pip(["wheel", "--no-deps", "--quiet", "-w", str(wheels), str(source)], "building hfc_det's wheel")
        project_wheel = next(wheels.glob("hfc_det-*.whl"))
        log("[kit] detectron2's Python sources (tools/install_detectron2.sh --python-sources)")
        d2 = work / "detectron2"
        d2_requires = detectron2_sources(project, python, d2)
        python_sources_wheel(d2 / "detectron2", wheels, name="detectron2", version=DETECTRON2_VERSION,
                             requires=d2_requires, summary="detectron2 v0.6 Python sources without compiled ops "
                             "(hfc_det offline kit; hfc_det.compat makes them work)")

        roots = [r for r in [*_project_requirements(project_wheel), *d2_requires, *EXTRA_REQUIREMENTS, *also]
                 if _requirement_name(r) not in provided]
        log(f"[kit] resolving {len(roots)} requirements for CPython {python_version} ({platforms[0]} and older)")
        # pass 1, on this Python: which packages are published as source only (built here)
        source_only = _build_pure_wheels(pip, _report(pip, roots, ["--find-links", str(built)], work,
                                                      "resolving the requirements"), built)
        target = [*_target_options(python_version, platforms), "--find-links", str(built)]
        # pass 2, for the node, pinned to the node's versions of what it has, where the index has them
        first = _report(pip, roots, target, work, f"resolving for CPython {python_version}")
        pins, unchecked = {}, []
        for e in first:
            version = node.get(e["name"])
            if e["name"] in node and version:
                (pins.__setitem__(e["name"], version) if _available(pip, e["name"], version, target)
                 else unchecked.append(f"{e['name']}=={version}"))
        resolved = first
        if pins:
            constraints = work / "node-constraints.txt"
            constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
            resolved = _report(pip, roots, [*target, "-c", str(constraints)], work,
                               "resolving against the node's own package versions")
        carried = sorted((e for e in resolved if e["name"] not in provided), key=lambda e: e["name"])
        left_to_node = sorted({e["name"] for e in resolved} - {e["name"] for e in carried})
        log(f"[kit] downloading {len(carried)} wheels ({len(left_to_node)} more are the node's own)")
        if carried:
            pip(["download", "--no-deps", "--quiet", "-d", str(wheels), *target,
                 *(f"{e['name']}=={e['version']}" for e in carried)], "downloading the wheels")
        no_deps = [r for r in NO_DEPS if _requirement_name(r) not in provided]
        if no_deps:
            pip(["download", "--no-deps", "--quiet", "-d", str(wheels), *target, *no_deps],
                "downloading " + ", ".join(no_deps))

        entries = []
        for whl in sorted(wheels.glob("*.whl")):
            name = canonical_name(whl.name.split("-")[0])
            how = ("the project" if name == "hfc-det" else "detectron2 v0.6 Python sources" if name == "detectron2"
                   else "built here (source only on the index)" if name in source_only
                   else "without its requirements" if name in {_requirement_name(r) for r in NO_DEPS} else "index")
            entries.append({"file": f"wheels/{whl.name}", "name": name, "version": whl.name.split("-")[1],
                            "bytes": whl.stat().st_size, "sha256": sha256_file(whl), "source": how})
        names = [e["name"] for e in entries]
        if len(set(names)) != len(names):  # two versions of one package stop the whole install
            raise KitError("two wheels of one package: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
        carried_weights = []
        if weights:
            (tmp / "kit" / "weights").mkdir()
        for src, name in weights:
            dest = tmp / "kit" / "weights" / f"{name}.pth"
            kept = strip_weights(src, dest)
            carried_weights.append({"file": f"weights/{dest.name}", "bytes": dest.stat().st_size,
                                    "sha256": sha256_file(dest), **kept})
        total = sum(e["bytes"] for e in entries + carried_weights)
        manifest = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python_version": python_version, "platforms": platforms,
            "install": "python3 -m pip install --no-index --no-deps --target SITE KIT/wheels/*.whl",
            "hfc_det": {"version": next(e["version"] for e in entries if e["name"] == "hfc-det"), **_git_state(project)},
            "wheels": entries, "weights": carried_weights,
            "left_to_node": left_to_node, "always_left_to_node": list(ALWAYS_PROVIDED),
            "node_pins": pins, "node_pins_not_on_index": unchecked,
            "total_bytes": total, "max_bytes": int(max_mib * 2 ** 20),
        }
        if total > manifest["max_bytes"]:
            biggest = sorted(entries + carried_weights, key=lambda e: -e["bytes"])[:3]
            raise KitError(f"the kit would be {total / 2 ** 20:.1f} MiB, over --max-mib {max_mib:g} (largest: "
                           + ", ".join(f"{Path(e['file']).name} {e['bytes'] / 2 ** 20:.1f} MiB" for e in biggest)
                           + "); pass the node's package list (--node-packages) so that what it has is not carried")
        (tmp / "kit" / KIT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp / "kit", out)
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def kit_table(manifest: Dict[str, object]) -> str:
    """The kit's packages and weights (name, version, size, where from) as an aligned table
    and its total."""
    rows = [(e["name"], e["version"], e["bytes"], e["source"]) for e in manifest["wheels"]]
    rows += [(Path(e["file"]).name, "", e["bytes"], f"weights ({e['kept']})") for e in manifest["weights"]]
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    lines = [f"{a:<{w0}}  {b:<{w1}}  {c / 2 ** 20:6.2f} MiB  {d}" for a, b, c, d in rows]
    lines.append(f"{'total':<{w0}}  {'':<{w1}}  {manifest['total_bytes'] / 2 ** 20:6.2f} MiB  "
                 f"{len(rows)} files, at most {manifest['max_bytes'] / 2 ** 20:g} MiB")
    return "\n".join(lines)
