"""Issue 17, item 12: `pinn dashboard` listens on 127.0.0.1 wherever it is started (read with `ss`, and by
connecting to this machine's non-loopback address)."""
import shutil
import socket
import subprocess
import sys
import time

import pytest

from pinncli.dashboard import is_loopback, streamlit_argv
from procs import free_port, stop
from pinncore import ConfigError


def listen_addresses(port: int) -> list[str]:
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if line.strip()]


def other_address() -> str | None:
    """An address of this machine that is not loopback (None if it has none)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def wait_listening(proc, port: int, timeout: float = 120) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        addrs = listen_addresses(port)
        if addrs:
            return addrs
        time.sleep(0.3)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_pinn_dashboard_listens_on_loopback_only_from_any_directory(tmp_path):
    port = free_port()
    (tmp_path / ".streamlit").mkdir()  # a config in the working directory that would share it: overridden
    (tmp_path / ".streamlit" / "config.toml").write_text('[server]\naddress = "0.0.0.0"\n')
    proc = subprocess.Popen([sys.executable, "-m", "pinncli.main", "dashboard", "--port", str(port),
                             "--runs", str(tmp_path / "runs")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_listening(proc, port) == [f"127.0.0.1:{port}"]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        ip = other_address()
        if ip:
            with pytest.raises(OSError):
                socket.create_connection((ip, port), timeout=5).close()
    finally:
        stop(proc, 30)


def test_dashboard_command_line():
    argv = streamlit_argv("127.0.0.1", 8600)
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("dashboard/app.py")
    assert "--server.address=127.0.0.1" in argv and "--server.port=8600" in argv
    assert "--browser.serverAddress=localhost" in argv
    assert "--server.address=0.0.0.0" in streamlit_argv("0.0.0.0", 8600)  # sharing, on purpose
    assert is_loopback("localhost") and is_loopback("::1") and not is_loopback("0.0.0.0")
    for bad, field in ((("example.com", 8600), "host"), (("127.0.0.1", 0), "port"), (("127.0.0.1", 70000), "port")):
        with pytest.raises(ConfigError, match=field):
            streamlit_argv(*bad)
    with pytest.raises(ConfigError, match="--server.address"):
        streamlit_argv("127.0.0.1", 8600, ["--server.address=0.0.0.0"])


def test_pinn_dashboard_sets_what_the_repository_config_sets():
    """A server started by `pinn dashboard` from any directory runs with the settings of .streamlit/config.toml
    (no file watcher, no post-script GC, ...), the address aside (passed on its own)."""
    import tomllib
    from pathlib import Path

    from pinncli.dashboard import OPTIONS

    toml = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{k}": str(v).lower() if isinstance(v, bool) else str(v)
            for section, items in toml.items() for k, v in items.items()}
    flat.pop("server.address")
    flat.pop("browser.serverAddress")
    assert flat == OPTIONS
