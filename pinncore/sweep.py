"""Sweeps: a grid of runs trained in parallel on Ray, into one directory of the run store.

    sweep_dir/
      sweep.json          what was asked (grid, runs in grid order), where and when it ran, per-run errors
      results.csv         one row per run: config columns, status, final relative L2 error, lambdas, wall time
      results.parquet     the same table
      runs/<name>/        one ordinary run directory per grid point (``pinn resume`` / the dashboard open it)

A run's directory name is derived from its configuration alone (problem, method, depth x width, seed and a hash
of every other field that is not at its default), so running the same sweep again finds its runs: a finished run
is reused as it is, a run cut short (killed sweep, Ctrl-C) continues from its last checkpoint, and a run asked
for with more steps than it has is extended (the learning-rate schedule does not depend on the total, so the
trajectory is the one a longer run would have followed). ``steps`` is therefore left out of the name.

Ray executes one task per run that needs training: an embedded local Ray by default (one task per core), or an
existing cluster given by address. On a cluster, the sweep directory must be on a filesystem every node sees, and
every node needs this package installed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .config import METHODS, RunConfig
from .errors import ConfigError
from .store import RunStore, atomic_write

SWEEP_FILE = "sweep.json"
RUNS = "runs"
FINAL = ("finished",)  # plus any "diverged at step k"

# columns that lead the results table, in this order (others follow)
LEAD = ["run", "problem", "method", "model", "weighting", "annealing_variant", "depth", "width", "seed", "steps",
        "status", "steps_done", "rel_l2"]


def is_final(status: str | None) -> bool:
    return bool(status) and (status == "finished" or status.startswith("diverged"))


# -- the grid --------------------------------------------------------------------------------------------------
def _field_types() -> dict[str, str]:
    return {f.name: f.type for f in dataclasses.fields(RunConfig)}


def _value(field: str, kind: str, text: str) -> Any:
    """One grid value of a RunConfig field, converted by the field's declared type."""
    text = text.strip()
    if kind.endswith("| None") and text.lower() in ("none", "null", "default"):
        return None
    base = kind.split("|")[0].strip()
    try:
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base == "bool":
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
    except ValueError:
        raise ConfigError(field, f"must be {'an integer' if base == 'int' else 'a number' if base == 'float' else 'true or false'}, "
                                 f"got {text!r}") from None
    if base == "str":
        if not text:
            raise ConfigError(field, "empty value")
        return text
    raise ConfigError(field, f"cannot be swept from the command line (type {kind}); "
                             f"use {'param.NAME' if field == 'params' else 'weight.TERM'}=...")


