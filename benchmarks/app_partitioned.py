"""The app on scored partitions, as a user meets it: load a sample, tune, export it, write the full data.

Starts a fresh ``streamlit run workbench/app.py`` (local files allowed, its own cold cache) and drives
headless chromium through Playwright: Data > Scored partitions with a data folder and the scores folder
``workbench score`` wrote for it, then Tune, Export, and Export's "Write the selection for the full
data" job. Prints one JSON object with every timing, and beside each step the 1-minute load average and
the server's CPU seconds (which a busy machine moves less than wall times).

    nice -n 10 .venv/bin/workbench score DATA --label label --id id --out SCORES --workers 0   # once
    .venv/bin/python benchmarks/app_partitioned.py --data DATA --scores SCORES --id id --umap off

Steps, in order (the Tune, slider and Export steps are ``benchmarks/app_browser.py``'s own, on the sample):

``load``    Data > Scored partitions, the folders typed in, "Load sample" clicked: seconds until the Data
            page shows the loaded sample (``--rows``, default 50,000) and its Rows card.
``tune``    Tune opened: the first Pruned figure, then ``--strategy`` picked (default ``ccs:label_noise``)
            and the time until its honest (leak-free) figure shows.
``slider``  keep-slider moves (``--moves``): until the Pruned and the Random cards of the new size show;
            median and max.
``export``  Export opened after Tune: until it shows Tune's figure.
``full``    "Write the selection for the full data" (serial engine) clicked: wall time until the page
            says what it wrote; the job's progress bar is read every 0.2 s: how many distinct values
            and time-left readings it showed, and each time-left reading against the time that was then
            really left (the first reading's ratio is ``first_left_over_real``).

The data (``--data``, ``--scores``) are the user's: the benchmark writes only under a temporary folder
(the server's cache, and the full-data selection) and removes it. A busy machine gives busy figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_browser import DEFAULT_MOVES, SEL, Run  # noqa: E402 - its Tune, slider and Export steps, reused
from browser_kit import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, PROGRESS_SAMPLER, Server, card, cards, click_with_feedback, integer, live, nav, poll,
)

PARTS = {
    "source": "Scored partitions",                            # Data page segmented control option
    "data": ".st-key-data_parts_source input", "scores": ".st-key-data_parts_scores input",
    "label": ".st-key-data_parts_label input", "id": ".st-key-data_parts_id input",
    "rows": ".st-key-data_parts_rows input", "load": ".st-key-data_parts_load button",
    "loaded": "Loaded — Scored partitions: ",                 # + the data folder's name
    "out": ".st-key-export_full_out input", "manifest": ".st-key-export_full_manifest input",
    "write": ".st-key-export_full_write button", "wrote": "Wrote ",
    "job": "Full-data selection",                             # the job's label on its progress bar
}
LEFT = re.compile(r"about (\d+) (s|min) left|under a second left")
STEPS = ("load", "tune", "slider", "export", "full")


class PartitionedRun(Run):
    """app_browser's Run on a sample of scored partitions (its tune, slider and export steps unchanged)."""

    def __init__(self, page, args, out: dict):
        self.page, self.args, self.out, self.t = page, args, out, float(args.timeout)
        self.shape = (args.rows, "sample")

    def step(self, name: str, body) -> bool:
        """app_browser's step, plus the server's CPU seconds over it (a figure the machine's load moves less)."""
        before = _cpu(self.args.server_pid)
        ok = super().step(name, body)
        self.out[name]["server_cpu_s"] = round(_cpu(self.args.server_pid) - before, 2)
        return ok

    def _type(self, selector: str, text: str) -> None:
        box = live(self.page, selector)
        box.fill(text)
        box.press("Enter")
        poll(lambda: live(self.page, selector).input_value() == text, self.t, f"{selector} = {text}")

    def load(self) -> dict:
        page, args, start = self.page, self.args, time.monotonic()
        page.goto(args.url)
        page.get_by_role("heading", name="Data", exact=True).wait_for(timeout=self.t * 1000)
        first_paint = time.monotonic() - start
        page.get_by_text(PARTS["source"], exact=True).click()
        for field, text in (("data", args.data), ("scores", args.scores), ("label", args.label), ("id", args.id),
                            ("rows", str(args.rows))):
            self._type(PARTS[field], text)
        name = Path(args.data).name
        mark = time.monotonic()
        feedback = click_with_feedback(page, PARTS["load"], self.t, SEL["main"], PARTS["loaded"] + name)
        page.get_by_role("heading", name=PARTS["loaded"] + name).wait_for(timeout=self.t * 1000)
        rows = poll(lambda: integer((card(cards(page, SEL["main"]), "Rows") or {}).get("value")), self.t, "Rows")
        return {"first_paint_s": round(first_paint, 2), "click_to_loaded_s": round(time.monotonic() - mark, 2),
                "feedback_s": feedback, "sample_rows": rows}

    def _bar(self):
        """(fraction, text) of the full-data job's progress bar on screen, or None."""
        return self.page.evaluate("""(label) => {
            for (const el of document.querySelectorAll('[data-testid="stProgress"]')) {
                const text = (el.innerText || '').trim();
                const bar = el.querySelector('[role="progressbar"]');
                if (text.startsWith(label) && bar) return [parseFloat(bar.getAttribute('aria-valuenow')), text];
            }
            return null; }""", PARTS["job"])

    def full(self) -> dict:
        page, folder = self.page, Path(self.args.work)
        if not live(page, PARTS["write"]).count():  # run without the export step: open Export first
            nav(page, SEL["nav_link"], "Export", self.t)
        self._type(PARTS["out"], str(folder / "kept"))
        self._type(PARTS["manifest"], str(folder / "kept.json"))
        mark = time.monotonic()
        feedback = click_with_feedback(page, PARTS["write"], self.t, SEL["main"])
        readings, done = [], page.locator('[data-testid="stAlertContentSuccess"]', has_text=PARTS["wrote"])
        while not done.count():
            if time.monotonic() - mark > self.t:
                raise TimeoutError(f"the full-data selection did not end in {self.t:.0f} s")
            try:
                bar = self._bar()
            except Exception:  # noqa: BLE001 - a frame mid-rerun
                bar = None
            if bar:
                readings.append((time.monotonic() - mark, bar[0], bar[1]))
            time.sleep(0.2)
        wall = time.monotonic() - mark
        return {"click_to_written_s": round(wall, 2), "feedback_s": feedback,
                "wrote": done.first.inner_text().strip()[:200], **_progress_summary(readings, wall)}


