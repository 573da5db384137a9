"""One real-browser walk through the app: Data -> Scores -> Map -> Tune -> Export, then download.

It starts ``streamlit run workbench/app.py`` on a free port with a fresh cache folder and drives
Debian's chromium (headless) through Playwright. Chromium missing is a failure, not a skip:
``.ci/run`` installs it, so CI always runs this test.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit_server import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url():
    browser_path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    assert browser_path, "chromium is not installed: run `apt-get install -y chromium` (.ci/run does this)"
    port = free_port()
    cache_dir = tempfile.mkdtemp(prefix="workbench-browser-cache-")
    env = dict(os.environ, WORKBENCH_CACHE_DIR=cache_dir, WORKBENCH_UMAP="off", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "streamlit", "run", "workbench/app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    try:
        with open(Path(cache_dir) / "server.log", "w") as log, serving(command, port, cwd=ROOT, env=env, log=log):
            yield f"http://127.0.0.1:{port}", browser_path
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def _nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)


def _metric_value(page, label_start: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=label_start).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_whole_flow_in_a_real_browser(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    url, browser_path = app_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
            page.set_default_timeout(60_000)
            page.goto(url)
            # Data: the known-answer sample is preloaded on first open
            page.get_by_role("heading", name="Sample: known_answer").wait_for(timeout=120_000)
            assert _metric_value(page, "Rows") == "3,000"

            # Scores: compute the default (cheap) set
            _nav(page, "Scores")
            page.get_by_role("button", name="Compute").first.click()
            page.get_by_role("tab", name="Distributions").wait_for(timeout=240_000)

            # Map: a box/lasso drag selects points (plotly selection event); force-drop them
            _nav(page, "Map")
            page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=60_000)
            time.sleep(2)  # plotly draws after the element appears
            area = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first.bounding_box()
            x, y = area["x"] + 0.25 * area["width"], area["y"] + 0.25 * area["height"]
            page.mouse.move(x, y)
            page.mouse.down()
            for dx, dy in ((0.5, 0), (0.5, 0.5), (0, 0.5), (0, 0)):
                page.mouse.move(x + dx * area["width"], y + dy * area["height"], steps=6)
            page.mouse.up()
            page.get_by_role("button", name="Force drop").click()
            page.get_by_text("Map edits (1)").wait_for()

            # Tune: moving the keep slider changes the estimate and the rows kept
            _nav(page, "Tune")
            page.locator('[data-testid="stMetric"]', has_text="Rows kept").wait_for()
            before = _metric_value(page, "Rows kept")
            thumb = page.get_by_role("slider").first
            thumb.focus()
            for _ in range(20):
                thumb.press("ArrowLeft")
            deadline = time.time() + 60
            while _metric_value(page, "Rows kept") == before and time.time() < deadline:
                time.sleep(0.5)
            assert _metric_value(page, "Rows kept") != before
            settled, value = None, _metric_value(page, "Rows kept")
            while settled != value:  # each key press reruns the page: wait for the last one
                time.sleep(1.5)
                settled, value = value, _metric_value(page, "Rows kept")

            # Export: the downloaded rows are exactly the selection's rows
            _nav(page, "Export")
            n_kept = int(_metric_value(page, "Rows kept").replace(",", ""))
            assert f"{n_kept:,}" == settled  # the Tune choice carried over to Export
            with page.expect_download(timeout=60_000) as rows_info:
                page.get_by_role("button", name="Kept rows (CSV)").click()
            rows_path = tmp_path / "kept.csv"
            rows_info.value.save_as(rows_path)
            with page.expect_download(timeout=60_000) as manifest_info:
                page.get_by_role("button", name="Manifest (JSON)").click()
            manifest_path = tmp_path / "manifest.json"
            manifest_info.value.save_as(manifest_path)
            page.screenshot(path=str(tmp_path / "export.png"), full_page=True)
        finally:
            browser.close()

    kept = pd.read_csv(io.StringIO(rows_path.read_text()))
    manifest = json.loads(manifest_path.read_text())
    assert len(kept) == n_kept == manifest["n_kept"]
    assert kept["id"].tolist() == manifest["kept_ids"]
    assert list(kept.columns[:2]) == ["id", "f0"]  # original columns, original order