def _values(field: str, kind: str, text: str) -> list[Any]:
    out: list[Any] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*", part)
        if m and kind.split("|")[0].strip() == "int":  # seed=0..4
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo or hi - lo > 10_000:
                raise ConfigError(field, f"bad range {part.strip()!r}")
            out.extend(range(lo, hi + 1))
        else:
            out.append(_value(field, kind, part))
    return list(dict.fromkeys(out))  # drop repeats, keep order


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["method=M1,M2", "seed=0..2", "param.a2=1,4"]`` -> {"method": ["M1", "M2"], "seed": [0, 1, 2], ...}.

    Keys: any RunConfig field (``_`` or ``-``), ``method`` (M1..M4, sets model and weighting),
    ``param.NAME`` (a problem parameter) and ``weight.TERM`` (an initial / fixed lambda). Integer fields accept
    ranges ``a..b``. Raises ConfigError naming the field."""
    kinds = _field_types()
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError("grid", f"expected FIELD=V1,V2,..., got {item!r}")
        if key in grid:
            raise ConfigError(key, "given twice in the grid")
        head, dot, name = key.partition(".")
        if dot and head in ("param", "params", "weight", "weights") and name:
            key = f"{'params' if head.startswith('param') else 'weights'}.{name}"
            grid[key] = _values(name, "float", text)
        elif key == "method":
            vals = _values("method", "str", text)
            for v in vals:
                if v not in METHODS:
                    raise ConfigError("method", f"unknown '{v}'; allowed: {', '.join(METHODS)}")
            grid[key] = vals
        elif key in kinds:
            grid[key] = _values(key, kinds[key], text)
        else:
            raise ConfigError(key, "unknown config field; allowed: method, param.NAME, weight.TERM, "
                                   + ", ".join(k for k in kinds if k not in ("params", "weights")))
    if "method" in grid and ({"model", "weighting"} & set(grid)):
        raise ConfigError("method", "give either method or model / weighting, not both")
    return grid


def canonical(config: RunConfig) -> RunConfig:
    """The same run, spelled one way: every problem parameter explicit, and the annealing variant at its default
    where no annealing happens (it changes nothing there), so that equivalent grid points share one run."""
    from .problems import make_problem

    params = make_problem(config.problem, **config.params).values
    variant = config.annealing_variant if config.weighting == "annealing" else RunConfig().annealing_variant
    return dataclasses.replace(config, params=dict(params), annealing_variant=variant).validated()


def expand(grid: dict[str, list[Any]], base: RunConfig | None = None) -> list[RunConfig]:
    """The cartesian product of the grid over ``base``, in grid order, validated and without duplicates."""
    base_dict = (base or RunConfig()).to_dict()
    keys = list(grid)
    configs: dict[str, RunConfig] = {}
    for combo in itertools.product(*(grid[k] for k in keys)):
        data = json.loads(json.dumps(base_dict))
        for key, v in zip(keys, combo):
            if key == "method":
                data["model"], data["weighting"] = METHODS[v]
            elif "." in key:
                head, name = key.split(".", 1)
                data[head] = {**data[head], name: v}
            else:
                data[key] = v
        cfg = canonical(RunConfig.from_dict(data))
        configs.setdefault(run_name(cfg), cfg)
    return list(configs.values())


# -- naming ---------------------------------------------------------------------------------------------------
def identity(config: RunConfig) -> dict[str, Any]:
    """What makes two runs the same run: every field but ``steps``, which a run can be extended in."""
    d = canonical(config).to_dict()
    d.pop("steps")
    return d


def run_name(config: RunConfig) -> str:
    """Deterministic directory name: readable head, then a hash of the fields that differ from the defaults (so
    adding a config field with a default keeps existing names)."""
    c = canonical(config)
    defaults = RunConfig(problem=c.problem).to_dict()
    defaults["params"] = canonical(RunConfig(problem=c.problem)).params
    rest = {k: v for k, v in identity(c).items() if defaults.get(k) != v}
    digest = hashlib.sha1(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    label = re.sub(r"[^A-Za-z0-9+.-]+", "-", c.label()).strip("-")
    return f"{c.problem}-{label}-{c.depth}x{c.width}-s{c.seed}-{digest}"


def default_out(configs: list[RunConfig], root: str | os.PathLike = "runs") -> Path:
    """runs/sweeps/sweep-<hash of the set of runs>: the same command finds the same directory."""
    names = sorted(run_name(c) for c in configs)
    return Path(root) / "sweeps" / f"sweep-{hashlib.sha1(' '.join(names).encode()).hexdigest()[:8]}"


# -- planning (all checks before anything is written) ----------------------------------------------------------
@dataclass
class Task:
    config: RunConfig
    path: Path
    action: str           # "reuse", "resume", "extend" or "new"
    steps_done: int = 0


def plan(configs: list[RunConfig], out: str | os.PathLike) -> list[Task]:
    """What to do for each run. Raises ConfigError (naming the field) when a run directory of this sweep holds a
    different configuration, or more steps than asked: the sweep then writes nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", f"'{out}' exists and is not a directory")
    tasks = []
    for cfg in configs:
        path = out / RUNS / run_name(cfg)
        if not (path / "config.json").is_file():
            tasks.append(Task(cfg, path, "new"))
            continue
        store = RunStore(path)
        try:
            stored = store.config()
        except ConfigError as exc:
            raise ConfigError("out", f"run '{path}' cannot be reused ({exc}); move it away") from None
        have, want = identity(stored), identity(cfg)
        for key in want:
            if have.get(key) != want[key]:
                raise ConfigError(key, f"run '{path}' was made with {key}={have.get(key)!r}, this sweep asks "
                                       f"for {want[key]!r}; use another --out")
        if stored.steps > cfg.steps:
            raise ConfigError("steps", f"run '{path}' is set to {stored.steps} steps, more than the {cfg.steps} "
                                       f"asked; use another --out")
        summary = store.summary()
        done = int(summary.get("steps_done") or 0)
        if stored.steps < cfg.steps and not str(summary.get("status", "")).startswith("diverged"):
            tasks.append(Task(cfg, path, "extend", done))
        elif is_final(summary.get("status")):
            tasks.append(Task(cfg, path, "reuse", done))
        else:
            tasks.append(Task(cfg, path, "resume", done))
    return tasks


