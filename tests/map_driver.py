"""Drive the Map page's scatter (a component in its own frame) from Playwright: wait for it, draw a
lasso, read its legend and the selection words. Shared by tests/test_map_browser.py,
tests/test_browser.py and benchmarks/map_browser.py."""

from __future__ import annotations

import json
import re
import time

FRAME = 'iframe[title*="workbench_map"]'
COUNTS = re.compile(r"([\d,]+) selected · of ([\d,]+) shown · ([\d,]+) rows inside the area")


def until(check, timeout: float = 60, what: str = "the map", interval: float = 0.05):
    """``check()`` until truthy (errors of a frame being replaced count as not yet); its value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - a frame mid-rerun
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not settle in {timeout:.0f} s")
        time.sleep(interval)


def settle(page, hold: float = 1.5, timeout: float = 300) -> None:
    """Wait until no script run is in progress for ``hold`` seconds without a break (e.g. the bundled
    sample's preload rerun, which redraws the Data page under a click that lands meanwhile)."""
    deadline, since = time.monotonic() + timeout, time.monotonic()
    while time.monotonic() - since < hold:
        if page.locator('[data-testid="stStatusWidget"]').count():
            since = time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not settle in {timeout:.0f} s")
        time.sleep(0.1)


def frame(page):
    return page.frame_locator(FRAME).first


def plot_state(page) -> dict:
    """``{"drawn": points drawn, "renders": renders so far}`` of the map (0 before its first draw); waits
    while the frame is busy repainting (software WebGL can hold it for seconds)."""
    plot = frame(page).locator("#plot")
    return {"drawn": int(plot.get_attribute("data-drawn", timeout=30_000) or 0),
            "renders": int(plot.get_attribute("data-renders", timeout=30_000) or 0)}


def wait_drawn(page, n: int, after_renders: int = 0, timeout: float = 120) -> dict:
    """Wait until the map has drawn ``n`` points in a render later than ``after_renders``."""
    return until(lambda: (lambda s: s if s["drawn"] == n and s["renders"] > after_renders else None)(plot_state(page)),
                 timeout, f"the map with {n:,} points")


def lasso(page, polygon) -> None:
    """Draw a lasso through ``polygon``: (x, y) fractions of the plot area, closed by the lasso itself.
    Returns when the mouse is released (the moment a user has drawn it)."""
    area = frame(page).locator("#overlay").bounding_box()
    points = [(area["x"] + fx * area["width"], area["y"] + fy * area["height"]) for fx, fy in polygon]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:] + points[:1]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def box(page, corner, other) -> None:
    """Switch the map to box select and drag a box between two corners (fractions of the plot area)."""
    frame(page).locator('#tools button[data-mode="box"]').click()
    area = frame(page).locator("#overlay").bounding_box()
    start, end = ((area["x"] + fx * area["width"], area["y"] + fy * area["height"]) for fx, fy in (corner, other))
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=4)  # released at the far corner (a lasso closes itself; a box does not)
    page.mouse.up()


def counts(page):
    """(selected among shown, shown, rows inside the area) from the page, or None."""
    found = COUNTS.search(page.locator('[data-testid="stMain"]').inner_text())
    return tuple(int(g.replace(",", "")) for g in found.groups()) if found else None


def legend(page) -> dict:
    """The legend's entries: name -> (count, share)."""
    items = frame(page).locator('[data-testid="map-legend-item"]')
    return {items.nth(i).get_attribute("data-name"): (int(items.nth(i).get_attribute("data-count")),
                                                       float(items.nth(i).get_attribute("data-share")))
            for i in range(items.count())}


def area_polygon(page):
    """The selected area the map outlines, in map coordinates: (xs, ys), or None."""
    text = frame(page).locator("#plot").get_attribute("data-area")
    if not text:
        return None
    area = json.loads(text)
    return [float(x) for x in area["x"]], [float(y) for y in area["y"]]
