"""The inverse heat example (issue 34): the unknown diffusivity's trajectory is stored with the run, and a training
process killed with SIGKILL resumes exactly: the same trajectory, losses and parameters as a run never killed."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "problems" / "heat-inverse.toml"
FLAGS = ["--method", "M2", "--steps", "400", "--checkpoint-every", "40", "--depth", "2", "--width", "16",
         "--batch", "32", "--eval-every", "100", "--grad-every", "0", "--no-compile"]


def pinn(*args) -> list[str]:
    return [sys.executable, "-m", "pinncli", *args]


def steps_done(run: Path) -> int:
    try:
        return json.loads((run / "summary.json").read_text())["steps_done"]
    except (OSError, ValueError, KeyError):
        return 0


def test_the_unknown_trajectory_is_stored_and_resumes_exactly_after_kill_9(tmp_path):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
           "PINNCORE_CACHE": str(tmp_path / "cache")}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(pinn("train", "--problem-file", str(SPEC), *FLAGS, "--out", str(whole)), env=env, check=True,
                   capture_output=True, cwd=tmp_path, timeout=600)
    proc = subprocess.Popen(pinn("train", "--problem-file", str(SPEC), *FLAGS, "--out", str(killed)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while steps_done(killed) < 120 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert 120 <= steps_done(killed) < 400
    subprocess.run(pinn("resume", str(killed)), env=env, check=True, capture_output=True, cwd=tmp_path,
                   timeout=600)
    a, b = (pd.read_parquet(d / "metrics.parquet") for d in (whole, killed))
    assert len(a) == len(b) == 400 and list(a.columns) == list(b.columns)
    assert "unknown_kappa" in a.columns and a["unknown_kappa"].iloc[0] == 0.5
    pd.testing.assert_frame_equal(a.drop(columns="wall"), b.drop(columns="wall"), check_exact=True)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (whole, killed))
    assert sa["unknowns"] == sb["unknowns"] and sa["unknowns"]["kappa"] != 0.5
    assert sa["rel_l2"] == sb["rel_l2"]
