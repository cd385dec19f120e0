"""hfc_det.utils.offline_kit and tools/offline_kit.py: the node's package list in every pip
format, the platform tags, the hand-made wheel (installed by pip and checked against its
RECORD with hashlib), the weights kept for the kit, and build_kit's own logic (what is
carried, the manifest against the files, the size refusal that leaves the last kit alone)
with pip's network stages replaced; the real build, which needs the index, is a slow test."""
import base64
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from hfc_det.utils import offline_kit as kit
from hfc_det.utils.offline_kit import KitError

ROOT = Path(__file__).resolve().parents[2]


def test_package_list_formats(tmp_path):
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("# pip freeze\nnumpy==2.5.2\nPyYAML==6.0.1\nhydra_core==1.3.2\n-e git+https://x/y#egg=z\n"
                      "mypkg @ file:///tmp/mypkg\n\n")
    assert kit.read_package_list(freeze) == {"numpy": "2.5.2", "pyyaml": "6.0.1", "hydra-core": "1.3.2", "mypkg": None}
    table = tmp_path / "list.txt"
    table.write_text("Package    Version\n---------- -------\ntorch      2.11.0\nscikit_learn 1.8.0 /src/sk\n")
    assert kit.read_package_list(table) == {"torch": "2.11.0", "scikit-learn": "1.8.0"}
    as_json = tmp_path / "list.json"
    as_json.write_text(json.dumps([{"name": "Pillow", "version": "12.0"}, {"name": "tqdm", "version": "4.67"}]))
    assert kit.read_package_list(as_json) == {"pillow": "12.0", "tqdm": "4.67"}
    names = tmp_path / "names.txt"
    names.write_text("scipy\nopencv-python-headless  # the node's cv2\n")
    assert kit.read_package_list(names) == {"scipy": None, "opencv-python-headless": None}


def test_package_list_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("numpy==2.5\nnumpy>=2\n")
    with pytest.raises(KitError, match=r"bad.txt:2: not a package line"):
        kit.read_package_list(bad)


def test_platforms_cover_every_glibc_down_to_2_17():
    tags = kit.manylinux_platforms("2.28")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert [t for t in tags if t.startswith("manylinux_2_")] == [f"manylinux_2_{n}_x86_64" for n in range(28, 16, -1)]
    for bad in ("2.5", "3.1", "228"):
        with pytest.raises(KitError, match="--glibc"):
            kit.manylinux_platforms(bad)


