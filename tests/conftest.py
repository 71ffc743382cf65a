import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from procs import free_port, stop

torch.set_num_threads(1)  # tiny batches: one thread is fastest, and CI has 2 cores
# the page's run service (AppTests start it in this process) would compile the default setups' steps at start,
# a minute or two of both cores under every test that follows; a test that wants it sets it back
os.environ.setdefault("PINN_WARM", "0")


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Keep the cavity reference cache out of the user's home, shared across the session."""
    monkeypatch.setenv("PINNCORE_CACHE", os.environ.get("PINNCORE_TEST_CACHE")
                       or str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module (starting it costs seconds); run_sweep reuses it and leaves it up."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 object_store_memory=100 * 1024**2)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(autouse=True, scope="session")
def _components_scanned_once():
    """Every ``AppTest.run`` scans the metadata of every installed package for Streamlit components (0.6 s a
    run here, most of an AppTest's time); the installed packages do not change during the tests, so scan once."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:
        yield
        return
    scan, found = manifest_scanner.scan_component_manifests, []

    def once(*args, **kwargs):
        if not found:
            found.append(scan(*args, **kwargs))
        return list(found[0])

    manifest_scanner.scan_component_manifests = once
    yield
    manifest_scanner.scan_component_manifests = scan


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One dashboard server for every browser test (starting one costs seconds); each test's browser context is a
    browser of its own (its own cookie, so its own runs), and each test stops what it started."""
    port = free_port()
    home = tmp_path_factory.mktemp("browser")
    # workers at the server's priority: here they share the cores with the rest of a parallel test suite, not
    # with the pages they train for, and at nice 10 the first chart points once took 30-36 s
    env = dict(os.environ, PINN_RUNS_DIR=str(home / "runs"), PINN_WARM=os.environ.get("PINN_WARM", "0"),
               PINN_WORKER_NICE="0")
    log = open(home / "server.log", "w")  # a file, not a pipe: a pipe nobody reads would block a chatty server
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port",
                             str(port), "--server.headless", "true"], cwd=Path(__file__).resolve().parent.parent,
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not come up: " + (home / "server.log").read_text())
    yield url
    stop(proc)
    log.close()
