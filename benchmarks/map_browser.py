"""The Map page in a real browser at 100k x 128 and 200k x 64: first draw, lasso, force keep, keep moves; prints JSON.

    nice -n 10 .venv/bin/python benchmarks/map_browser.py                   # the issue's two shapes
    nice -n 10 .venv/bin/python benchmarks/map_browser.py --shapes 30000x8 --moves 3   # a quick run

For each shape: a generated table (10-class Gaussian mixture, float32 Parquet) is uploaded through the
Data page into a fresh ``streamlit run workbench/app.py`` (own cold cache and temp folder, UMAP off: the
PCA map is what a user sees first; UMAP's time is ``benchmarks/map_umap.py``), then in headless
chromium (software WebGL: ``--disable-gpu``, so drawing is slower than on a desktop with a GPU):

``first_draw_s``      click on "Map" (once the Data page's run after loading has ended) until the map reports
                      every point drawn (the server's PCA included; the component reports after WebGL has
                      finished every point and the next frame is shown). Cold: a fresh server, cache folder
                      and browser per shape.
``first_draw_steps_s`` where that time went, in seconds after the click: the map frame created, each file's
                      fetch (start, end), and the component's marks: script running, first render message,
                      coordinates in hand, points built, drawn.
``lasso_s``           mouse released until the page states the selection count ("N selected · of ...").
``force_keep_s``      click on "Force keep" until the page states the new kept count (``..._map_repainted_s``:
                      until the map has repainted too).
``move_s``/``bytes``  a keep-fraction move (one arrow key on the Map page's slider) until the page states the
                      new kept count (``move_map_repainted_s``: until the map has repainted); websocket bytes
                      the browser received for it, and whether the coordinate file was fetched again (it must not).
``coordinates_bytes`` the coordinate file, fetched once per layout.
``plotly_chart_bytes_per_move`` what ``st.plotly_chart`` would send per move instead: the JSON of the same
                      scattergl figure (coordinates and colour per point), measured with plotly here.

Targets (issue 24): first draw <= 3 s with every point, lasso to count <= 1 s, force keep <= 1 s, moves
without resending coordinates. Figures on a busy machine are busy figures: load averages are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import map_driver as md  # noqa: E402
from streamlit_server import free_port, wait_healthy  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
WAIT = 600


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def generate(rows: int, cols: int, folder: Path) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, rows)
    X = (rng.normal(0, 1.5, (10, cols))[y] + rng.normal(0, 2.0, (rows, cols))).astype(np.float32)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(cols)])
    frame["label"] = [f"class_{k}" for k in y]
    path = folder / f"map_{rows}x{cols}.parquet"
    frame.to_parquet(path, index=False)
    return path


def plotly_bytes(rows: int) -> int:
    """Bytes of the JSON st.plotly_chart would send for the same map: scattergl, x/y and a colour per point."""
    import plotly.graph_objects as go

    rng = np.random.default_rng(0)
    xy = rng.normal(size=(rows, 2)).astype(np.float32)
    fig = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers",
                                 marker=dict(color=rng.integers(0, 2, rows).astype(np.uint8))))
    return len(fig.to_json().encode())


def _kept(page) -> int:
    found = re.search(r"Current selection keeps ([\d,]+) of", page.locator('[data-testid="stMain"]').inner_text())
    return int(found.group(1).replace(",", "")) if found else -1


STEPS_JS = """p => ({origin: performance.timeOrigin, marks: window.mapTimes || {},
  files: performance.getEntriesByType('resource').map(e => [e.name.split('/').pop().split('?')[0], e.startTime,
                                                             e.responseEnd])})"""


def first_draw_steps(page, clicked_ms: float) -> dict:
    """Where the first draw's time went, in seconds after the click: the map frame's creation, its files
    (fetch start and end), and the component's own marks (script start, first render message, coordinates
    in hand, points built, drawn)."""
    found = md.frame(page).locator("#plot").evaluate(STEPS_JS)
    at = lambda ms: round((found["origin"] + ms - clicked_ms) / 1000, 3)  # noqa: E731
    steps = {"frame_created": at(0)}
    for name, begin, end in found["files"]:
        key = "coordinates" if name.startswith("xy-") else name
        steps[f"{key}_fetch"] = [at(begin), at(end)]
    steps.update({name: at(ms) for name, ms in found["marks"].items()})
    return steps


class Meter:
    """Websocket bytes the page received, and the coordinate files it fetched."""

    def __init__(self, page):
        self.ws_bytes, self.coordinate_fetches, self.coordinate_bytes = 0, 0, 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        page.on("response", self._response)

    def _frame(self, payload) -> None:
        self.ws_bytes += len(payload)

    def _response(self, response) -> None:
        if "/xy-" in response.url:
            self.coordinate_fetches += 1
            try:
                self.coordinate_bytes = len(response.body())
            except Exception:  # noqa: BLE001 - a cached response has no body to read
                pass


def run_shape(playwright, rows: int, cols: int, moves: int, folder: Path) -> dict:
    data = generate(rows, cols, folder)
    port = free_port()
    env = dict(os.environ, WORKBENCH_CACHE_DIR=str(folder / "cache"), TMPDIR=str(folder), WORKBENCH_UMAP="off",
               WORKBENCH_PRELOAD="", PYTHONUNBUFFERED="1")  # no bundled sample: our own upload is the data
    command = [sys.executable, "-m", "streamlit", "run", "workbench/app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    log = open(folder / "server.log", "w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    browser = None
    try:
        wait_healthy(port, server, WAIT)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(WAIT * 1000)
        meter = Meter(page)
        say("opening the app")
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_role("heading", name="Data", exact=True).wait_for()
        md.settle(page)
        page.get_by_text("Upload a file", exact=True).click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(data))
        page.get_by_text(f"{data.name} · {rows:,} rows").wait_for()
        say("loading")
        page.locator(".st-key-data_up_load button").click()
        page.get_by_role("heading", name=f"Loaded — Upload: {data.name}").wait_for()
        md.settle(page)  # the Data page's run ends (its preview table) before the clock starts
        out = {"shape": f"{rows}x{cols}", "load_average_start": os.getloadavg()}

        say("opening the map")
        start, bytes_before = time.monotonic(), meter.ws_bytes
        clicked_ms = time.time() * 1000
        page.locator('[data-testid="stSidebarNav"] a', has_text="Map").first.click()
        md.wait_drawn(page, rows, timeout=WAIT)
        out["first_draw_s"] = round(time.monotonic() - start, 2)
        out["first_draw_steps_s"] = first_draw_steps(page, clicked_ms)
        out["first_draw_ws_bytes"] = meter.ws_bytes - bytes_before
        out["coordinates_bytes"] = meter.coordinate_bytes

        say("lasso")
        md.lasso(page, [(0.3, 0.3), (0.65, 0.28), (0.6, 0.7), (0.32, 0.62)])
        start = time.monotonic()
        counts = md.until(lambda: md.counts(page), WAIT, "the selection count", 0.02)
        out["lasso_s"] = round(time.monotonic() - start, 2)
        out["lasso_counts"] = counts

        say("force keep")
        kept, renders = _kept(page), md.plot_state(page)["renders"]
        start = time.monotonic()
        page.get_by_role("button", name="Force keep").click()
        md.until(lambda: _kept(page) != kept, WAIT, "the edit's words", 0.02)
        out["force_keep_s"] = round(time.monotonic() - start, 2)
        md.until(lambda: md.plot_state(page)["renders"] > renders, WAIT, "the edit's map", 0.02)
        out["force_keep_map_repainted_s"] = round(time.monotonic() - start, 2)

        say("keep moves")
        times, painted, sizes, fetches_before = [], [], [], meter.coordinate_fetches
        slider = page.locator('[data-testid="stSlider"]', has_text="Keep fraction").get_by_role("slider")
        for _ in range(moves):
            kept, renders, bytes_before = _kept(page), md.plot_state(page)["renders"], meter.ws_bytes
            slider.focus()
            start = time.monotonic()
            slider.press("ArrowLeft")
            md.until(lambda: _kept(page) != kept, WAIT, "a move's words", 0.02)
            times.append(time.monotonic() - start)
            md.until(lambda: md.plot_state(page)["renders"] > renders, WAIT, "a move's map", 0.02)
            painted.append(time.monotonic() - start)
            time.sleep(0.5)  # late frames of the same rerun count for this move
            sizes.append(meter.ws_bytes - bytes_before)
        out.update(move_s_median=round(statistics.median(times), 2), move_s_max=round(max(times), 2),
                   move_map_repainted_s_median=round(statistics.median(painted), 2),
                   bytes_per_move_median=int(statistics.median(sizes)), bytes_per_move_max=max(sizes),
                   coordinate_fetches_during_moves=meter.coordinate_fetches - fetches_before,
                   plotly_chart_bytes_per_move=plotly_bytes(rows), load_average_end=os.getloadavg())
        return out
    finally:
        if browser is not None:
            browser.close()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="100000x128,200000x64")
    parser.add_argument("--moves", type=int, default=5)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        for shape in args.shapes.split(","):
            rows, cols = (int(v) for v in shape.lower().split("x"))
            with tempfile.TemporaryDirectory(prefix="map-browser-") as folder:
                results.append(run_shape(playwright, rows, cols, args.moves, Path(folder)))
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"results": results, "targets": {"first_draw_s": 3, "lasso_s": 1, "force_keep_s": 1}}, indent=2))
    return results


if __name__ == "__main__":
    main()