def _cpu(pid: int) -> float:
    """User + system CPU seconds of the server process so far (its threads included)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _left_seconds(text: str):
    match = LEFT.search(text)
    if not match:
        return None
    return 0.5 if match.group(1) is None else float(match.group(1)) * (60 if match.group(2) == "min" else 1)


def _progress_summary(readings: list, wall: float) -> dict:
    """What the job's bar showed: distinct values, distinct time-left readings and how true each was."""
    values = sorted({round(value, 4) for _, value, _ in readings})
    lefts, shown = [], None
    for at, _, text in readings:
        left = _left_seconds(text)
        if left is not None and left != shown:
            lefts.append({"at_s": round(at, 1), "left_s": left, "real_left_s": round(wall - at, 1)})
            shown = left
    first, track, last = (lefts[0] if lefts else None), [], None
    for at, value, _ in readings:  # the bar's value over time, each change once
        if value != last:
            track.append([round(at, 1), round(value, 1)])
            last = value
    return {"readings": len(readings), "distinct_progress_values": len(values),
            "distinct_time_left_readings": len(lefts), "time_left": lefts[:40],
            "first_left_s": first and first["left_s"], "first_real_left_s": first and first["real_left_s"],
            "first_left_over_real": first and round(first["left_s"] / max(first["real_left_s"], 0.1), 2),
            "progress_track": track[:60], "texts": sorted({re.sub(r"\d", "#", text)[:120] for _, _, text in readings})[:8]}


def _drive(browser, args, steps: list, out: dict) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(PROGRESS_SAMPLER)
    context.route(re.compile(r"^(https?|wss?)://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(args.timeout * 1000)
    run = PartitionedRun(page, args, out["steps"])
    for name in steps:
        if not run.step(name, getattr(run, name)):
            break
    out["progress_ever_decreased"] = bool(page.evaluate("() => window.__wb && window.__wb.decreases.length"))


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # so every finally block stops the server and chromium


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="folder of Parquet partitions")
    parser.add_argument("--scores", required=True, help="the folder `workbench score` wrote for --data")
    parser.add_argument("--label", default="label")
    parser.add_argument("--id", default="", help="the id column the scores were computed with")
    parser.add_argument("--rows", type=int, default=50_000, help="sample size typed on the Data page")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated, in order: " + ",".join(STEPS))
    parser.add_argument("--timeout", type=float, default=900, help="seconds each step may take")
    parser.add_argument("--umap", choices=("load", "map", "off"), default="load",
                        help="WORKBENCH_UMAP for the server: load (what a user gets) or off")
    parser.add_argument("--strategy", default="ccs:label_noise", help="the Tune strategy a user picks")
    parser.add_argument("--moves", default=",".join(map(str, DEFAULT_MOVES)), help="keep percents, in order")
    parser.add_argument("--debug-dir", default="", help="a screenshot and the page text of every failed step")
    parser.add_argument("--chromium", default=shutil.which("chromium") or CHROMIUM)
    return parser


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    args.moves = [int(m) for m in args.moves.split(",") if m]
    args.data, args.scores = str(Path(args.data).resolve()), str(Path(args.scores).resolve())
    steps = [s for s in STEPS if s in args.steps.split(",")]
    from playwright.sync_api import sync_playwright

    out = {"benchmark": "app_partitioned", "command": " ".join(["benchmarks/app_partitioned.py",
                                                                 *(sys.argv[1:] if argv is None else argv)]),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "loadavg_start": [round(v, 2) for v in os.getloadavg()]},
           "data": args.data, "scores": args.scores, "umap": args.umap, "strategy": args.strategy,
           "cache": "cold (fresh server and cache)", "steps": {}}
    folder = Path(tempfile.mkdtemp(prefix="workbench-app-partitioned-"))
    args.work = str(folder / "exports")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    server = Server(folder, args.umap)
    try:
        with sync_playwright() as playwright:
            server.wait_healthy()
            args.url, args.server_pid = server.url, server.process.pid
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            try:
                _drive(browser, args, steps, out)
            finally:
                browser.close()
    except KeyboardInterrupt:
        out["interrupted"] = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        out["server_log"] = server.problems()
        shutil.rmtree(folder, ignore_errors=True)
    out["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
