"""``workbench app``: launch the Streamlit app (options this command does not know pass on to streamlit)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.cli.options import wrap
from core.foundation import DataFileError

NAME = "app"
#: Unknown options are streamlit's: :func:`core.cli.main` hands them over as ``args.passed_on``.
PASSES_ON_UNKNOWN = True

__all__ = ["NAME", "PASSES_ON_UNKNOWN", "add_parsers", "run", "app_path"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(
        NAME, parents=[common], formatter_class=formatter, help="launch the Streamlit app",
        description=wrap("Launch the Streamlit app (streamlit run workbench/app.py). Options after `app` that "
                         "this command does not know are passed on to streamlit."),
        epilog="examples:\n  workbench app\n  workbench app --server.port 8600 --server.headless true")
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    p.add_argument("--server", action="store_true",
                   help="server mode (WORKBENCH_SERVER_MODE=1): no local paths, folder writes or cache settings")


def _address_option(extra: list) -> list:
    """``--server.address`` for streamlit: loopback unless the operator chose an address.

    The operator chooses with ``--server.address`` (passed on as given), ``WORKBENCH_ADDRESS`` or
    Streamlit's own ``STREAMLIT_SERVER_ADDRESS``; the app then offers local files only on loopback.
    """
    if any(item == "--server.address" or item.startswith("--server.address=") for item in extra):
        return []
    if os.environ.get("STREAMLIT_SERVER_ADDRESS", "").strip():
        return []
    return ["--server.address", os.environ.get("WORKBENCH_ADDRESS", "").strip() or "127.0.0.1"]


def app_path() -> Path:
    return Path(__file__).resolve().parents[2] / "workbench" / "app.py"


def run(args) -> int:
    extra = list(getattr(args, "passed_on", []))
    script = app_path()
    if not script.is_file():
        raise DataFileError(f"The app is not here ({script} is missing). "
                            "Run `workbench app` from a checkout of the repository.")
    command = [sys.executable, "-m", "streamlit", "run", str(script), *_address_option(extra), *extra]
    if args.server:  # the operator's choice, read once by the app (workbench/settings.py)
        os.environ["WORKBENCH_SERVER_MODE"] = "1"
    if args.dry_run:
        print(("WORKBENCH_SERVER_MODE=1 " if os.environ.get("WORKBENCH_SERVER_MODE") == "1" else "") + " ".join(command))
        return 0
    # Replace this process with Streamlit (no child is left behind: SIGTERM, SIGINT and the
    # parent's death reach the server itself), run from the repository root so
    # .streamlit/config.toml (theme, upload limits, server mode) applies.
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(script.parent.parent)
    os.execv(sys.executable, command)
    return 0  # not reached: execv does not return
