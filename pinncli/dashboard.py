"""``pinn dashboard``: the Streamlit app, bound to 127.0.0.1 wherever it is started.

``streamlit run dashboard/app.py`` reads ``.streamlit/config.toml`` from the working directory only, so started
from anywhere but the repository root it listened on every interface. This command passes the server options
on Streamlit's command line, which overrides every config file, so the server is local unless ``--host`` says
otherwise on purpose (then it says so on stderr).

    pinn dashboard [--host 127.0.0.1] [--port 8501] [--runs DIR] [-- STREAMLIT OPTIONS...]
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from pinncore import ConfigError

# what .streamlit/config.toml sets, for a server started from any directory
OPTIONS = {"server.headless": "true", "server.runOnSave": "false", "server.fileWatcherType": "none",
           "server.enableStaticServing": "true",
           "browser.gatherUsageStats": "false", "theme.base": "light", "client.toolbarMode": "minimal",
           "runner.postScriptGC": "false"}


def app_path() -> Path:
    import dashboard

    return Path(dashboard.__file__).resolve().parent / "app.py"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str:
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError("host", f"must be an IP address (127.0.0.1, 0.0.0.0, ...) or localhost, got {host!r}") from None
    return host


def streamlit_argv(host: str = "127.0.0.1", port: int = 8501, extra: list[str] | None = None) -> list[str]:
    """The command that runs the app: ``python -m streamlit run APP`` with the server bound to ``host``."""
    check_host(host)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError("port", f"must be an integer in [1, 65535], got {port!r}")
    for arg in extra or []:
        if arg.split("=", 1)[0] in ("--server.address", "--server.port"):
            raise ConfigError(arg.split("=", 1)[0], "use pinn dashboard's --host / --port")
    opts = {**OPTIONS, "server.address": host, "server.port": str(port),
            "browser.serverAddress": "localhost" if is_loopback(host) else host}
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            *(f"--{k}={v}" for k, v in opts.items()), *(extra or [])]


def parser() -> argparse.ArgumentParser:
    from .args import Parser

    p = Parser(prog="pinn dashboard", description="Start the dashboard (Streamlit), local to this machine unless "
                                                  "--host says otherwise. Options after -- go to streamlit run.")
    p.add_argument("--host", default="127.0.0.1",
                   help="listen address (default 127.0.0.1: this machine only). 0.0.0.0 shares it on every network "
                        "this machine is on: anyone who can reach it can train and read every run under the root")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--runs", help="runs root the dashboard keeps and opens runs under (PINN_RUNS_DIR; default runs)")
    return p


def main(argv: list[str]) -> int:
    argv = list(argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    a = parser().parse_args(own)
    try:
        cmd = streamlit_argv(a.host, a.port, extra)
    except ConfigError as exc:
        print(f"pinn: error: {exc}", file=sys.stderr)
        return 2
    if a.runs:
        os.environ["PINN_RUNS_DIR"] = str(Path(a.runs).resolve())
    if not is_loopback(a.host):
        print(f"pinn dashboard: listening on {a.host}:{a.port}, not only on this machine: anyone who can reach it "
              "can start training and read every run under the runs root", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, cmd)  # the server replaces this process: Ctrl-C and signals reach it directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
