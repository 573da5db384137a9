"""The app's compute plan: one job per piece of work, at most as many heavy jobs as cores, by
priority; shared results between pages; no verdict from a figure that is not final; progress that
only moves forward."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["WORKBENCH_UMAP"] = "off"
from streamlit.testing.v1 import AppTest  # noqa: E402

import core  # noqa: E402
from core.foundation import Cancelled  # noqa: E402
from workbench import cards, jobs, settings  # noqa: E402
from workbench.estimates import Reading  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "workbench" / "app.py")


# --- the scheduler and the job, without a session -------------------------------------------------


def _job(target, priority=jobs.ASKED, **kw) -> jobs.Job:
    return jobs.Job(target, label="test", priority=priority, **kw)


def test_progress_only_moves_forward():
    job = _job(lambda j: None)
    job.progress(5, 10)
    job.progress(2, 10, "a second pass restarts its own count")
    assert job.fraction == pytest.approx(0.5)
    job.progress(9, 10)
    assert job.fraction == pytest.approx(0.9)


def test_at_most_slots_heavy_jobs_at_once_and_priority_first(monkeypatch):
    scheduler = jobs.Scheduler(1)
    monkeypatch.setattr(jobs, "SCHEDULER", scheduler)
    gate, order, lock = threading.Event(), [], threading.Lock()
    peak, active = [0], [0]

    def work(name):
        def target(job):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                order.append(name)
            gate.wait(5)
            with lock:
                active[0] -= 1
        return target

    first = _job(work("first")).start()
    time.sleep(0.3)  # first holds the only slot
    later = [_job(work("idle"), jobs.IDLE).start(), _job(work("ahead"), jobs.AHEAD).start(),
             _job(work("now"), jobs.NOW).start()]
    time.sleep(0.5)
    assert [j.status for j in later] == ["queued"] * 3 and "queued" not in first.status
    gate.set()
    for job in [first] + later:
        assert job.wait(10) and job.status == "done"
    assert peak[0] == 1
    assert order == ["first", "now", "ahead", "idle"]


def test_idle_work_waits_for_every_other_job(monkeypatch):
    scheduler = jobs.Scheduler(2)
    monkeypatch.setattr(jobs, "SCHEDULER", scheduler)
    gate, started = threading.Event(), []
    busy = _job(lambda j: gate.wait(5)).start()
    time.sleep(0.2)
    idle = _job(lambda j: started.append(time.monotonic()), jobs.IDLE).start()
    time.sleep(0.6)
    assert not started and idle.status == "queued"  # a free slot, but other work runs
    released = time.monotonic()
    gate.set()
    assert busy.wait(5) and idle.wait(5) and started[0] >= released


def test_a_cancelled_queued_job_never_runs(monkeypatch):
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(1))
    gate, ran = threading.Event(), []
    busy = _job(lambda j: gate.wait(5)).start()
    time.sleep(0.2)
    waiting = _job(lambda j: ran.append(1)).start()
    waiting.cancel()
    assert waiting.wait(5) and waiting.status == "cancelled" and not ran
    gate.set()
    busy.wait(5)


def test_a_job_waits_for_its_dependency_and_reads_its_result(monkeypatch):
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(1))
    dep = _job(lambda j: (time.sleep(0.3), 41)[1]).start()
    after = _job(lambda j: j.dep() + 1, deps=(dep,)).start()
    assert after.wait(5) and after.result == 42
    failing = _job(lambda j: 1 / 0).start()
    child = _job(lambda j: "never", deps=(failing,)).start()
    assert child.wait(5) and child.status == "failed" and "ZeroDivisionError" in child.error


def _reference_work(steps, ran, step_s=0.05):
    """A yielding target like the random references: fit by fit, cancellable, cached (a rerun skips what is done)."""
    done = set()

    def target(job):
        ran.append(time.monotonic())
        for i in range(steps):
            if job.cancel_event.is_set():
                raise Cancelled("stop")
            if i not in done:
                time.sleep(step_s)
                done.add(i)
            job.progress(i + 1, steps)
        return len(done)
    return target


def test_a_click_pauses_reference_work_which_resumes_from_its_cache(monkeypatch):
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(2))
    ran, fractions, other_ran = [], [], []
    reference = _job(_reference_work(40, ran), jobs.NOW, yields=True).start()  # more urgent by priority
    other = _job(_reference_work(40, other_ran), jobs.AHEAD, yields=True).start()  # both slots taken
    time.sleep(0.5)
    assert reference.status == "running" and other.status == "running"
    click_started = []
    click = _job(lambda j: (click_started.append(time.monotonic()), time.sleep(0.5)), jobs.ASKED, clicked=True)
    asked = time.monotonic()
    click.start()
    while reference.running:
        fractions.append(reference.fraction)
        time.sleep(0.02)
    assert click.wait(5) and click.status == "done" and reference.status == "done"
    assert click_started[0] - asked < 0.5  # the reference gave its slot back at its next step
    assert reference.pauses == 1 and len(ran) == 2 and ran[1] >= click_started[0] + 0.45  # resumed after the click
    assert other.wait(5) and other.pauses == 1 and other_ran[1] >= click_started[0] + 0.45  # the click had both cores
    assert reference.result == 40 and other.result == 40  # every step done once (reruns read their cache)
    assert all(b >= a for a, b in zip(fractions, fractions[1:]))


def test_reference_work_waits_while_a_click_runs_and_a_cancelled_pause_ends(monkeypatch):
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(2))
    gate, ran = threading.Event(), []
    click = _job(lambda j: gate.wait(5), clicked=True).start()
    time.sleep(0.2)
    reference = _job(_reference_work(5, ran), jobs.NOW, yields=True).start()
    plain = _job(lambda j: "ran", jobs.AHEAD).start()  # other work still takes the free slot
    assert plain.wait(5) and plain.result == "ran"
    assert not ran and reference.status == "queued"  # a free slot, but a click's job runs
    gate.set()
    assert click.wait(5) and reference.wait(5) and reference.status == "done" and ran
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(1))
    ran = []
    paused = _job(_reference_work(200, ran), yields=True).start()
    time.sleep(0.3)
    gate2 = threading.Event()
    click = _job(lambda j: gate2.wait(5), clicked=True).start()
    time.sleep(0.5)
    assert paused.pauses == 1 and paused.status == "queued" and "paused" in paused.describe()
    paused.cancel()
    assert paused.wait(5) and paused.status == "cancelled" and len(ran) == 1
    gate2.set()
    click.wait(5)


# --- the verdict rule --------------------------------------------------------------------------------


def _estimate(acc, n_kept=300, std=0.01):
    return core.Estimate(acc, std, [acc] * 5, {}, n_kept, 1000, "m", "b")


@pytest.mark.parametrize("leak_free,random_state", [(False, "exact"), (True, "interpolated"), (True, "nearest"),
                                                    (True, "computing")])
def test_no_verdict_unless_the_reading_is_final(leak_free, random_state):
    rand = None if random_state == "computing" else _estimate(0.70, n_kept=300 if random_state != "nearest" else 250)
    found = Reading(_estimate(0.90), leak_free, _estimate(0.91, 1000), rand, random_state, 12.0, not leak_free)
    verdict = cards.reading_verdict(found, is_random=False, n_kept=300)
    assert verdict.level == "neutral" and "beats" not in verdict.text
    final = Reading(_estimate(0.90), True, _estimate(0.91, 1000), _estimate(0.70), "exact")
    assert cards.reading_verdict(final, is_random=False, n_kept=300).level == "good"


# --- pages sharing work (AppTest) ----------------------------------------------------------------------


def _blobs(n=6000, features=12, seed=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.5, (4, features))
    y = rng.integers(0, 4, n)
    X = centres[y] + rng.normal(0, 2.0, (n, features))
    return core.Dataset.from_arrays(X.astype(np.float32), y)


@pytest.fixture
def started(monkeypatch):
    names = []
    start = jobs.start
    monkeypatch.setattr(jobs, "start", lambda name, *a, **k: (names.append((name, k.get("key"))), start(name, *a, **k))[1])
    return names


def _session(ds, scorers):
    settings.operator.cache_clear()
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"], at.session_state["origin"], at.session_state["preloaded"] = ds, "Synthetic", True
    at.run()
    table = core.compute_scores(ds, scorers, seed=0)
    at.session_state["score_table"] = table
    at.session_state["table_version"] = 7
    return at


def _settle_all(at, timeout=240):
    deadline = time.time() + timeout
    while at.session_state["jobs"]:
        assert time.time() < deadline, list(at.session_state["jobs"])
        for job in list(at.session_state["jobs"].values()):
            job.wait(1)
        at.run()


def _stop(at):
    for job in list(at.session_state["jobs"].values()):
        job.cancel()
        job.wait(60)


def test_no_fold_wise_job_for_a_recipe_that_reads_no_labels(started):
    at = _session(_blobs(), ["knn_density", "label_noise"])
    try:
        at.switch_page("../pages/tune.py").run()
        at.selectbox(key="tune_kind").set_value("top").run()
        at.selectbox(key="tune_scorer").set_value("knn_density").run()
        assert not at.exception, at.exception
        _settle_all(at)
        assert "fold_scores" not in [name for name, _ in started]
        pruned = [m.label for m in at.metric if m.label.startswith("Pruned")][0]
        assert "optimistic" not in pruned
    finally:
        _stop(at)


def test_export_shows_tunes_figure_at_once_and_starts_no_second_job(started):
    at = _session(_blobs(seed=5), ["knn_density", "label_noise"])
    try:
        at.switch_page("../pages/tune.py").run()
        at.selectbox(key="tune_kind").set_value("ccs").run()
        at.selectbox(key="tune_scorer").set_value("label_noise").run()
        assert not at.exception, at.exception
        _settle_all(at)
        tune_cards = {m.label.split(" ·")[0]: m.value for m in at.metric}
        assert "optimistic" not in [m.label for m in at.metric if m.label.startswith("Pruned")][0]
        before = list(started)
        at.switch_page("../pages/export.py").run()
        assert not at.exception, at.exception
        export_cards = {m.label.split(" ·")[0]: m.value for m in at.metric}
        assert export_cards["Pruned"] == tune_cards["Pruned"] and export_cards["Random"] == tune_cards["Random"]
        assert started == before  # nothing started: the same figures, from the same plan
        assert not at.session_state["jobs"]
        assert any(c.value.startswith("Strategy `ccs:label_noise`") for c in at.caption)  # the manifest's block is final
    finally:
        _stop(at)


def test_two_pages_asking_for_the_fold_wise_scores_start_one_job(started, monkeypatch):
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(1))
    at = _session(_blobs(seed=6), ["knn_density", "label_noise"])
    try:
        at.switch_page("../pages/tune.py").run()
        at.selectbox(key="tune_kind").set_value("ccs").run()
        at.selectbox(key="tune_scorer").set_value("label_noise").run()
        assert not at.exception, at.exception
        running = at.session_state["jobs"].get("fold_scores")
        at.button(key="tune_auto").click().run()  # Auto needs the same fold-wise scores
        assert not at.exception, at.exception
        fold_jobs = [key for name, key in started if name == "fold_scores"]
        assert len(set(fold_jobs)) == 1
        if running is not None:
            assert at.session_state["jobs"].get("fold_scores") is running
        _settle_all(at, timeout=400)
        assert at.session_state["auto_result"] is not None
    finally:
        _stop(at)


def test_a_promoted_job_starts_first_and_sessions_share_the_slots(monkeypatch):
    scheduler = jobs.Scheduler(1)
    monkeypatch.setattr(jobs, "SCHEDULER", scheduler)
    gate, order = threading.Event(), []

    def work(name):
        return lambda job: (order.append(name), gate.wait(5) if name == "first" else None)

    first = _job(work("first"), owner="a").start()
    time.sleep(0.3)
    waiting = [_job(work("a-second"), owner="a").start(), _job(work("b-first"), owner="b").start()]
    time.sleep(0.3)
    late = _job(work("promoted"), jobs.AHEAD, owner="a").start()
    time.sleep(0.3)
    scheduler.promote(late, jobs.NOW)
    gate.set()
    for job in [first, late] + waiting:
        assert job.wait(10) and job.status == "done"
    assert order[:2] == ["first", "promoted"]
    assert order[2:] == ["a-second", "b-first"] or order[2:] == ["b-first", "a-second"]


def test_a_session_with_work_running_lets_another_session_start_first(monkeypatch):
    monkeypatch.setattr(jobs, "SCHEDULER", jobs.Scheduler(2))
    gates = {name: threading.Event() for name in ("a1", "a2")}
    order = []

    def work(name):
        return lambda job: (order.append(name), gates[name].wait(5) if name in gates else None)

    running = [_job(work("a1"), owner="a").start(), _job(work("a2"), owner="a").start()]
    time.sleep(0.3)
    waiting = [_job(work("a3"), owner="a").start()]
    time.sleep(0.1)
    waiting.append(_job(work("b1"), owner="b").start())  # asked later, but its session runs nothing
    time.sleep(0.3)
    gates["a1"].set()
    assert waiting[1].wait(5)
    gates["a2"].set()
    for job in running + waiting:
        assert job.wait(10)
    assert order.index("b1") < order.index("a3")


def test_an_idle_child_process_is_paused_while_heavy_work_runs(monkeypatch):
    import subprocess
    import sys

    scheduler = jobs.Scheduler(2)
    monkeypatch.setattr(jobs, "SCHEDULER", scheduler)
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.05)"])
    try:
        jobs.yield_process(child)
        gate = threading.Event()
        heavy = _job(lambda j: gate.wait(10)).start()
        deadline = time.time() + 5
        while _state(child.pid) != "T" and time.time() < deadline:
            time.sleep(0.1)
        assert _state(child.pid) == "T"  # stopped while the heavy job runs
        gate.set()
        heavy.wait(5)
        deadline = time.time() + 5
        while _state(child.pid) == "T" and time.time() < deadline:
            time.sleep(0.1)
        assert _state(child.pid) in ("S", "R")  # running again once the plan is idle
    finally:
        child.kill()
        child.wait(5)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


def test_final_figures_show_the_interval_the_worst_class_and_quotas_apply():
    at = _session(_blobs(n=3000, seed=8), ["knn_density"])
    try:
        at.switch_page("../pages/tune.py").run()
        at.selectbox(key="tune_kind").set_value("top").run()
        at.selectbox(key="tune_scorer").set_value("knn_density").run()
        at.selectbox(key="tune_quota").set_value("equal").run()
        assert not at.exception, at.exception
        _settle_all(at)
        assert at.session_state["recipe"]["strategy"].endswith(":quota=equal")
        assert any("95% interval" in c.value and "worst class" in c.value for c in at.caption)
    finally:
        _stop(at)


def test_app_scoring_builds_one_neighbour_graph_for_every_family(monkeypatch, tmp_path):
    """The app scores family by family (a cancel keeps finished families); the neighbour graph is
    still built once, sized for every family (the CLI scores all at once)."""
    from core.scorers.context import ScoringContext
    from workbench import scoring

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))  # cold: the graph is built, not read
    built = []
    original = ScoringContext._build_graph
    monkeypatch.setattr(ScoringContext, "_build_graph", lambda self, k: (built.append(k), original(self, k))[1])
    monkeypatch.setattr(scoring.resources, "list_scorers", core.list_scorers)
    ds = _blobs(n=1500, seed=9)
    names = ["knn_density", "outlier", "label_noise", "knn_shapley"]
    job = _job(scoring.target(ds, names, 0, 5), heavy=False).start()
    assert job.wait(120) and job.status == "done", job.error
    assert len(scoring.grouped(names)) == 3 and len(built) == 1 and built[0] >= 30
