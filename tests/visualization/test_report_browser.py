"""The report page in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Needs ``apt-get install -y chromium`` and ``pip install playwright``; no browser is
downloaded at run time. Skipped, with the reason, only when /usr/bin/chromium is missing.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from helpers.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from helpers.report_fixture import make_output_folder

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    from hfc_det.visualization.report import build_report
    from hfc_det.metrics.results import load_results_folder

    out = make_output_folder(tmp_path_factory.mktemp("browser"))
    build_report(load_results_folder(out), out / "report", view="low_r8", top_k=2, thumb_size=40,
                 grid_radii=[4, 8], workers=1, progress=False)
    return out / "report"


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (Playwright's sync API allows one session at a time)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (into .venv)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _open(browser, index: Path, width: int):
    """A page of ``index`` whose ``errors`` collects console errors, page errors and failed requests."""
    pg = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    pg.goto(index.as_uri())
    pg.wait_for_load_state("load")
    pg.errors = errors
    return pg


@pytest.fixture(scope="module")
def page(browser, report_dir):
    pg = _open(browser, report_dir / "index.html", 1280)
    yield pg
    pg.close()


def _csv_column(report_dir: Path, column: str):
    with open(report_dir.parent / "per_image_ap.csv", newline="") as f:
        return {int(r["image_id"]): (math.nan if r[column] in ("", "nan") else float(r[column]))
                for r in csv.DictReader(f)}


def _row_ids(page):
    return page.eval_on_selector_all("#images tbody tr", "rows => rows.map(r => Number(r.dataset.imageId))")


def _visible_ids(page):
    return page.eval_on_selector_all("#images tbody tr", "rows => rows.filter(r => !r.hidden).map(r => Number(r.dataset.imageId))")


def test_page_loads_from_file_without_errors_and_every_picture_is_there(page, report_dir):
    # Thumbnails may load lazily: bring every picture into view before checking it.
    page.evaluate("""async () => {
        for (const img of document.images) {
            img.scrollIntoView();
            if (!img.complete) await new Promise(r => { img.onload = img.onerror = r; });
        }
    }""")
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    assert len(images) >= 3 + 2 + 4 + 6  # plots, spectra, gallery panels, thumbnails
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken
    assert page.errors == []
    assert page.title().startswith("hfc_det report")


@pytest.mark.parametrize("column, csv_column", [("ap_low_r8", "ap_low_r8"), ("ap_original", "ap_original")])
def test_clicking_a_header_sorts_rows_by_the_csv_values(page, report_dir, column, csv_column):
    values = _csv_column(report_dir, csv_column)
    defined = sorted((i for i in values if not math.isnan(values[i])), key=lambda i: (values[i], i))
    undefined = [i for i in values if math.isnan(values[i])]
    header = page.locator(f'#images th[data-col="{column}"]')
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    got = _row_ids(page)
    assert [values[i] for i in got[: len(defined)]] == [values[i] for i in defined]
    assert sorted(got[len(defined):]) == sorted(undefined)  # undefined last
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    got = _row_ids(page)
    assert [values[i] for i in got[: len(defined)]] == [values[i] for i in reversed(defined)]
    assert sorted(got[len(defined):]) == sorted(undefined)


def test_filters_hide_rows(page, report_dir):
    values0 = _csv_column(report_dir, "ap_original")
    values1 = _csv_column(report_dir, "ap_low_r8")
    page.fill("#filter-text", "img_005")
    assert _visible_ids(page) == [5]
    assert page.inner_text("#row-count").startswith("1 of 6")
    page.fill("#filter-text", "")
    page.select_option("#filter-kind", "loss")
    expected = {i for i in values0 if values1[i] - values0[i] < 0}
    assert set(_visible_ids(page)) == expected and expected
    page.select_option("#filter-kind", "all")
    assert len(_visible_ids(page)) == len(values0)


def test_screenshot(page, report_dir):
    """Keeps a full-page screenshot next to the report, for a human to look at."""
    path = report_dir / "screenshot.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


@pytest.fixture(scope="module")
def demo_sized_page(browser, tmp_path_factory):
    """The report of a folder with the 24 views of `make demo` (and TIDE), open in Chromium."""
    from hfc_det.metrics.results import load_results_folder
    from hfc_det.visualization.report import build_report

    from helpers.report_fixture import make_views_folder

    out = make_views_folder(tmp_path_factory.mktemp("views24"), seed=4, reliance=4)
    report = build_report(load_results_folder(out), out / "report", top_k=2, thumb_size=40, grid_radii=[8, 16],
                          workers=1, progress=False)
    pg = _open(browser, out / "report" / "index.html", 1400)
    yield pg, out / "report", report
    pg.close()


def _shown_columns(page):
    return page.eval_on_selector_all(
        "#images thead th", "ths => ths.filter(t => getComputedStyle(t).display !== 'none').map(t => t.dataset.col)")


def test_24_views_report_is_legible(demo_sized_page):
    page, report_dir, report = demo_sized_page
    assert page.errors == []
    # the pictures: one panel per view or metric, none wider than the window
    widths = page.eval_on_selector_all(".plots img", "imgs => imgs.map(i => i.naturalWidth)")
    assert widths and max(widths) <= 1400
    assert report["plots"]["ap_difference_hist"]["panels"] == 23 and report["plots"]["overall_ap"]["panels"] == 6
    # the summary table is a heat map: a view below the original is coloured, the original is not
    assert page.eval_on_selector('#summary tbody tr:nth-child(2) td:nth-child(2)', "td => td.style.background")
    assert not page.eval_on_selector('#summary tbody tr:nth-child(1) td:nth-child(2)', "td => td.style.background")
    page.screenshot(path=str(report_dir / "screenshot_24_views.png"), full_page=True)


def test_image_table_columns_are_chosen_by_kind_and_measure(demo_sized_page):
    page = demo_sized_page[0]
    shown = _shown_columns(page)
    assert "ap_low_r8" in shown and "diff_noise_r16" in shown
    assert not [c for c in shown if c and "strict" in c]  # strict off by default with 24 views
    page.uncheck('input[data-group="k-noise"]')
    shown = _shown_columns(page)
    assert not [c for c in shown if c and "noise" in c] and "ap_low_r8" in shown and "ap_original" in shown
    page.check('input[data-group="m-strict"]')
    shown = _shown_columns(page)
    assert "ap_strict_low_r8" in shown and "ap_strict_noise_r8" not in shown
    # sorting still follows the clicked column with columns hidden
    page.locator('#images th[data-col="ap_strict_low_r8"]').click()
    values = page.eval_on_selector_all(
        '#images tbody tr', "rows => rows.map(r => r.querySelector('td:nth-child(' + "
        "(Array.from(document.querySelectorAll('#images thead th')).findIndex(t => t.dataset.col === "
        "'ap_strict_low_r8') + 1) + ')').dataset.value)")
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers)