# -- the Ray task ---------------------------------------------------------------------------------------------
def host_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def train_task(config: dict, path: str, env: dict[str, str] | None = None, chunk: int = 100) -> dict:
    """Train one run of a sweep to its end (create, continue or extend it) and return its summary.

    Runs in a Ray worker: one torch thread (the workers share the cores). Cancelled through Ray (Ctrl-C on the
    sweep), it saves a consistent checkpoint before it stops, so the next sweep continues the same trajectory."""
    import signal
    import threading

    import torch

    from .run import Run

    os.environ.update(env or {})
    torch.set_num_threads(1)
    # Ray cancels a running task by simulating SIGINT in it. Take it as a request to stop between two chunks,
    # like Ctrl-C on `pinn train` (an exception in the middle of a step would save a torn state). Installing a
    # handler also matters where SIGINT is ignored (workers of a driver started in the background inherit
    # that), since the simulated signal would then do nothing.
    stop: list[int] = []
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.append(1)) if main_thread else None
    try:
        cfg = RunConfig.from_dict(config)
        p = Path(path)
        if (p / "config.json").is_file():
            store = RunStore(p)
            stored = store.config()
            if stored.steps < cfg.steps:  # extend, as ``pinn resume --steps``
                store.write_json("config.json", dataclasses.replace(stored, steps=cfg.steps).to_dict())
            run = Run.open(p)
        else:
            if p.exists():  # a create killed before its config.json: nothing in it to keep
                shutil.rmtree(p)
            run = Run.create(cfg, p)
        try:
            while not run.trainer.done and not stop:
                run.advance(chunk)
            if not run.trainer.done:
                run.trainer.status = "paused"
                run.save()
        finally:
            run.close()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    if stop and not run.trainer.done:
        raise KeyboardInterrupt  # cancelled: Ray reports the task as such
    return {"dir": str(p), **run.summary(), "host": host_info()}


