"""The map in a real browser: a lasso marks every row inside it, and the legend agrees with the selection.

Starts ``streamlit run workbench/app.py`` on a free port with a fresh cache, uploads a generated
30,000-row table (more than the old 20,000-point display limit, so every row is drawn only because
the map now draws them all), draws a lasso on the PCA map and force-keeps the area. Chromium missing
is a failure, as in tests/test_browser.py.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import map_driver as md
from streamlit_server import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
ROWS = 30_000
WAIT = 300  # seconds: polls, so a loaded machine only makes the test slower

pytestmark = pytest.mark.browser

# counts the drawn points inside a polygon (ray casting), in the map frame: independent of the server's test
INSIDE_JS = """
(p, [xs, ys]) => {
  const x = p.mapX, y = p.mapY;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    let inside = false;
    for (let a = 0, b = xs.length - 1; a < xs.length; b = a++) {
      if ((ys[a] > y[i]) !== (ys[b] > y[i]) &&
          x[i] < (xs[b] - xs[a]) * (y[i] - ys[a]) / (ys[b] - ys[a]) + xs[a]) inside = !inside;
    }
    if (inside) count++;
  }
  return [count, x.length];
}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    browser_path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    assert browser_path, "chromium is not installed: run `apt-get install -y chromium`"
    folder = tmp_path_factory.mktemp("map-browser")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, ROWS)
    X = rng.normal(0, 3, (5, 8))[y] + rng.normal(0, 1, (ROWS, 8))
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i}" for i in range(8)])
    frame["label"] = [f"class_{k}" for k in y]
    data = folder / "map_rows.parquet"
    frame.to_parquet(data, index=False)
    port, cache = free_port(), tempfile.mkdtemp(prefix="workbench-map-browser-")
    env = dict(os.environ, WORKBENCH_CACHE_DIR=cache, WORKBENCH_UMAP="off", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "streamlit", "run", "workbench/app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    try:
        with open(folder / "server.log", "w") as log, serving(command, port, cwd=ROOT, env=env, log=log,
                                                              timeout=WAIT):
            yield f"http://127.0.0.1:{port}", browser_path, data
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _load(page, url: str, data: Path) -> None:
    page.goto(url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    md.settle(page, timeout=WAIT)  # the bundled sample's preload reruns the page: click after it
    page.get_by_text("Upload a file", exact=True).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(data))
    page.get_by_text(f"{data.name} · {ROWS:,} rows").wait_for()
    page.locator(".st-key-data_up_load button").click()
    page.get_by_role("heading", name=f"Loaded — Upload: {data.name}").wait_for()


def _kept_caption(page) -> int:
    text = page.locator('[data-testid="stMain"]').inner_text()
    return int(re.search(r"Current selection keeps ([\d,]+) of", text).group(1).replace(",", ""))


def _hover_shows_a_row_id(page) -> None:
    """Hovering a drawn point shows its legend name and row id (ids are fetched at the first hover)."""
    x, y, view = md.frame(page).locator("#plot").evaluate("p => [p.mapX[0], p.mapY[0], p.mapView]")
    box = md.frame(page).locator("#overlay").bounding_box()
    px = box["x"] + (x - view["x0"]) / (view["x1"] - view["x0"]) * box["width"]
    py = box["y"] + (view["y1"] - y) / (view["y1"] - view["y0"]) * box["height"]
    tip = md.frame(page).locator("#tip")

    def shown():
        page.mouse.move(px + 1, py)
        page.mouse.move(px, py)
        return re.fullmatch(r"(kept|dropped) · id (\d+)", tip.inner_text().strip())

    found = md.until(shown, WAIT, "the hover's row id", 0.2)
    assert 0 <= int(found.group(2)) < ROWS
    page.mouse.move(1, 1)


def test_a_lasso_marks_every_row_inside_it_and_the_legend_agrees(served):
    from playwright.sync_api import sync_playwright

    url, browser_path, data = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(WAIT * 1000)
            _load(page, url, data)
            page.locator('[data-testid="stSidebarNav"] a', has_text="Map").first.click()
            drawn = md.wait_drawn(page, ROWS, timeout=WAIT)  # every row drawn, not a 20k sample
            kept_before = _kept_caption(page)
            _hover_shows_a_row_id(page)
            assert md.legend(page)["kept"] == (kept_before, pytest.approx(kept_before / ROWS, abs=1e-6))

            md.lasso(page, [(0.25, 0.3), (0.7, 0.25), (0.6, 0.75), (0.35, 0.6)])
            selected, shown, inside = md.until(lambda: md.counts(page), WAIT, "the selection count")
            xs, ys = md.until(lambda: md.area_polygon(page), WAIT, "the area outline")  # drawn after the count
            in_browser, n_drawn = md.frame(page).locator("#plot").evaluate(INSIDE_JS, [xs, ys])
            assert n_drawn == shown == ROWS and selected == inside
            assert 1_000 < inside < ROWS - 1_000
            assert abs(in_browser - inside) <= 2  # the server tested every row against the same polygon
            note = md.until(lambda: re.search(r"Selected area: ([\d,]+) rows, ([\d,]+) kept",
                                              md.frame(page).locator("#legend").inner_text()), WAIT, "the note")
            assert int(note.group(1).replace(",", "")) == inside
            kept_inside = int(note.group(2).replace(",", ""))
            grey = md.frame(page).locator("#plot").evaluate(
                "p => p.mapCodes.filter(c => p.mapPalette[c].startsWith('rgba(160,164,168')).length")
            assert grey == ROWS - inside  # the rows outside are greyed, still drawn

            renders = md.plot_state(page)["renders"]
            page.get_by_role("button", name="Force keep").click()
            page.get_by_text("Map edits (1)").wait_for()
            md.wait_drawn(page, ROWS, after_renders=renders, timeout=WAIT)
            expected = kept_before + (inside - kept_inside)  # every row inside is now kept
            md.until(lambda: _kept_caption(page) == expected, WAIT, "the kept count")
            assert md.legend(page)["kept"] == (expected, pytest.approx(expected / ROWS, abs=1e-6))
            assert drawn["drawn"] == ROWS
        finally:
            browser.close()
