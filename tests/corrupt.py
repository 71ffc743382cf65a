"""Corrupt-run fixtures and the audit matrix of issue 17.

``make_base(path)`` trains a small unfinished run (checkpoint, metrics and every kind of snapshot on disk);
``CORRUPTIONS`` maps a name to a function that damages a copy of it in one way; ``matrix(workdir)`` applies
each damage to a fresh copy and runs every operation (``pinn eval``, ``pinn resume``, ``pinn list`` in
process, and the dashboard's way of opening a run: ``resolve_run`` + ``Run.view`` + its snapshots) on it, and
classifies the outcome: ``ok`` (exit 0), ``refused`` (exit 2 with exactly one line on stderr and, for a
refusal, nothing in the run directory changed), or ``bad`` (a traceback, several lines, another exit code, or
a refusal that wrote something). A payload of a malicious checkpoint touches ``PAYLOAD`` if it ever runs.

    python tests/corrupt.py [WORKDIR]     # prints the matrix and the counts
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import torch

BASE = dict(depth=2, width=8, batch=16, eval_points=12, steps=24, eval_every=5, grad_every=5, hessian_every=10,
            checkpoint_every=5, weighting="annealing")
PAYLOAD = Path(tempfile.gettempdir()) / f"pinn-corrupt-payload-{os.getpid()}"


def make_base(path: Path) -> Path:
    """A run of 24 steps trained to step 12 (checkpoint at 10, metrics 0..9 kept), with eval, grad and hess
    snapshots."""
    from pinncore import RunConfig
    from pinncore.run import Run

    run = Run.create(RunConfig(**BASE), path)
    run.advance(12)
    run.close()
    return path


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {PAYLOAD}",))


class _PayloadEval:
    def __reduce__(self):
        return (eval, (f"open({str(PAYLOAD)!r}, 'w').write('x')",))


def _write(name: str, data: bytes):
    return lambda d: (d / name).write_bytes(data)


def _truncate(name: str, keep: float = 0.5):
    def f(d: Path):
        b = (d / name).read_bytes()
        (d / name).write_bytes(b[: int(len(b) * keep)])
    return f


def _dir_instead(name: str):
    def f(d: Path):
        p = d / name
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
        (p / "inner").mkdir(parents=True)
    return f


def _delete(name: str):
    return lambda d: (d / name).unlink()


def _json_edit(name: str, edit):
    def f(d: Path):
        data = json.loads((d / name).read_text())
        edit(data)
        (d / name).write_text(json.dumps(data))
    return f


def _checkpoint_edit(edit):
    def f(d: Path):
        state = torch.load(d / "checkpoint.pt", weights_only=True)
        state = edit(state)
        torch.save(state, d / "checkpoint.pt")
    return f


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _metrics_edit(edit):
    def f(d: Path):
        df = pd.read_parquet(d / "metrics.parquet")
        edit(df).to_parquet(d / "metrics.parquet", index=False)
    return f


def _first(d: Path, kind: str) -> Path:
    return sorted((d / "snapshots").glob(f"{kind}_*.npz"))[0]


def _snapshot_edit(kind: str, edit):
    def f(d: Path):
        p = _first(d, kind)
        with np.load(p) as a:
            arrays = {k: a[k] for k in a.files}
        edit(arrays)
        with open(p, "wb") as fh:
            np.savez(fh, **arrays)
    return f


def _snapshot_raw(kind: str, damage):
    return lambda d: damage(_first(d, kind))


def _truncate_path(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:40])


def _deep_json(d: Path):
    (d / "config.json").write_text("[" * 100_000 + "]" * 100_000)


def _other_width(d: Path):
    from pinncore import RunConfig, Trainer

    state = torch.load(d / "checkpoint.pt", weights_only=True)
    other = Trainer(RunConfig(**{**BASE, "width": 9})).state_dict()
    state["model"], state["optimizer"] = other["model"], other["optimizer"]
    torch.save(state, d / "checkpoint.pt")


def _stale_temp(d: Path):
    (d / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (d / "snapshots" / ".eval_00000005.npz.xyz.tmp").write_bytes(b"half")


def _object_array(d: Path):
    p = _first(d, "eval")
    with open(p, "wb") as fh:
        np.savez(fh, step=np.array(0), rel_l2=np.array(1.0), prediction=np.array([_Payload()], dtype=object))


def _snapshots_file(d: Path):
    shutil.rmtree(d / "snapshots")
    (d / "snapshots").write_text("not a directory")


def _lock_dir(d: Path):
    (d / ".lock").mkdir()


def _del(key):
    def edit(s):
        del s[key]
        return s
    return edit


def _set(key, value):
    def edit(s):
        s[key] = value
        return s
    return edit


GARBAGE = bytes(range(256)) * 8
CORRUPTIONS = {
    # config.json
    "config deleted": _delete("config.json"),
    "config binary garbage": _write("config.json", GARBAGE),
    "config empty": _write("config.json", b""),
    "config truncated": _truncate("config.json"),
    "config not an object": _write("config.json", b"[1, 2, 3]"),
    "config unknown field": _json_edit("config.json", lambda c: c.update(colour="red")),
    "config bad value": _json_edit("config.json", lambda c: c.update(depth=-1)),
    "config wrong type": _json_edit("config.json", lambda c: c.update(depth="3")),
    "config huge depth": _json_edit("config.json", lambda c: c.update(depth=1000)),
    "config huge eval points": _json_edit("config.json", lambda c: c.update(eval_points=100_000)),
    "config nested too deeply": _deep_json,
    "config is a directory": _dir_instead("config.json"),
    # summary.json
    "summary deleted": _delete("summary.json"),
    "summary binary garbage": _write("summary.json", GARBAGE),
    "summary truncated": _truncate("summary.json"),
    "summary not an object": _write("summary.json", b'"finished"'),
    "summary wrong types": _json_edit("summary.json", lambda s: s.update(steps_done="many", rel_l2="low")),
    "summary is a directory": _dir_instead("summary.json"),
    # checkpoint.pt
    "checkpoint deleted": _delete("checkpoint.pt"),
    "checkpoint empty": _write("checkpoint.pt", b""),
    "checkpoint garbage": _write("checkpoint.pt", GARBAGE),
    "checkpoint truncated": _truncate("checkpoint.pt"),
    "checkpoint malicious (torch.save, os.system)": _write("checkpoint.pt", _torch_bytes({"model": _Payload()})),
    "checkpoint malicious (raw pickle, eval)": _write("checkpoint.pt", pickle.dumps(_PayloadEval())),
    "checkpoint is a directory": _dir_instead("checkpoint.pt"),
    "checkpoint not a dict": _write("checkpoint.pt", _torch_bytes([1, 2, 3])),
    "checkpoint missing a key": _checkpoint_edit(_del("optimizer")),
    "checkpoint of another width": _other_width,
    "checkpoint steps past the end": _checkpoint_edit(_set("steps_done", 10_000)),
    "checkpoint bad RNG state": _checkpoint_edit(_set("generator", torch.zeros(3))),
    "checkpoint bad wall type": _checkpoint_edit(_set("wall", "yesterday")),
    # metrics.parquet
    "metrics deleted": _delete("metrics.parquet"),
    "metrics garbage": _write("metrics.parquet", GARBAGE),
    "metrics truncated": _truncate("metrics.parquet"),
    "metrics missing a column": _metrics_edit(lambda df: df.drop(columns=["lr"])),
    "metrics missing rows": _metrics_edit(lambda df: df.iloc[: len(df) // 2]),
    "metrics text column": _metrics_edit(lambda df: df.assign(loss_res=df["loss_res"].astype(str))),
    "metrics missing a term": _metrics_edit(lambda df: df.drop(columns=["loss_bc"])),
    "metrics is a directory": _dir_instead("metrics.parquet"),
    # snapshots
    "eval snapshot truncated": _snapshot_raw("eval", _truncate_path),
    "eval snapshot missing a key": _snapshot_edit("eval", lambda a: a.pop("prediction")),
    "eval snapshot wrong shape": _snapshot_edit("eval", lambda a: a.update(prediction=np.zeros((3, 3)))),
    "eval snapshot object array": _object_array,
    "grad snapshot truncated": _snapshot_raw("grad", _truncate_path),
    "grad snapshot missing a key": _snapshot_edit("grad", lambda a: a.pop("counts")),
    "grad snapshot inconsistent shapes": _snapshot_edit("grad", lambda a: a.update(counts=np.zeros((1, 1, 1)))),
    "hess snapshot garbage": _snapshot_raw("hess", lambda p: p.write_bytes(GARBAGE)),
    "snapshots is a file": _snapshots_file,
    # other files
    "reference garbage": _write("reference.npz", GARBAGE),
    "reference deleted": _delete("reference.npz"),
    "stale temp files": _stale_temp,
    "stale lock (dead PID)": _write(".lock", b"999999999"),
    "lock is a directory": _lock_dir,
}


def tree_digest(d: Path) -> dict[str, str]:
    """Every file under d (hidden ones too) and a hash of its content: what 'nothing written' compares."""
    out = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        if p.is_symlink() or p.is_dir():
            out[rel] = "dir" if p.is_dir() else "link"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_cli(argv: list[str]) -> tuple[int | None, str, str]:
    """``pinn ARGV`` in this process: (exit code or None if an exception escaped, stdout, stderr)."""
    try:
        from pinncli.main import main
    except ImportError:  # before the layout of issue 15 (to measure the matrix on an older tree)
        from pinncore.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - a traceback is what the matrix counts
            traceback.print_exc()
            code = None
    return code, out.getvalue(), err.getvalue()


def view(root: Path, name: str) -> tuple[int | None, str, str]:
    """What the dashboard does to open ``?open=NAME``: resolve under the root, open for viewing, read every
    snapshot. 0 on success, 2 with the one-line reason on ConfigError, None on anything else."""
    from pinncore import ConfigError
    from pinncore.run import Run

    try:
        try:
            from pinncore.catalog import resolve_run
            run = Run.view(resolve_run(root, name))
        except ImportError:  # an older tree: what the dashboard did then
            run = Run.open(root / name, lock=False)
        for kind in ("eval", "grad", "hess"):
            run.store.snapshots(kind, Run.visible_upto(run.trainer))
        return 0, "", ""
    except ConfigError as exc:
        return 2, "", f"Ignored URL parameter open={name}: {exc}\n"
    except BaseException:  # noqa: BLE001
        return None, "", traceback.format_exc()


def classify(code, err: str, changed: bool, writes_ok: bool) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 0 and (writes_ok or not changed):
        return "ok"
    if code == 2 and len(lines) == 1 and "Traceback" not in err and not changed:
        return "refused"
    return "bad"


def matrix(workdir: Path, kinds: list[str] | None = None, ops=("eval", "resume", "list", "view")) -> dict:
    """{kind: {op: (outcome, first line of stderr)}} for every corruption kind."""
    workdir = Path(workdir)
    base = make_base(workdir / "base")
    results: dict[str, dict[str, tuple[str, str]]] = {}
    for i, kind in enumerate(kinds or list(CORRUPTIONS)):
        results[kind] = {}
        for op in ops:
            root = workdir / f"c{i}-{op}"
            run = root / "run"
            shutil.copytree(base, run)
            CORRUPTIONS[kind](run)
            before = tree_digest(run)
            if op == "eval":
                code, _, err = run_cli(["eval", str(run)])
            elif op == "resume":
                code, _, err = run_cli(["resume", str(run)])
            elif op == "list":
                code, out, err = run_cli(["list", str(root)])
                if code == 0 and (run / "config.json").is_file() and str(run) not in out:
                    code, err = None, f"the run is not listed:\n{out}"
            else:
                code, _, err = view(root, "run")
            changed = tree_digest(run) != before
            outcome = classify(code, err, changed, writes_ok=(op == "resume"))
            line = next((x for x in err.splitlines() if x.strip()), "")
            if outcome == "bad" and code is None:
                line = err.strip().splitlines()[-1] if err.strip() else "exception"
            results[kind][op] = (outcome, line)
            shutil.rmtree(root, ignore_errors=True)
    return results


def counts(results: dict) -> dict[str, int]:
    c = {"ok": 0, "refused": 0, "bad": 0}
    for row in results.values():
        for outcome, _ in row.values():
            c[outcome] += 1
    return c


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="pinn-corrupt-"))
    work.mkdir(parents=True, exist_ok=True)
    res = matrix(work)
    for kind, row in res.items():
        print(f"{kind:45s} " + "  ".join(f"{op}={o}" for op, (o, _) in row.items()))
        for op, (o, line) in row.items():
            if o != "ok":
                print(f"    {op:6s} {o:8s} {line[:150]}")
    print(f"{len(res)} corruption kinds x {len(next(iter(res.values())))} operations: {counts(res)}; "
          f"payload executed: {PAYLOAD.exists()}")
    shutil.rmtree(work, ignore_errors=True)
