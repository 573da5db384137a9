"""Served safely, to several users at once (issue 25).

- Safe by default: ``workbench app`` listens on loopback unless the operator chooses an address,
  and local files (Data > Local path, Export > Write to a folder) are offered only on loopback or
  when the operator turned them on.
- Several sessions on one app never see each other's data, choices or results: four AppTest
  sessions in threads load different data, tune and export at the same time, and each export is
  what that session chose. AppTest cannot run two scripts at the same moment in one process (each
  run swaps in a process-wide mock Runtime), so the script runs are serialised by a lock and
  interleaved at random, while every session's background jobs (scoring, references) run at once.
- Memory stays bounded: a cap per session, the oldest idle session's data released first, and a
  message when a load is refused.
"""

from __future__ import annotations

import gc
import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ["WORKBENCH_UMAP"] = "off"
from streamlit.testing.v1 import AppTest  # noqa: E402

import core  # noqa: E402
from core.foundation import DataFileError  # noqa: E402
from workbench import sessions, settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "workbench" / "app.py")
PATIENCE = 600
MB = 1 << 20


# ------------------------------------------------------------------------------ safe by default
def _operator(monkeypatch, address, **env):
    for name in ("WORKBENCH_SERVER_MODE", "WORKBENCH_LOCAL_FILES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(settings, "bound_address", lambda: address)
    settings.operator.cache_clear()
    try:
        return settings.operator()
    finally:
        settings.operator.cache_clear()


@pytest.mark.parametrize("address, env, local, served", [
    (None, {}, True, False),  # no server at all (AppTest, scripts)
    ("127.0.0.1", {}, True, False),
    ("localhost", {}, True, False),
    ("", {}, False, True),  # Streamlit's default: every interface
    ("0.0.0.0", {}, False, True),
    ("192.168.1.20", {"WORKBENCH_LOCAL_FILES": "1"}, True, True),  # the operator's choice, a trusted network
    ("127.0.0.1", {"WORKBENCH_SERVER_MODE": "1"}, False, True),
    ("0.0.0.0", {"WORKBENCH_SERVER_MODE": "1", "WORKBENCH_LOCAL_FILES": "1"}, False, True),  # server mode wins
])
def test_local_files_only_on_loopback_or_by_the_operators_choice(monkeypatch, address, env, local, served):
    operator = _operator(monkeypatch, address, **env)
    assert operator.local_files is local and operator.server_mode is served


def _app_command(monkeypatch, capsys, *extra, **env) -> str:
    from core.cli import main

    for name in ("WORKBENCH_ADDRESS", "STREAMLIT_SERVER_ADDRESS", "WORKBENCH_SERVER_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["app", "--dry-run", *extra]) == 0
    return capsys.readouterr().out


def test_workbench_app_listens_on_loopback_unless_the_operator_chooses(monkeypatch, capsys):
    assert "--server.address 127.0.0.1" in _app_command(monkeypatch, capsys)
    assert "--server.address 0.0.0.0" in _app_command(monkeypatch, capsys, WORKBENCH_ADDRESS="0.0.0.0")
    chosen = _app_command(monkeypatch, capsys, "--server.address", "10.1.2.3")
    assert chosen.count("--server.address") == 1 and "10.1.2.3" in chosen
    assert "--server.address" not in _app_command(monkeypatch, capsys, STREAMLIT_SERVER_ADDRESS="0.0.0.0")
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:"):].split("\n\n")[0]
    assert "core.cli app" in run and "streamlit run" not in run  # `make run` goes through the same choice
    assert 'address = "127.0.0.1"' in (ROOT / ".streamlit" / "config.toml").read_text()  # plain `streamlit run`


def test_an_app_bound_beyond_loopback_offers_no_local_files(monkeypatch):
    monkeypatch.setattr(settings, "bound_address", lambda: "0.0.0.0")
    monkeypatch.delenv("WORKBENCH_SERVER_MODE", raising=False)
    monkeypatch.delenv("WORKBENCH_LOCAL_FILES", raising=False)
    settings.operator.cache_clear()
    try:
        at = AppTest.from_file(APP, default_timeout=PATIENCE)
        at.run()
        assert not at.exception
        options = at.segmented_control(key="data_source").options
        assert "Local path" not in options and "Scored partitions" not in options
        at.switch_page("../pages/export.py").run()
        assert not at.exception
        assert not [t for t in at.text_input if t.key == "export_folder"]
        assert not [b for b in at.button if b.key == "export_write"]
    finally:
        settings.operator.cache_clear()


# ---------------------------------------------------------------------------------- memory bound
def test_the_table_refuses_over_the_session_cap_and_releases_the_oldest_idle_first():
    table, released = sessions.Sessions(), []
    handles = [sessions.Handle() for _ in range(4)]
    for i, handle in enumerate(handles):
        handle.release = lambda why, i=i: released.append((i, why))
        table.check_in(handle, now=100.0 + i)
    with pytest.raises(DataFileError, match="WORKBENCH_SESSION_MB"):
        table.admit(handles[0], 300 * MB, session_cap=200 * MB, total_cap=1000 * MB, now=101.0)
    assert table.held(handles[0]) == 0  # nothing was taken by a refused load
    for i in range(3):
        assert table.admit(handles[i], 120 * MB, session_cap=200 * MB, total_cap=400 * MB, now=100.0 + i) == 0
    # session 3 needs room: sessions 0, 1 and 2 are idle; 0 is the oldest and goes first, and is enough
    assert table.admit(handles[3], 120 * MB, session_cap=200 * MB, total_cap=400 * MB, now=300.0, idle=60) == 1
    assert [i for i, _ in released] == [0] and "released" in released[0][1]
    assert table.held(handles[0]) == 0 and table.total() == 360 * MB
    # nobody idle long enough: refused with a message, nothing released
    table.check_in(handles[1], now=299.0)
    table.check_in(handles[2], now=299.0)
    with pytest.raises(DataFileError, match="Try again"):
        table.admit(handles[0], 120 * MB, session_cap=200 * MB, total_cap=400 * MB, now=300.0, idle=60)
    assert [i for i, _ in released] == [0]


def test_a_session_streamlit_dropped_is_forgotten_with_its_bytes():
    table = sessions.Sessions()
    handle = sessions.Handle()
    table.admit(handle, 100 * MB, session_cap=200 * MB, total_cap=400 * MB)
    assert table.total() == 100 * MB
    del handle
    gc.collect()
    assert table.total() == 0


def _csv(seed: int, rows: int = 150, prefix: str = "r") -> bytes:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    frame.insert(0, "id", [f"{prefix}{i:04d}" for i in range(rows)])
    frame["label"] = np.where(frame["a"] + 0.5 * rng.normal(size=rows) > 0, "yes", "no")
    return frame.to_csv(index=False).encode()


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value((name, data, "text/csv")).run()
    at.selectbox(key="data_up_id").set_value("id").run()
    at.button(key="data_up_load").click().run()


def test_an_idle_sessions_data_are_released_for_a_new_load_and_it_is_told(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PRELOAD", "")
    monkeypatch.setattr(sessions, "IDLE_SECONDS", 0.0)
    monkeypatch.setattr(sessions, "SESSIONS", sessions.Sessions())  # other tests' sessions are not released
    first = AppTest.from_file(APP, default_timeout=PATIENCE)
    settings.operator.cache_clear()
    first.run()
    _upload(first, "first.csv", _csv(1, prefix="f"))
    assert not first.exception and first.session_state["dataset"] is not None
    assert 0 < sessions.data_bytes(first.session_state["dataset"]) < MB  # its real size
    # a server where one session may hold 1 MB, all sessions 1 MB, and these data count 0.6 MB (2 MB over
    # 1000 rows): room for one data set at a time
    monkeypatch.setattr(sessions, "data_bytes", lambda ds: int((0.6 if ds.n_samples < 1000 else 2) * MB))
    monkeypatch.setenv("WORKBENCH_TOTAL_MB", "1")
    monkeypatch.setenv("WORKBENCH_SESSION_MB", "1")
    settings.operator.cache_clear()
    try:
        _upload(first, "first_again.csv", _csv(4, prefix="f"))  # counted again under these settings
        assert first.session_state["dataset"].ids[0] == "f0000" and not first.error
        second = AppTest.from_file(APP, default_timeout=PATIENCE)
        second.run()
        _upload(second, "second.csv", _csv(2, prefix="s"))
        assert not second.exception and not second.error, [e.value for e in second.error]
        assert second.session_state["dataset"].ids[0] == "s0000"
        first.run()  # the first visitor comes back: told why, asked to load again
        assert first.session_state["dataset"] is None
        assert any("released" in w.value for w in first.warning), [w.value for w in first.warning]
        big = _csv(3, rows=4000, prefix="b")  # over the per-session cap: refused, the data in use stay
        _upload(second, "big.csv", big)
        assert any("WORKBENCH_SESSION_MB" in e.value for e in second.error), [e.value for e in second.error]
        assert second.session_state["dataset"].ids[0] == "s0000"
    finally:
        settings.operator.cache_clear()


# ----------------------------------------------------------------------------- several sessions
CHOICES = [  # (data, rows, scorer or None, strategy kind, keep %, seed setting); sessions 0 and 2 load the same file
    ("A", 150, None, "random", 40, 0),
    ("B", 180, "knn_density", "top", 60, 0),
    ("A", 150, None, "random", 70, 5),
    ("C", 210, "knn_density", "top", 30, 0),
]
DATA_SEEDS = {"A": 11, "B": 12, "C": 13}


RUN_LOCK = threading.Lock()


def _serialised(at: AppTest) -> AppTest:
    """``at`` whose script runs take :data:`RUN_LOCK` (every widget's ``.run()`` goes through ``_run``)."""
    inner = at._run

    def run(*args, **kwargs):
        with RUN_LOCK:
            return inner(*args, **kwargs)

    at._run = run
    return at


def _wait_jobs(at: AppTest, timeout: float = PATIENCE) -> None:
    deadline = time.time() + timeout
    while at.session_state["jobs"]:
        assert time.time() < deadline, f"jobs {list(at.session_state['jobs'])} did not finish"
        time.sleep(0.3)
        at.run()


def _one_session(index: int, results: dict, barrier: threading.Barrier) -> None:
    tag, rows, scorer, kind, keep, seed = CHOICES[index]
    data = _csv(DATA_SEEDS[tag], rows, prefix=f"{tag}_")  # same file, same bytes: shared caches, own choices
    at = _serialised(AppTest.from_file(APP, default_timeout=PATIENCE))
    at.run()
    barrier.wait(timeout=PATIENCE)  # every session loads, tunes and exports at the same time
    _upload(at, f"data{tag}.csv", data)
    if seed:
        at.sidebar.number_input(key="settings_seed").set_value(seed).run()
    if scorer:
        at.switch_page("../pages/scores.py").run()
        for box in at.checkbox:
            if box.key and box.key.startswith("scores_pick_"):
                box.set_value(box.key == f"scores_pick_{scorer}")
        at.run()
        if not at.button(key="scores_compute").disabled:
            at.button(key="scores_compute").click().run()
        _wait_jobs(at)
    at.switch_page("../pages/tune.py").run()
    at.selectbox(key="tune_kind").set_value(kind).run()
    if scorer:
        at.selectbox(key="tune_scorer").set_value(scorer).run()
    for value in (keep + 10, keep - 10, keep):  # a few slider moves while the others work
        at.slider(key="tune_keep").set_value(value).run()
    at.switch_page("../pages/export.py").run()
    _wait_jobs(at)
    assert not at.exception, [e.message for e in at.exception]
    files = at.session_state["memo"]["export_files"][1]
    results[index] = {"data": data, "rows": files["rows"], "manifest": json.loads(files["manifest"]),
                      "recipe": dict(at.session_state["recipe"]), "seed": at.session_state["seed"]}


def test_four_sessions_at_once_each_export_what_it_chose(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_PRELOAD", "")
    settings.operator.cache_clear()
    results, errors = {}, []
    barrier = threading.Barrier(len(CHOICES))

    def run(index):
        try:
            _one_session(index, results, barrier)
        except BaseException:  # noqa: BLE001 - reported below with its session
            import traceback

            errors.append((index, traceback.format_exc()[-3000:]))
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(CHOICES))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE * 2)
    assert not errors, errors
    for index, (tag, rows, scorer, kind, keep, seed) in enumerate(CHOICES):
        result = results[index]
        path = tmp_path / f"session{index}.csv"
        path.write_bytes(result["data"])
        ds = core.load_dataset(path, label="label", id="id")  # the data this session uploaded, loaded apart
        assert (scorer or "random") in result["recipe"]["strategy"] and result["seed"] == seed
        assert result["recipe"]["keep"] == pytest.approx(keep / 100)
        scores = core.compute_scores(ds, [scorer], seed=seed) if scorer else None
        expected = core.select(ds, scores, strategy=result["recipe"]["strategy"], keep=keep / 100, seed=seed)
        kept = pd.read_csv(io.BytesIO(result["rows"]), dtype=str, keep_default_na=False)
        assert kept["id"].tolist() == list(expected.kept_ids), f"session {index} exported another selection"
        assert all(i.startswith(f"{tag}_") for i in kept["id"]), f"session {index} exported another's rows"
        assert result["manifest"]["data_fingerprint"] == ds.fingerprint
        assert result["manifest"]["n_kept"] == len(expected.kept_ids)


def _listening_addresses(port: int) -> set:
    """The local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp")
def test_a_real_workbench_app_listens_on_loopback_only(tmp_path):
    import sys

    from streamlit_server import free_port, serving

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_ADDRESS", "STREAMLIT_SERVER_ADDRESS")}
    env.update(WORKBENCH_UMAP="off", WORKBENCH_PRELOAD="")
    command = [sys.executable, "-m", "core.cli", "app", "--server.headless", "true", "--server.port", str(port),
               "--browser.gatherUsageStats", "false"]
    with serving(command, port, cwd=tmp_path, env=env, timeout=120):
        addresses = _listening_addresses(port)
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1 only, not 0.0.0.0 or ::


def test_uploads_are_kept_in_the_servers_own_folder_and_removed_when_it_exits(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from workbench import loaders\n"
        "class Up:\n"
        "    name = '../../etc/pets.csv'\n"
        "    def getvalue(self): return b'a,label\\n1,x\\n'\n"
        "path = loaders.save_upload(Up())\n"
        "print(path)\n"
        "assert path.read_bytes() == b'a,label\\n1,x\\n' and path.name == 'pets.csv'\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).resolve().parent.parent)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    saved = Path(done.stdout.strip())
    assert saved.is_relative_to(tmp_path)  # under the server's temporary folder, whatever name was typed
    assert not saved.exists() and not any(tmp_path.iterdir())  # nothing a visitor sent outlives the server


def test_an_upload_with_a_name_too_long_for_the_disk_is_saved_under_a_shorter_one():
    # a 300-character file name raised OSError (File name too long) as a traceback on the Data page
    from workbench import loaders

    class Upload:
        name = "x" * 300 + ".csv"

        def getvalue(self):
            return b"a,label\n1,u\n2,v\n"

    path = loaders.save_upload(Upload())
    assert path.read_bytes() == Upload().getvalue() and path.suffix == ".csv"
    assert len(path.name.encode("utf-8")) <= loaders.NAME_BYTES
    assert loaders.upload_file_name("../../etc/passwd") == "passwd"
    assert loaders.upload_file_name("scores.csv.gz") == "scores.csv.gz"


def test_messages_about_an_upload_name_the_file_not_the_servers_folders():
    import tempfile

    from workbench import loaders

    saved = str(tempfile.gettempdir()) + "/workbench-uploads-ab12/9535b8e86f3fb18a/fake.parquet"
    text = loaders.hide_server_paths(f"Could not open Parquet input source '{saved}': magic bytes not found")
    assert text == "Could not open Parquet input source 'fake.parquet': magic bytes not found"
    assert loaders.hide_server_paths("/home/me/data.csv: bad") == "/home/me/data.csv: bad"  # the user's own paths
