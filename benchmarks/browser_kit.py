"""Plumbing for the browser benchmarks: a Streamlit server in its own process group, polling waits that
survive reruns, Streamlit metric cards read in one call, click-to-feedback timing, a progress sampler.

Used by ``benchmarks/app_browser.py`` (which keeps every selector of the app's pages in one table); the port,
health check and polling helpers are the tests' own (``tests/streamlit_server.py``, ``tests/map_driver.py``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from map_driver import until as poll  # noqa: E402,F401 - polling that survives a rerun, shared with the map's driver
from streamlit_server import free_port, wait_healthy  # noqa: E402
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
LOG_PROBLEMS = re.compile(r"fragment does not exist|Traceback|Exception", re.I)

# Runs in the page: samples every progress bar each 100 ms (value and label), so a bar that moves back is
# caught between the benchmark's own polls. Samples of stale elements (a rerun is replacing them) are skipped.
PROGRESS_SAMPLER = """
(() => {
  if (window.__wb) return;
  window.__wb = {last: {}, decreases: [], samples: 0, labels: {}};
  setInterval(() => {
    document.querySelectorAll('[data-testid="stProgress"]').forEach(el => {
      const box = el.closest('[data-testid="stElementContainer"]');
      if (box && box.getAttribute('data-stale') === 'true') return;
      const bar = el.querySelector('[role="progressbar"]');
      if (!bar) return;
      const value = parseFloat(bar.getAttribute('aria-valuenow'));
      if (isNaN(value)) return;
      const text = (el.innerText || '').trim();
      const label = text.split(' \u2014 ')[0].split(' \u00b7 ')[0].trim();
      const w = window.__wb; w.samples += 1; w.labels[label] = (w.labels[label] || 0) + 1;
      const before = w.last[label];
      if (before !== undefined && value < before - 1e-9 && w.decreases.length < 50)
        w.decreases.push({label: label, from: before, to: value, text: text.slice(0, 160),
                          t: performance.now() / 1000});
      w.last[label] = value;
    });
  }, 100);
})();
"""

CARDS_JS = """
(main) => Array.from((document.querySelector(main) || document).querySelectorAll('[data-testid="stMetric"]'))
  .map(el => {
    const box = el.closest('[data-testid="stElementContainer"]');
    const part = (id) => { const p = el.querySelector(`[data-testid="${id}"]`); return p ? p.innerText.trim() : ''; };
    return {label: part('stMetricLabel'), value: part('stMetricValue'), delta: part('stMetricDelta'),
            stale: !!box && box.getAttribute('data-stale') === 'true'};
  })
"""


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# ---- server -------------------------------------------------------------------------------------------------
class Server:
    """``streamlit run workbench/app.py`` in its own process group, cache and temp folder; always stopped."""

    def __init__(self, folder: Path, umap: str, app_root: Path = ROOT):
        self.port, self.folder = free_port(), folder
        cache, tmp = folder / "cache", folder / "tmp"
        cache.mkdir(), tmp.mkdir()
        env = dict(os.environ, WORKBENCH_CACHE_DIR=str(cache), TMPDIR=str(tmp), WORKBENCH_UMAP=umap,
                   PYTHONUNBUFFERED="1")
        env.pop("WORKBENCH_SERVER_MODE", None)
        self.out, self.err = open(folder / "server.out", "w"), open(folder / "server.err", "w")
        command = [sys.executable, "-m", "streamlit", "run", "workbench/app.py", "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.process = subprocess.Popen(command, cwd=app_root, env=env, stdout=self.out, stderr=self.err,
                                        start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 120) -> None:
        wait_healthy(self.port, self.process, timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                    self.process.wait(timeout=wait)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.out.close(), self.err.close()

    def problems(self) -> dict:
        found = {}
        for name in ("server.err", "server.out"):
            lines = (self.folder / name).read_text(errors="replace").splitlines()
            hits = [line.strip()[:300] for line in lines if LOG_PROBLEMS.search(line)]
            found[name] = {"count": len(hits), "fragment_missing": sum("fragment does not exist" in h.lower()
                                                                        for h in hits),
                           "tracebacks": sum("traceback" in h.lower() for h in hits), "lines": hits[:12]}
        return found


# ---- page helpers -------------------------------------------------------------------------------------------
def cards(page, main: str) -> list:
    """Every metric card of the current run under ``main``: label, value, delta (stale ones left out)."""
    return [c for c in page.evaluate(CARDS_JS, main) if not c["stale"]]


def card(found: list, label_start: str):
    return next((c for c in found if c["label"].startswith(label_start)), None)


def percent(text: str):
    match = re.search(r"(-?\d+(?:\.\d+)?)\s*%", text or "")
    return float(match.group(1)) if match else None


def integer(text: str):
    digits = re.sub(r"[^\d]", "", text or "")
    return int(digits) if digits else None


def nav(page, link: str, title: str, timeout: float = 60) -> None:
    """Click the navigation ``link`` reading ``title``; return when the page's heading shows."""
    page.locator(link, has_text=title).first.click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout * 1000)


def live(page, selector: str):
    """The first element of ``selector`` not inside a stale element container (the current run's)."""
    return page.locator(selector).locator(
        "xpath=self::*[not(ancestor::*[@data-testid='stElementContainer' and @data-stale='true'])]").first


def click_with_feedback(page, selector: str, timeout: float, main: str, done_text: str = "") -> float:
    """Click; seconds until visible feedback: the button disabled or gone, a new progress bar, a spinner,
    a toast, or ``done_text`` (the result itself) on the page."""
    before = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stProgress"]'))
                              .map(e => (e.innerText || '').split(' \\u2014 ')[0].split(' \\u00b7 ')[0].trim())""")
    button = live(page, selector)
    button.wait_for(timeout=timeout * 1000)
    poll(lambda: button.is_enabled(), timeout, f"{selector} enabled")
    start = time.monotonic()
    button.click()
    page.wait_for_function("""([selector, before, done, main]) => {
        const live = (e) => !e.closest('[data-testid="stElementContainer"][data-stale="true"]');
        const buttons = Array.from(document.querySelectorAll(selector)).filter(live);
        if (buttons.length === 0 || buttons.some(b => b.disabled)) return true;
        const bars = Array.from(document.querySelectorAll('[data-testid="stProgress"]')).filter(live)
            .map(e => (e.innerText || '').split(' \\u2014 ')[0].split(' \\u00b7 ')[0].trim());
        if (bars.some(label => !before.includes(label))) return true;
        if (document.querySelector('[data-testid="stSpinner"], [data-testid="stToast"]')) return true;
        return !!done && (document.querySelector(main) || document.body).innerText.includes(done);
    }""", arg=[selector, before, done_text, main], polling=50, timeout=timeout * 1000)
    return round(time.monotonic() - start, 3)


def pick_option(page, container: str, text: str, timeout: float) -> str:
    """Open a select box (or multiselect), type ``text`` and click the option that reads exactly ``text``
    (else the first one offered); the text of the option clicked."""
    live(page, container).click()
    page.keyboard.type(text)
    options = page.get_by_role("option")
    poll(lambda: options.count() > 0, timeout, f"options for {text!r}")
    exact = page.get_by_role("option", name=text, exact=True)
    option = (exact if exact.count() else options).first
    chosen = option.inner_text().strip()
    option.click()
    return chosen
