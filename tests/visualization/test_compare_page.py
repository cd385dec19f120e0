"""tools/compare_runs.py end to end on hand-made run folders (tests/helpers/report_fixture.py):
its outputs, its one-line refusals, and the page in a real headless Chromium."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from helpers.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from helpers.report_fixture import DEMO_VIEWS, make_views_folder

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "compare_runs.py"


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare_page")
    runs = [make_views_folder(root / "tied", seed=1, reliance=10),
            make_views_folder(root / "free", seed=2, reliance=24, errors=False),
            make_views_folder(root / "third", views=DEMO_VIEWS[:-1], seed=3, reliance=40)]
    out = root / "out"
    proc = _run(*runs, "--labels", "tied", "free", "third", "--output", out, "--bootstrap-resamples", "500")
    assert proc.returncode == 0, proc.stderr
    return runs, out, proc


def test_tool_writes_json_figure_and_page(compared):
    runs, out, proc = compared
    assert {p.name for p in out.iterdir()} == {"comparison.json", "ap_vs_frequency.png", "ap_vs_frequency.csv",
                                               "index.html"}
    c = json.loads((out / "comparison.json").read_text())
    assert c["labels"] == ["tied", "free", "third"] and c["partial_views"] == {"blur_s4": ["tied", "free"]}
    assert c["figure"]["kinds"] == ["low", "high", "band", "blur"]
    assert "note: view blur_s4 only in tied, free" in proc.stderr
    assert f"comparison: {out / 'index.html'}" in proc.stdout
    # the printed table: one line per run with its LFC half radius
    half = c["reliance"]["tied"]["lfc_half_radius"]
    assert re.search(rf"^tied\s+\S+\s+{half:.1f}\s", proc.stdout, re.M)
    with Image.open(out / "ap_vs_frequency.png") as im:
        assert im.size[0] <= 1400


def test_page_tables_show_the_json_numbers(compared):
    _, out, _ = compared
    c = json.loads((out / "comparison.json").read_text())
    html = (out / "index.html").read_text()
    row = re.search(r'<tr data-view="low_r16">(.*?)</tr>', html).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    for label, shown in (("tied", cells[1:3]), ("third", cells[-2:])):
        entry = c["ap"][label]["low_r16"]
        assert shown == [f'{entry["AP"]:.1f}', f'{entry["relative_AP"]:.2f}']
    assert html.count('<table class="pair"') == 3 and "free vs third" in html
    assert "Not computed for: free" in html
    assert not re.search(r'(src|href)="\w+://', html)  # nothing from outside


@pytest.mark.parametrize("args, message", [
    (["{a}", "{b}", "--labels", "x"], "--labels gives 1 labels for 2 runs"),
    (["{a}", "{other}"], "the runs are on different datasets"),
    (["{a}", "{missing}"], "no output folder"),
    (["{a}", "{b}", "--bootstrap-resamples", "0"], "--bootstrap-resamples must be >= 1"),
])
def test_refusals_are_one_line(compared, tmp_path, args, message):
    runs = compared[0]
    other = make_views_folder(tmp_path / "other", views=DEMO_VIEWS[:4], dataset_name="coco_2017_val")
    args = [a.format(a=runs[0], b=runs[1], other=other, missing=tmp_path / "missing") for a in args]
    proc = _run(*args, "--output", tmp_path / "out")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
        proc.stderr
    assert not (tmp_path / "out" / "index.html").exists()


@needs_chromium
def test_page_opens_in_chromium(compared):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (into .venv)")
    out = compared[1]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
        assert images and all(done and width > 0 for done, width in images)
        assert page.locator("#ap tbody tr").count() == len(DEMO_VIEWS)
        assert page.locator("#reliance tbody tr").count() == 3
        # the AP table and the figure fit a 1400 px window: no sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400
        page.screenshot(path=str(out / "screenshot.png"), full_page=True)
        browser.close()
    assert errors == []