# -- the results table ----------------------------------------------------------------------------------------
def read_sweep(sweep_dir: str | os.PathLike) -> dict:
    f = Path(sweep_dir) / SWEEP_FILE
    try:
        data = json.loads(f.read_text())
    except FileNotFoundError:
        raise ConfigError("sweep", f"'{sweep_dir}' has no {SWEEP_FILE}: not a sweep directory") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(SWEEP_FILE, f"malformed JSON in '{f}' ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ConfigError(SWEEP_FILE, f"'{f}' has no list of runs")
    return data


def write_sweep(sweep_dir: Path, data: dict) -> None:
    atomic_write(sweep_dir / SWEEP_FILE, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def results_frame(sweep_dir: str | os.PathLike, meta: dict | None = None) -> pd.DataFrame:
    """One row per run of the sweep, in grid order: config columns, status, error, lambdas, wall time."""
    sweep_dir = Path(sweep_dir)
    meta = meta if meta is not None else read_sweep(sweep_dir)
    errors = meta.get("errors", {})
    rows = []
    for rel in meta["runs"]:
        store = RunStore(sweep_dir / rel)
        if not (store.path / "config.json").is_file():
            rows.append({"run": rel, "status": errors.get(rel, "not started")})
            continue
        try:
            cfg = store.config()
        except ConfigError as exc:
            rows.append({"run": rel, "status": f"unreadable: {exc}"})
            continue
        s = store.summary()
        d = cfg.to_dict()
        row: dict[str, Any] = {"run": rel, "method": cfg.label()}
        row.update({k: v for k, v in d.items() if k not in ("params", "weights")})
        row.update({f"param.{k}": v for k, v in d["params"].items()})
        row.update({f"weight.{k}": v for k, v in d["weights"].items()})
        row["status"] = errors.get(rel) or s.get("status", "not started")
        row["steps_done"] = s.get("steps_done", 0)
        row["rel_l2"] = s.get("rel_l2")
        row.update({f"lambda_{k}": v for k, v in (s.get("lambdas") or {}).items()})
        row["wall_s"] = s.get("wall_s")
        row["steps_per_s"] = s.get("steps_per_s")
        rows.append(row)
    df = pd.DataFrame(rows)
    first = [c for c in LEAD if c in df.columns]
    results = [c for c in df.columns if c.startswith(("param.", "lambda_")) or c in ("wall_s", "steps_per_s")]
    rest = [c for c in df.columns if c not in first and c not in results]
    df = df[first + [c for c in results if c.startswith("param.")] + [c for c in results if not c.startswith("param.")] + rest]
    if "rel_l2" in df.columns:
        df["rel_l2"] = pd.to_numeric(df["rel_l2"], errors="coerce")
    return df


def write_results(sweep_dir: Path, meta: dict) -> pd.DataFrame:
    import io

    df = results_frame(sweep_dir, meta)
    atomic_write(sweep_dir / "results.csv", df.to_csv(index=False).encode())
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write(sweep_dir / "results.parquet", buf.getvalue())
    return df


def list_sweeps(root: str | os.PathLike) -> list[tuple[Path, dict]]:
    """Sweep directories under ``root`` (recursively), newest first, with their sweep.json."""
    root = Path(root)
    out = []
    for f in root.rglob(SWEEP_FILE) if root.exists() else ():
        try:
            out.append((f.parent, read_sweep(f.parent)))
        except ConfigError:
            continue
    return sorted(out, key=lambda s: (s[0] / SWEEP_FILE).stat().st_mtime, reverse=True)


# -- running ---------------------------------------------------------------------------------------------------
class RayContext:
    """ray.init on entry unless Ray is already up in this process (then it is left as it is on exit)."""

    def __init__(self, address: str | None = None, cpus: int | None = None):
        self.address, self.cpus, self.owner = address, cpus, False

    def __enter__(self):
        import logging

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls, no prompt
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.cpus or os.cpu_count() or 1, object_store_memory=200 * 1024**2, **kwargs)
            self.owner = True
        return ray

    def __exit__(self, *exc):
        if self.owner:
            import ray

            ray.shutdown()


def run_sweep(configs: list[RunConfig], out: str | os.PathLike, *, grid: dict | None = None, kind: str = "sweep",
              address: str | None = None, cpus: int | None = None, progress: bool = True,
              command: list[str] | None = None, log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, int]:
    """Train every run of ``configs`` that is not finished yet into ``out`` and write the results table.

    Returns (results, exit code): 0 every run ended (finished or diverged), 1 some run failed with an error,
    130 interrupted (Ctrl-C / SIGTERM; every run saved; run the same sweep again to continue). Raises
    ConfigError before writing anything when the sweep cannot be planned."""
    out = Path(out)
    tasks = plan(configs, out)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        meta = read_sweep(out)
    except ConfigError:
        meta = {}
    now = time.strftime("%Y-%m-%d %H:%M:%S %z")
    meta.update({"kind": kind, "grid": grid if grid is not None else meta.get("grid"),
                 "runs": [t.path.relative_to(out).as_posix() for t in tasks],
                 "created": meta.get("created", now), "updated": now, "complete": False,
                 "command": command if command is not None else meta.get("command"), "driver": host_info(),
                 "address": address or "local", "errors": {}, "hosts": meta.get("hosts", {}),
                 "elapsed_s": meta.get("elapsed_s", 0.0)})
    out.mkdir(parents=True, exist_ok=True)
    write_sweep(out, meta)
    todo = [t for t in tasks if t.action != "reuse"]
    counts = {a: sum(t.action == a for t in tasks) for a in ("new", "resume", "extend", "reuse")}
    log(f"sweep: {len(tasks)} runs in {out} ({', '.join(f'{n} {a}' for a, n in counts.items() if n)})")
    t0, code = time.time(), 0
    if todo:
        code = _execute(todo, out, meta, address, cpus, progress, log)
    meta["elapsed_s"] = round(meta["elapsed_s"] + time.time() - t0, 1)
    df = results_frame(out, meta)
    meta["complete"] = bool(len(df)) and all(is_final(s) for s in df["status"])
    meta["updated"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    write_sweep(out, meta)
    df = write_results(out, meta)
    return df, code


def _execute(todo: list[Task], out: Path, meta: dict, address, cpus, progress: bool, log) -> int:
    env = {k: v for k, v in os.environ.items() if k in ("PINNCORE_CACHE",)}
    with RayContext(address, cpus) as ray:
        meta["parallel"] = int(ray.cluster_resources().get("CPU", 0))  # runs at a time (one CPU each)
        return _execute_on_ray(ray, todo, out, meta, progress, log, env)


def _interrupt(*_):
    raise KeyboardInterrupt


def _execute_on_ray(ray, todo: list[Task], out: Path, meta: dict, progress: bool, log, env) -> int:
    """Submit one task per run, follow them, write the table as each ends. SIGTERM (installed after ray.init,
    which sets its own) and Ctrl-C cancel the tasks, which save their runs."""
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return _follow(ray, todo, out, meta, progress, log, env)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def cost(task: Task) -> float:
    """A rough guess of a run's remaining time (measured ratios on one core: the cavity's third derivatives
    ~8x Helmholtz, Klein-Gordon's depth 5 ~2x, the modified MLP ~2x), to start the longest runs first so that
    no core idles at the end of a sweep behind one long run."""
    c = task.config
    per_step = ({"cavity": 8.0, "klein-gordon": 2.0}.get(c.problem, 1.0) * (2.0 if "modified" in c.model else 1.0)
                * c.depth / 3 * c.width / 50 * c.batch / 128)
    return per_step * max(c.steps - task.steps_done, 0)


def _follow(ray, todo: list[Task], out: Path, meta: dict, progress: bool, log, env) -> int:
    from tqdm import tqdm

    remote = ray.remote(num_cpus=1, max_retries=1)(train_task)
    refs = {remote.remote(t.config.to_dict(), str(t.path.resolve()), env): t
            for t in sorted(todo, key=cost, reverse=True)}  # longest first; Ray starts them in this order
    ended: set[Path] = set()
    bar = tqdm(total=sum(t.config.steps for t in todo), initial=sum(t.steps_done for t in todo), unit="step",
               desc="sweep", mininterval=1.0, dynamic_ncols=True, file=sys.stderr, disable=not progress)
    say = bar.write if progress else log

    def steps_now() -> int:  # from the summaries the runs write at every checkpoint
        return sum(t.config.steps if t.path in ended else int(RunStore(t.path).summary().get("steps_done") or 0)
                   for t in todo)

    pending, failed = list(refs), 0
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in ready:
                t = refs[ref]
                ended.add(t.path)
                rel = t.path.relative_to(out).as_posix()
                try:
                    res = ray.get(ref)
                    meta["hosts"][rel] = res.pop("host", None)
                    err = res.get("rel_l2")
                    say(f"{rel}: {res['status']}, rel. L2 {err:.3e}, {res['wall_s']:.0f} s"
                        if isinstance(err, float) else f"{rel}: {res['status']}")
                except Exception as exc:  # noqa: BLE001 -- a failed run is a row of the table, not the end
                    failed += 1
                    text = str(exc).strip()
                    reason = text.splitlines()[-1] if text else type(exc).__name__
                    meta["errors"][rel] = f"error: {reason}"[:300]
                    say(f"{rel}: failed ({reason})")
                write_sweep(out, meta)
                write_results(out, meta)
            bar.n = steps_now()
            bar.set_postfix_str(f"{len(refs) - len(pending)}/{len(refs)} runs"
                                + (f", {failed} failed" if failed else ""), refresh=False)
            bar.refresh()
    except KeyboardInterrupt:
        bar.close()
        log(f"sweep: interrupted; saving the {len(pending)} unfinished runs (run the same command to continue)")
        for ref in pending:
            ray.cancel(ref)  # a KeyboardInterrupt in the task: it saves its checkpoint and stops
        ray.wait(pending, num_returns=len(pending), timeout=60)
        return 130
    bar.close()
    return 1 if failed else 0
