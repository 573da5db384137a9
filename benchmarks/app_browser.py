"""The app as a user meets it: a real browser through load, scoring, Tune, slider, Auto, curve and Export.

For each shape it generates a labelled table in a temporary folder, starts a fresh
``streamlit run workbench/app.py`` on a free loopback port with its own cold ``WORKBENCH_CACHE_DIR``
(and its own temporary folder, so the upload copy is fresh too), drives Debian's headless chromium
through Playwright the way a user does, and prints one JSON object with every timing of issue 20's
table and the machine's 1-minute load average read at each step. Nothing is cached between shapes.

    .venv/bin/python benchmarks/app_browser.py                                  # the issue's two shapes
    .venv/bin/python benchmarks/app_browser.py --shapes 3000x64 --umap off      # a quick development run
    .venv/bin/python benchmarks/app_browser.py --shapes 1500x16 --steps scoring,tune,slider --umap off

The data (``generate``): 10 classes, a Gaussian class mixture, 5% of the labels flipped to another
class (seed 0). A shape with 256 columns or more is a pixel table (uint8 0..255 from a 16-dimensional
class mixture through a fixed random projection) written as CSV; a narrower one is float32 features
written as Parquet; ``ROWSxCOLS:csv`` / ``:parquet`` overrides. The file is loaded through the Data
page's upload widget (``--load path`` types it into "Local path" instead).

Steps (``--steps``, run in this order; a step's prerequisites run too):

``scoring``  Scores page: the estimate shown before Compute, click-to-feedback, click until the results render.
``tune``     Tune opened after scoring: first Pruned figure of any kind, then the strategy a user picks
             (``--strategy``, default ``ccs:label_noise``: it reads labels, so its figure is optimistic until
             the fold-wise scores are ready), and the time until the Pruned card is no longer marked optimistic.
``slider``   keep-slider moves (``--moves``, percent, ending at 30): time until the Pruned card (with the
             Rows kept card of the new size) and until the Random card of the new size show; median and max.
``auto``     "Recommend a strategy" at the current keep (30%): click until the recommendation shows.
``curve``    the pruning curve of two strategies + random: click until the chart shows.
``export``   Export opened after Tune: time until its Pruned card shows Tune's (leak-free) figure.

Also reported: click-to-visible-feedback of every big button (the button disabled, a new progress
bar or a spinner), whether any progress bar's value ever went down (sampled every 100 ms in the
page), and the server's log lines with "fragment does not exist" or a traceback. UMAP runs as it
does for a user (``WORKBENCH_UMAP=load``: the map starts beside everything else); ``--umap off`` is
for quick development runs only. A busy machine gives busy figures: the load averages say how busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_kit import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, PROGRESS_SAMPLER, ROOT, Server, card, cards, click_with_feedback, integer, live, load1,
    nav, percent, pick_option, poll,
)
STEPS = ("scoring", "tune", "slider", "auto", "curve", "export")
NEEDS = {"tune": {"scoring"}, "slider": {"scoring", "tune"}, "auto": {"scoring", "tune", "slider"},
         "curve": {"scoring", "tune"}, "export": {"scoring", "tune"}}

# ---- every selector and text the benchmark relies on (update here when the app's pages change) ------------
SEL = {
    "main": '[data-testid="stMain"]',
    "nav_link": '[data-testid="stSidebarNav"] a',
    "source_upload": "Upload a file",                        # Data page segmented control option
    "source_path": "Local path",
    "upload_input": '[data-testid="stFileUploaderDropzoneInput"]',
    "path_input": ".st-key-data_path input",
    "load_button": ".st-key-data_up_load button, .st-key-data_path_load button",
    "loaded_heading": "Loaded — ",                           # + origin ("Upload: name" / "Path: name")
    "compute_button": ".st-key-scores_compute button",
    "estimate_caption": r"Estimated time:\s*(about [\d.,]+ s|under a second)",  # Scores page (describe_seconds)
    "scores_done_tab": "Distributions",                      # a tab of the rendered results
    "strategy_select": ".st-key-tune_kind",
    "scorer_select": ".st-key-tune_scorer",
    "keep_slider": ".st-key-tune_keep input[type='range'], .st-key-tune_keep [role='slider']",
    "auto_button": ".st-key-tune_auto button",
    "auto_done": "Recommended at",                           # the recommendation's success box
    "curve_select": ".st-key-tune_curve_strategies",
    "curve_button": ".st-key-tune_curve button",
    "curve_chart": ".st-key-tune_curve_chart .js-plotly-plot, [data-testid='stPlotlyChart']:has-text('Pruning curve')",
    "card_pruned": "Pruned", "card_random": "Random", "card_full": "Full data", "card_rows": "Rows kept",
}
OPTIMISTIC = re.compile(r"optimistic|not yet honest|leaky", re.I)   # a Pruned card label saying "not honest yet"
RANDOM_PENDING = re.compile(r"computing|updating|…", re.I)        # a Random card not of the current size yet
RANDOM_APPROX = re.compile(r"interpolat|approx|from the curve|estimated", re.I)  # read off a curve, not exact
DEFAULT_MOVES = (65, 60, 50, 40, 30)

# ---- data ---------------------------------------------------------------------------------------------------
def parse_shapes(text: str) -> list:
    shapes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        size, _, fmt = part.partition(":")
        rows, cols = (int(v) for v in size.lower().split("x"))
        shapes.append((rows, cols, fmt or ("csv" if cols >= 256 else "parquet")))
    return shapes


def generate(rows: int, cols: int, fmt: str, folder: Path, seed: int = 0) -> Path:
    """A labelled table: 10-class Gaussian mixture, 5% of labels flipped; pixels (uint8) from 256 columns up."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, rows)
    if cols >= 256:  # pixel-like: a 16-dim class mixture through a fixed random projection, clipped to 0..255
        latent = rng.normal(0, 1.5, (10, 16))[y] + rng.normal(0, 1.0, (rows, 16))
        mix = rng.normal(0, 1 / 4, (16, cols))
        X = np.clip(128 + 40 * (latent @ mix) + rng.normal(0, 12, (rows, cols)), 0, 255).astype(np.uint8)
        names = [f"px{i}" for i in range(cols)]
    else:
        X = (rng.normal(0, 1.5, (10, cols))[y] + rng.normal(0, 2.0, (rows, cols))).astype(np.float32)
        names = [f"f{i}" for i in range(cols)]
    flip = rng.random(rows) < 0.05
    y_obs = np.where(flip, (y + rng.integers(1, 10, rows)) % 10, y)  # always another class
    frame = pd.DataFrame(X, columns=names)
    frame["label"] = [f"class_{k}" for k in y_obs]
    path = folder / f"bench_{rows}x{cols}.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    return path


