"""report.html in a real headless Chromium: it renders, searches, filters and drills down, offline."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalsuite.gates import check_baseline, check_min_score
from evalsuite.metrics import summarize
from evalsuite.reports import write_reports

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT_COPY = Path("/tmp/report_screenshot.png")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    if CHROMIUM is None or not Path(CHROMEDRIVER).exists():
        pytest.skip("needs chromium and chromedriver (apt-get install -y chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}",
    ):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def pair(make_run) -> tuple:
    """(baseline, run) of the report."""
    return make_run("base-run", skill=0.0), make_run("ft-run", skill=0.2)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, pair) -> Path:
    base, run = pair
    summary = summarize(run.items, ks=(1, 4))
    gates = check_min_score(summary, {"math500": 0.6, "aime24": 0.2}) + check_baseline(run, base)
    out = tmp_path_factory.mktemp("run")
    return write_reports(out, run, summary, gates, baseline=base)["html"]


def _wait(drv, condition, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout).until(condition)


def test_report_renders_searches_and_drills_down(driver, report: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    drv = driver
    drv.get(report.as_uri())
    _wait(drv, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    # The embedded outputs contain </script><script>alert(...)</script>: nothing may execute.
    assert drv.execute_script("return window.__xss === undefined")
    logs = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert not logs, logs

    body_text = drv.find_element(By.TAG_NAME, "body").text
    assert "FAILED" in body_text or "PASSED" in body_text
    assert "math500" in drv.find_element(By.ID, "summary-table").text
    assert drv.find_elements(By.CSS_SELECTOR, "svg.bars rect.bar"), "benchmark bar chart is empty"
    assert drv.find_elements(By.CSS_SELECTOR, "#length-hist rect.bar"), "length histogram is empty"
    assert "Against baseline base-run" in body_text

    count = drv.find_element(By.ID, "item-count")
    total = int(count.text.split()[-2])
    drv.find_element(By.ID, "search").send_keys("geometry/level2")
    # The search is debounced while typing: wait for the table of the full query.
    _wait(
        drv,
        lambda d: d.execute_script(
            "const ids = [...document.querySelectorAll('#items-body tr.item-row')].map(r => r.dataset.id);"
            "return ids.length > 0 && ids.every(i => i.includes('geometry/level2'))"
            " && document.getElementById('item-count').textContent.startsWith(ids.length + ' of ');"
        ),
    )
    rows = drv.find_elements(By.CSS_SELECTOR, "#items-body tr.item-row")
    assert 0 < len(rows) < total
    assert all("geometry/level2" in r.get_attribute("data-id") for r in rows)

    rows[0].click()
    drill = _wait(
        drv,
        lambda d: d.find_element(By.ID, "drill") if d.find_element(By.ID, "drill").is_displayed() else None,
    )
    text = drill.text
    assert rows[0].get_attribute("data-id") in text
    low = text.lower()  # headings are upper-cased by CSS
    assert all(h in low for h in ("gold answer", "prompt", "this run ft-run", "baseline base-run"))
    outputs = [o.text for o in drill.find_elements(By.CSS_SELECTOR, "pre.output")]
    assert len(outputs) == 2 and any(o.strip() for o in outputs)
    # The prompt's literal HTML is shown as text, not rendered.
    assert "<b>HTML</b>" in drill.find_element(By.CSS_SELECTOR, "pre.prompt").text
    shot = tmp_path / "drill.png"
    drv.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY.with_name("report_drill_screenshot.png"))
    drv.find_element(By.ID, "drill-close").click()
    assert not drv.find_element(By.ID, "drill").is_displayed()

    search = drv.find_element(By.ID, "search")
    search.clear()
    search.send_keys(" ")  # clear() does not fire "input"
    Select(drv.find_element(By.ID, "filter-status")).select_by_value("error")
    # Read the re-rendered table inside the page in one go: element handles taken from Python go
    # stale when the table renders again between two reads.
    _wait(
        drv,
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('#items-body td:nth-child(5) .badge')]"
            ".every(b => b.innerText.trim() === 'error')"
        ),
    )
    assert drv.find_elements(By.CSS_SELECTOR, "#items-body tr.item-row")
    Select(drv.find_element(By.ID, "filter-status")).select_by_value("")
    drv.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "report.png"
    drv.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, SCREENSHOT_COPY)


def test_comparison_lists_subgroups_worst_first_and_flips_side_by_side(
    driver, report: Path, pair, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    from evalsuite.comparison import benchmarks_only, compare_runs_grouped, worst_first

    base, run = pair
    cmp = compare_runs_grouped(run, base)
    expected = []
    for bench in benchmarks_only(cmp):
        subs = [c for c in cmp if c.benchmark == bench.benchmark and c.key is not None]
        expected += [bench.name, *(c.name for c in worst_first(subs))]
    drv = driver
    drv.get(report.as_uri())
    _wait(drv, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    rows = drv.execute_script(
        "return [...document.querySelectorAll('#comparison-table tbody tr')]"
        ".map(r => [r.dataset.name || '', r.children[7] ? r.children[7].textContent : ''])"
    )
    assert [name for name, _ in rows] == expected
    by_name = {c.name: c for c in cmp}
    for name, shown in rows:  # the corrected p of the family, "–" for groups too small to gate
        adjusted = by_name[name].p_adjusted
        assert shown == ("–" if adjusted is None else f"{adjusted:.4f}"), name
    flips = drv.find_elements(By.CSS_SELECTOR, "table.flip-table tr.flip-row")
    assert len(flips) == sum(len(c.flipped_down) + len(c.flipped_up) for c in benchmarks_only(cmp))
    first = flips[0]
    cells = [td.text for td in first.find_elements(By.TAG_NAME, "td")]
    assert cells[1].split()[0] == "correct" and cells[2].split()[0] == "wrong" and cells[3] == "–"
    first.find_element(By.CSS_SELECTOR, "button.flip").click()
    drill = _wait(
        drv,
        lambda d: d.find_element(By.ID, "drill") if d.find_element(By.ID, "drill").is_displayed() else None,
    )
    assert first.get_attribute("data-id") in drill.text
    assert len(drill.find_elements(By.CSS_SELECTOR, "pre.output")) == 2  # baseline and this run, side by side
    shot = tmp_path / "comparison.png"
    drv.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY.with_name("report_comparison_screenshot.png"))