def _package(tmp_path, name="toypkg"):
    pkg = tmp_path / "src" / name
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 42\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "data.yaml").write_text("a: 1\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    return pkg


def test_python_sources_wheel_installs_and_matches_its_record(tmp_path):
    pkg = _package(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whl = kit.python_sources_wheel(pkg, tmp_path / "a", name="toypkg", version="0.6", requires=["numpy>=1"])
    again = kit.python_sources_wheel(pkg, tmp_path / "b", name="toypkg", version="0.6", requires=["numpy>=1"])
    assert whl.name == "toypkg-0.6-py3-none-any.whl" and whl.read_bytes() == again.read_bytes()  # repeatable
    with zipfile.ZipFile(whl) as zf:
        names = zf.namelist()
        assert not any("__pycache__" in n for n in names) and "toypkg/sub/data.yaml" in names
        for path, digest, size in csv.reader(io.StringIO(zf.read("toypkg-0.6.dist-info/RECORD").decode())):
            if path.endswith("RECORD"):
                continue
            data = zf.read(path)
            assert int(size) == len(data)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                           str(target), str(whl)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    probe = ("import importlib.metadata as m, toypkg, toypkg.sub; "
             "print(toypkg.VALUE, m.version('toypkg'), m.requires('toypkg'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split(None, 2) == ["42", "0.6", "['numpy>=1']\n"], out.stderr


def test_strip_weights_keeps_the_model_only(tmp_path):
    model = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    torch.save({"model": model, "trainer": {"lr": 0.1}, "iteration": 99}, tmp_path / "ckpt.pth")
    kept = kit.strip_weights(tmp_path / "ckpt.pth", tmp_path / "out.pth")
    loaded = torch.load(tmp_path / "out.pth", weights_only=True)
    assert set(loaded) == {"model"} and all(torch.equal(loaded["model"][k], v) for k, v in model.items())
    assert kept["dropped"] == ["iteration", "trainer"] and kept["parameters"] == 8
    torch.save(model, tmp_path / "bare.pth")  # a bare state dict is wrapped the same way
    kit.strip_weights(tmp_path / "bare.pth", tmp_path / "out2.pth")
    assert set(torch.load(tmp_path / "out2.pth", weights_only=True)) == {"model"}
    (tmp_path / "zoo.pkl").write_bytes(b"pickled")  # detectron2's model-zoo format: unchanged
    kit.strip_weights(tmp_path / "zoo.pkl", tmp_path / "zoo_copy.pkl")
    assert (tmp_path / "zoo_copy.pkl").read_bytes() == b"pickled"
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(KitError, match="not a torch checkpoint"):
        kit.strip_weights(tmp_path / "text.pth", tmp_path / "x.pth")
    with pytest.raises(KitError, match="no such file"):
        kit.strip_weights(tmp_path / "missing.pth", tmp_path / "x.pth")


class FakePip:
    """pip's network stages on a made-up index: the project requires numpy (the node's),
    torch (never carried), ``binpkg`` (a wheel, which requires numpy) and ``srconly`` (a source
    archive only); every wheel it 'downloads' is a real one made by python_sources_wheel."""

    INDEX = {"binpkg": ("1.2", "https://x/binpkg-1.2-cp312-cp312-manylinux_2_17_x86_64.whl"),
             "srconly": ("0.3", "https://x/srconly-0.3.tar.gz"), "numpy": ("2.5.2", "https://x/numpy-2.5.2.whl"),
             "pycocotools": ("2.0.11", "https://x/pycocotools-2.0.11.whl"), "tidecv": ("1.0.1", "https://x/t.whl")}
    calls = []
    sources = None  # a folder outside the kit (the fixture's)

    def __init__(self, python, home):
        self.python, self.env = python, None

    def _wheel(self, name, version, dest):
        pkg = FakePip.sources / name.replace("-", "_")  # not in the kit: only the wheel goes there
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text(f"# {name} {version}\n" + "#" * 2000)
        return kit.python_sources_wheel(pkg, dest, name=name, version=version,
                                        requires=["numpy", "torch", "binpkg", "srconly"] if name == "hfc_det" else [])

    def __call__(self, args, what):
        FakePip.calls.append(list(args))
        if args[0] == "wheel":
            dest, spec = args[args.index("-w") + 1], args[-1]
            name, version = spec.split("==") if "==" in spec else ("hfc_det", "0.1.0")
            self._wheel(name, version, dest)
        elif args[0] == "install":
            report = Path(args[args.index("--report") + 1])
            wanted = {"binpkg", "srconly", "numpy", "pycocotools"}  # the closure of the roots
            report.write_text(json.dumps({"install": [
                {"metadata": {"name": n, "version": self.INDEX[n][0]}, "download_info": {"url": self.INDEX[n][1]}}
                for n in sorted(wanted)]}))
        elif args[0] == "download":
            dest = args[args.index("-d") + 1]
            for spec in (a for a in args if "==" in a):
                self._wheel(*spec.split("=="), dest)


@pytest.fixture
def fake_index(monkeypatch, tmp_path_factory):
    def fake_d2(project, python, dest):
        (dest / "detectron2").mkdir(parents=True)
        (dest / "detectron2" / "__init__.py").write_text('__version__ = "0.6"\n')
        return ["fvcore", "pycocotools>=2.0.2"]

    FakePip.calls, FakePip.sources = [], tmp_path_factory.mktemp("fake_sources")
    monkeypatch.setattr(kit, "_Pip", FakePip)
    monkeypatch.setattr(kit, "detectron2_sources", fake_d2)
    monkeypatch.setattr(kit, "_available", lambda pip, name, version, options: True)


def test_build_kit_carries_what_the_node_lacks(tmp_path, fake_index):
    out = tmp_path / "kit"
    manifest = kit.build_kit(out, node_packages={"numpy": "2.5.2", "fvcore": None}, log=lambda m: None)
    names = {w["name"] for w in manifest["wheels"]}
    # numpy and fvcore are the node's, torch never carried; srconly built here from its archive
    assert names == {"hfc-det", "detectron2", "binpkg", "srconly", "pycocotools", "tidecv"}
    assert manifest["left_to_node"] == ["numpy"] and manifest["node_pins"] == {"numpy": "2.5.2"}
    sources = {w["name"]: w["source"] for w in manifest["wheels"]}
    assert sources["srconly"].startswith("built here") and sources["tidecv"] == "without its requirements"
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == sorted([w["file"] for w in manifest["wheels"]] + ["kit.json"])
    for w in manifest["wheels"]:
        data = (out / w["file"]).read_bytes()
        assert w["bytes"] == len(data) and w["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["total_bytes"] == sum(w["bytes"] for w in manifest["wheels"])
    assert json.loads((out / "kit.json").read_text()) == manifest
    resolve = [c for c in FakePip.calls if c[0] == "install"]
    assert any("-c" in c for c in resolve), "the node's versions must pin the last resolution"
    assert all(not any(a.startswith(("torch", "numpy")) for a in c) for c in resolve), "provided roots are dropped"
    assert [p.name for p in tmp_path.iterdir()] == ["kit"], "no temporary folder left beside the kit"


def test_a_kit_over_the_limit_is_refused_and_the_last_one_kept(tmp_path, fake_index):
    out = tmp_path / "kit"
    kit.build_kit(out, node_packages={"numpy": None}, log=lambda m: None)
    before = (out / "kit.json").read_text()
    with pytest.raises(KitError, match=r"over --max-mib 0.001 \(largest: .*--node-packages"):
        kit.build_kit(out, node_packages={"numpy": None}, max_mib=0.001, log=lambda m: None)
    assert (out / "kit.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kit"]
    other = tmp_path / "notakit"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    FakePip.calls = []
    with pytest.raises(KitError, match="is not a kit"):
        kit.build_kit(other, log=lambda m: None)
    assert (other / "keep.txt").read_text() == "mine"
    assert FakePip.calls == [], "a folder that is not a kit is refused before anything is downloaded"
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    with pytest.raises(KitError, match="is not a kit"):
        kit.build_kit(a_file, log=lambda m: None)
    assert a_file.read_text() == "mine"


def _tool(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "offline_kit.py"), *map(str, args)],
                          capture_output=True, text=True)


def test_tool_bad_calls_are_one_line_errors(tmp_path):
    (tmp_path / "bad.txt").write_text("numpy<2\n")
    for args, message in [((tmp_path / "k", "--max-mib", "0"), "--max-mib must be positive"),
                          ((tmp_path / "k", "--node-packages", tmp_path / "missing.txt"), "missing.txt"),
                          ((tmp_path / "k", "--node-packages", tmp_path / "bad.txt"), "bad.txt:1: not a package line"),
                          ((tmp_path / "k", "--weights", "x.pth:bad/name"), "NAME may hold")]:
        proc = _tool(*args)
        assert proc.returncode == 1 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "k").exists()


@pytest.mark.slow
def test_real_kit_builds_and_installs_on_python_312(tmp_path):
    """Needs the package index; installs into a fresh target with Python 3.12 where one is found."""
    node = tmp_path / "node.txt"
    shutil.copy(ROOT / "benchmarks" / "gpu_node_packages.txt", node)
    proc = _tool(tmp_path / "kit", "--node-packages", node)
    if proc.returncode and "failed" in proc.stderr and "index" in proc.stderr.lower():
        pytest.skip(f"package index not reachable: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((tmp_path / "kit" / "kit.json").read_text())
    names = {w["name"] for w in manifest["wheels"]}
    assert {"hfc-det", "detectron2", "pycocotools", "faster-coco-eval", "fvcore", "omegaconf", "hydra-core"} <= names
    assert not names & {"torch", "torchvision", "numpy", "scipy"} and manifest["total_bytes"] < 64 * 2 ** 20
    candidates = [shutil.which("python3.12"), *Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12")]
    py312 = next((c for c in candidates if c and subprocess.run([str(c), "-c", "pass"], capture_output=True).returncode == 0),
                 None)  # a pyenv shim exists but fails where 3.12 is not the selected version
    if not py312:
        pytest.skip("no Python 3.12 here to install the kit into")
    wheels = sorted(str(p) for p in (tmp_path / "kit" / "wheels").glob("*.whl"))
    proc = subprocess.run([str(py312), "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                           str(tmp_path / "site"), *wheels], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    probe = "import importlib.metadata as m; print(m.version('hfc_det'), m.version('detectron2'))"
    out = subprocess.run([str(py312), "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["0.1.0", "0.6"], out.stderr