# ---- the steps ----------------------------------------------------------------------------------------------
class Run:
    def __init__(self, page, args, shape: tuple, path: Path, out: dict):
        self.page, self.args, self.shape, self.path = page, args, shape, path
        self.t = float(args.timeout)
        self.out = out  # each step's numbers land here as soon as the step ends (kept on an interrupt)
        out["file"] = {"name": path.name, "bytes": path.stat().st_size}

    def step(self, name: str, body) -> bool:
        start_load, start = load1(), time.monotonic()
        try:
            result = body()
            ok = True
        except Exception as err:  # noqa: BLE001 - a step that fails is reported, and later steps are skipped
            result, ok = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"}, False
            result["progress_at_error"] = self._bars()
            self._dump(name)
        result.update(load1_start=start_load, load1=load1(), step_wall_s=round(time.monotonic() - start, 2))
        self.out[name] = result
        print(f"[{self.shape[0]}x{self.shape[1]}] {name}: {json.dumps(result)}", file=sys.stderr, flush=True)
        return ok

    def _bars(self) -> list:
        """The texts of the progress bars on screen (where a step that timed out had got to)."""
        try:
            return [text.strip()[:200] for text in self.page.locator('[data-testid="stProgress"]').all_inner_texts()]
        except Exception:  # noqa: BLE001 - best effort, the page may be gone
            return []

    def _dump(self, name: str) -> None:
        """On a failed step, a screenshot and the page's text in ``--debug-dir`` (when given)."""
        if not self.args.debug_dir:
            return
        folder = Path(self.args.debug_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"{self.shape[0]}x{self.shape[1]}_{name}"
        try:
            self.page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.txt").write_text(self.page.locator("body").inner_text())
        except Exception as err:  # noqa: BLE001 - a dump is best effort
            print(f"could not dump {name}: {err}", file=sys.stderr)

    def open(self) -> dict:
        page, start = self.page, time.monotonic()
        page.goto(self.args.url)
        page.get_by_role("heading", name="Data", exact=True).wait_for(timeout=self.t * 1000)
        first_paint = time.monotonic() - start
        if self.args.load == "upload":
            page.get_by_text(SEL["source_upload"], exact=True).click()
            mark = time.monotonic()
            page.locator(SEL["upload_input"]).set_input_files(str(self.path))
            origin = f"Upload: {self.path.name}"
        else:
            page.get_by_text(SEL["source_path"], exact=True).click()
            mark = time.monotonic()
            page.locator(SEL["path_input"]).fill(str(self.path))
            page.keyboard.press("Enter")
            origin = f"Path: {self.path.name}"
        page.get_by_text(f"{self.path.name} · {self.shape[0]:,} rows").wait_for(timeout=self.t * 1000)
        form = time.monotonic() - mark
        mark = time.monotonic()
        feedback = click_with_feedback(page, SEL["load_button"], self.t, SEL["main"], SEL["loaded_heading"] + origin)
        page.get_by_role("heading", name=SEL["loaded_heading"] + origin).wait_for(timeout=self.t * 1000)
        poll(lambda: integer((card(cards(page, SEL["main"]), "Rows") or {}).get("value")) == self.shape[0], self.t,
             "the Rows card of the new data")
        return {"first_paint_s": round(first_paint, 2), "file_to_form_s": round(form, 2),
                "load_click_to_loaded_s": round(time.monotonic() - mark, 2), "load_feedback_s": feedback,
                "via": self.args.load}

    def scoring(self) -> dict:
        page = self.page
        nav(page, SEL["nav_link"], "Scores", self.t)
        button = live(page, SEL["compute_button"])
        poll(lambda: button.is_enabled() and re.search(r"Compute \d+ scorer", button.inner_text()), self.t,
             "an enabled Compute button")
        caption = poll(lambda: re.search(SEL["estimate_caption"], page.locator(SEL["main"]).inner_text()),
                       30, "the scoring estimate")
        shown = caption.group(1)
        estimate = float(shown.split()[1].replace(",", "")) if shown.startswith("about") else 1.0
        label = button.inner_text().strip().splitlines()[-1]  # the text after the icon's name
        mark = time.monotonic()
        feedback = click_with_feedback(page, SEL["compute_button"], self.t, SEL["main"])
        page.get_by_role("tab", name=SEL["scores_done_tab"]).wait_for(timeout=self.t * 1000)
        took = time.monotonic() - mark
        return {"click_to_results_s": round(took, 2), "estimate_shown": shown, "estimate_s": estimate,
                "measured_over_estimate": round(took / estimate, 2), "button": label, "feedback_s": feedback}

    def _pruned(self):
        found = cards(self.page, SEL["main"])
        pruned, rows = card(found, SEL["card_pruned"]), card(found, SEL["card_rows"])
        if pruned and rows and percent(pruned["value"]) is not None:
            return {"pruned": pruned, "rows": integer(rows["value"]), "rows_delta": rows["delta"],
                    "random": card(found, SEL["card_random"])}
        return None

    def tune(self) -> dict:
        page, strategy = self.page, self.args.strategy
        mark = time.monotonic()
        nav(page, SEL["nav_link"], "Tune", self.t)
        first = poll(self._pruned, self.t, "a first Pruned figure")
        first_s = time.monotonic() - mark
        kind, _, scorer = strategy.partition(":")
        titles = {"ccs": "Coverage-centric (CCS)", "top": "Top by one score", "balanced": "Class-balanced",
                  "band": "Middle band"}
        pick_option(page, SEL["strategy_select"], titles.get(kind, kind), self.t)
        if scorer:
            poll(lambda: live(page, SEL["scorer_select"]).count(), self.t, "the Score select box")
            pick_option(page, SEL["scorer_select"], scorer, self.t)
        picked = time.monotonic()
        seen_optimistic = [OPTIMISTIC.search(first["pruned"]["label"]) is not None]

        def honest():
            now = self._pruned()
            if now and f"{strategy}" in page.locator('[data-testid="stSidebarUserContent"]').inner_text():
                seen_optimistic.append(OPTIMISTIC.search(now["pruned"]["label"]) is not None)
                return now if not seen_optimistic[-1] else None
            return None

        found = poll(honest, self.t, "the honest Pruned figure")
        self.tune_figure = found["pruned"]["value"]
        return {"first_figure_s": round(first_s, 2), "first_figure_label": first["pruned"]["label"],
                "strategy": strategy, "strategy_picked_s": round(picked - mark, 2),
                "honest_figure_s": round(time.monotonic() - mark, 2),
                "honest_after_strategy_s": round(time.monotonic() - picked, 2),
                "optimistic_shown_first": any(seen_optimistic), "honest_figure": found["pruned"]["value"],
                "honest_label": found["pruned"]["label"]}

    def _keep(self) -> int:
        thumb = live(self.page, SEL["keep_slider"])
        return int(float(thumb.evaluate("e => e.value || e.getAttribute('aria-valuenow')")))

    def _drag_to(self, target: int) -> float:
        """Drag the keep slider's thumb to ``target`` percent as a mouse does; the time of the release."""
        box = live(self.page, SEL["keep_slider"]).evaluate("""e => {
            (e.closest('[data-testid="stSlider"]') || e.parentElement).scrollIntoView({block: 'center'});
            const thumb = e.closest('[style*="left"]') || e.parentElement, track = thumb.parentElement;
            const t = thumb.getBoundingClientRect(), r = track.getBoundingClientRect();
            const low = parseFloat(e.min || e.getAttribute('aria-valuemin') || 0);
            const high = parseFloat(e.max || e.getAttribute('aria-valuemax') || 100);
            return {x: t.x + t.width / 2, y: t.y + t.height / 2, left: r.x, width: r.width, low: low, high: high};
        }""")
        x = box["left"] + box["width"] * (target - box["low"]) / (box["high"] - box["low"])
        mouse = self.page.mouse
        mouse.move(box["x"], box["y"])
        mouse.down()
        mouse.move(x, box["y"], steps=8)
        mouse.up()
        return time.monotonic()

    @staticmethod
    def _at(now, target: int, before) -> bool:
        """The cards are of the slider's new position: Rows kept changed and its delta reads the target %."""
        if not now or now["rows"] == before["rows"]:
            return False
        shown = percent(now.get("rows_delta", ""))
        return shown is None or abs(shown - target) <= 1

    def slider(self) -> dict:
        page, moves = self.page, []
        for target in self.args.moves:
            before = poll(self._pruned, self.t, "the cards before the move")
            current = self._keep()
            if target == current:
                continue
            mark, fixed = self._drag_to(target), 0
            while self._keep() != target and fixed < 5:  # a pixel off: the arrow keys finish the move
                live(page, SEL["keep_slider"]).press("ArrowLeft" if self._keep() > target else "ArrowRight")
                fixed, mark = fixed + 1, time.monotonic()

            def pruned_new():
                now = self._pruned()
                return now if self._at(now, target, before) and not OPTIMISTIC.search(now["pruned"]["label"]) else None

            now = poll(pruned_new, self.t, f"the Pruned card at {target}%")
            pruned_s = time.monotonic() - mark

            def random_new():
                now = self._pruned()
                if not self._at(now, target, before) or not now["random"]:
                    return None
                label, value = now["random"]["label"], now["random"]["value"]
                sizes = [integer(s) for s in re.findall(r"\d[\d,]*(?= rows)", label)]
                if RANDOM_PENDING.search(label) or percent(value) is None or any(s != now["rows"] for s in sizes):
                    return None
                return now

            rand = poll(random_new, self.t, f"the Random card at {target}%")
            moves.append({"keep": target, "rows": now["rows"], "arrow_presses_after_drag": fixed,
                          "pruned_s": round(pruned_s, 3), "random_s": round(time.monotonic() - mark, 3),
                          "random_label": rand["random"]["label"],
                          "random_exact": not RANDOM_APPROX.search(rand["random"]["label"]), "load1": load1()})
        both = [max(m["pruned_s"], m["random_s"]) for m in moves]
        return {"moves": moves, "pruned_median_s": round(statistics.median(m["pruned_s"] for m in moves), 3),
                "pruned_max_s": max(m["pruned_s"] for m in moves),
                "random_median_s": round(statistics.median(m["random_s"] for m in moves), 3),
                "random_max_s": max(m["random_s"] for m in moves),
                "both_median_s": round(statistics.median(both), 3), "both_max_s": max(both)}

    def auto(self) -> dict:
        page, keep = self.page, self._keep()
        mark = time.monotonic()
        feedback = click_with_feedback(page, SEL["auto_button"], self.t, SEL["main"])
        box = page.locator('[data-testid="stAlertContentSuccess"]', has_text=SEL["auto_done"])
        box.first.wait_for(timeout=self.t * 1000)
        return {"keep_percent": keep, "click_to_recommendation_s": round(time.monotonic() - mark, 2),
                "feedback_s": feedback,
                "recommendation": box.first.inner_text().strip().partition(SEL["auto_done"])[2][:200].strip()}

    def _curve_picked(self) -> list:
        """The lines of the curve's multiselect (its label, then one line per chosen strategy)."""
        return [line.strip() for line in live(self.page, SEL["curve_select"]).inner_text().splitlines()]

    def curve(self) -> dict:
        """Two strategies + random: the current one and enough extras (in the app's canonical spelling,
        which is what the multiselect offers: ``top:label_noise`` is offered as ``label_noise``)."""
        from core.selection import format_strategy

        page, current = self.page, format_strategy(self.args.strategy)
        extras = [e for e in dict.fromkeys(format_strategy(e) for e in self.args.curve_extra) if e != current]
        wanted = 1 if current != "random" else 2  # the current strategy is drawn too
        for extra in extras[:wanted]:
            for _ in range(3):  # a rerun may swallow the click: pick again until its chip shows
                if extra in self._curve_picked():
                    break
                pick_option(page, SEL["curve_select"], extra, self.t)
                page.keyboard.press("Escape")
                try:
                    poll(lambda: extra in self._curve_picked(), 10, f"the chip of {extra}")
                except Exception:  # noqa: BLE001 - picked again below, then reported
                    continue
        picked = [e for e in extras[:wanted] if e in self._curve_picked()]
        if len(picked) < wanted:
            raise RuntimeError(f"the curve's multiselect reads {self._curve_picked()}, wanted {extras[:wanted]}")
        poll(lambda: live(page, SEL["curve_button"]).is_enabled(), self.t, "an enabled curve button")
        mark = time.monotonic()
        feedback = click_with_feedback(page, SEL["curve_button"], self.t, SEL["main"])
        page.locator(SEL["curve_chart"]).first.wait_for(timeout=self.t * 1000)
        return {"strategies": ([] if current == "random" else [current]) + picked,
                "click_to_chart_s": round(time.monotonic() - mark, 2), "feedback_s": feedback}

    def export(self) -> dict:
        page, tune_figure = self.page, poll(self._pruned, self.t, "Tune's cards")["pruned"]["value"]
        mark = time.monotonic()
        nav(page, SEL["nav_link"], "Export", self.t)
        first = poll(self._pruned, self.t, "a Pruned figure on Export")
        first_s = time.monotonic() - mark

        def same():
            now = self._pruned()
            return now if now and now["pruned"]["value"] == tune_figure and not OPTIMISTIC.search(
                now["pruned"]["label"]) else None

        found = poll(same, self.t, f"Tune's figure {tune_figure} on Export")
        return {"tune_figure": tune_figure, "first_figure": first["pruned"]["value"],
                "first_figure_s": round(first_s, 2),
                "first_matches_tune": first["pruned"]["value"] == tune_figure,
                "same_as_tune_s": round(time.monotonic() - mark, 2), "figure": found["pruned"]["value"]}


# ---- driver -------------------------------------------------------------------------------------------------
def run_shape(playwright, args, shape: tuple, folder: Path, steps: list, result: dict) -> None:
    """Every step on one shape with a fresh server; the numbers land in ``result`` as they come."""
    rows, cols, fmt = shape
    mark = time.monotonic()
    path = generate(rows, cols, fmt, folder)
    result.update(shape=f"{rows}x{cols}", format=fmt, generate_s=round(time.monotonic() - mark, 2))
    server = Server(folder, args.umap, Path(args.app_root))
    browser = None
    try:
        server.wait_healthy()
        args.url = server.url
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.add_init_script(PROGRESS_SAMPLER)
        context.route(re.compile(r"^(https?|wss?)://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(args.timeout * 1000)
        run = Run(page, args, shape, path, result)
        if run.step("load", run.open):
            for name in steps:
                if not run.step(name, getattr(run, name)):
                    break
        try:
            result["progress"] = page.evaluate("() => window.__wb && {samples: window.__wb.samples, "
                                               "decreases: window.__wb.decreases, labels: window.__wb.labels}")
            result["progress_ever_decreased"] = bool(result["progress"] and result["progress"]["decreases"])
        except Exception as err:  # noqa: BLE001
            result["progress"] = {"error": str(err)[:200]}
    finally:
        if browser is not None:
            browser.close()
        server.stop()
        result["server_log"] = server.problems()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # so every finally block stops the server and chromium


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="20000x784,100000x128", help="ROWSxCOLS[:csv|parquet],...")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated: " + ",".join(STEPS))
    parser.add_argument("--timeout", type=float, default=900, help="seconds each step may take")
    parser.add_argument("--umap", choices=("load", "map", "off"), default="load",
                        help="WORKBENCH_UMAP for the server: load (what a user gets) or off (development runs)")
    parser.add_argument("--load", choices=("upload", "path"), default="upload", help="how the file is loaded")
    parser.add_argument("--strategy", default="ccs:label_noise", help="the Tune strategy a user picks")
    parser.add_argument("--moves", default=",".join(map(str, DEFAULT_MOVES)), help="keep percents, in order")
    parser.add_argument("--curve-extra", default="top:label_noise,ccs:knn_density",
                        help="strategies added to the curve's multiselect (2 strategies + random in all)")
    parser.add_argument("--app-root", default=str(ROOT),
                        help="the checkout whose app is served (e.g. `git archive HEAD` unpacked somewhere)")
    parser.add_argument("--debug-dir", default="", help="a screenshot and the page text of every failed step")
    parser.add_argument("--chromium", default=shutil.which("chromium") or CHROMIUM)
    return parser


def main(argv=None) -> dict:
    """Run the steps on every shape; the JSON-ready results (also after Ctrl-C or SIGTERM: what was measured)."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.moves = [int(m) for m in args.moves.split(",") if m]
    args.curve_extra = [s for s in args.curve_extra.split(",") if s]
    wanted = [s for s in args.steps.split(",") if s]
    unknown = set(wanted) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    steps = [s for s in STEPS if s in wanted or any(s in NEEDS.get(w, ()) for w in wanted)]

    from playwright.sync_api import sync_playwright

    command = ["benchmarks/app_browser.py", *(sys.argv[1:] if argv is None else argv)]
    out = {"benchmark": "app_browser", "command": " ".join(command),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load1_start": load1(),
                       "loadavg_start": [round(v, 2) for v in os.getloadavg()]},
           "app_root": args.app_root, "umap": args.umap, "strategy": args.strategy, "steps": steps,
           "cache": "cold (fresh server and cache)",
           "shapes": {}}
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with sync_playwright() as playwright:
            for shape in parse_shapes(args.shapes):
                folder = Path(tempfile.mkdtemp(prefix="workbench-app-browser-"))
                try:
                    run_shape(playwright, args, shape, folder, steps, out["shapes"].setdefault(
                        f"{shape[0]}x{shape[1]}", {}))
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the server and chromium are stopped; print what was measured
        out["interrupted"] = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    out["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
