"""What each ``pinn`` subcommand does, over pinncore (one run) and pinnlab (sweeps, reproduction)."""
from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import threading
import time
from pathlib import Path

from pinncore import ConfigError, RunConfig
from pinncore.run import Run
from pinncore.catalog import list_runs

from .args import config_from_args
from .problem_file import with_problem_file_config


def train_command(a: argparse.Namespace) -> int:
    config = config_from_args(a)  # a run allowed to compile starts eager: the Autopilot decides (pinncore.engine)
    warn_once(config)
    return drive(Run.create(config, a.out or default_out(config), engine="eager" if config.compile else None),
                 fresh=True)


def resume_command(a: argparse.Namespace) -> int:
    # every file is checked and the lock taken before --steps is written or anything trained
    run = Run.open(a.dir, steps=a.steps, restart=a.restart, engine="eager")
    warn_once(run.trainer.config)
    return drive(run)


def warn_once(config: RunConfig) -> None:
    """The run's one-line warning (L-BFGS in float32) on stderr before it trains, instead of Python's warning with
    a line of pinncore's source when it comes to it."""
    import warnings

    from pinncore.optim import warning_of

    line = warning_of(config)
    if line:
        print(f"pinn: warning: {line}", file=sys.stderr)
        warnings.filterwarnings("ignore", message=re.escape(line))


def eval_command(a: argparse.Namespace) -> int:
    run = Run.open(a.dir, lock=False)  # reading only: fine while another process trains it
    snap = run.trainer.evaluate()
    print(json.dumps({"dir": str(run.path), **run.summary(), "rel_l2": snap.rel_l2, "rel_l2_step": snap.step}))
    return 0


def list_command(a: argparse.Namespace) -> int:
    """One line per run; a damaged run is listed as such, with the reason on the line below it."""
    rows = list_runs(a.root, missing_ok=False)
    print(f"{'run':60s} {'method':18s} {'status':20s} {'steps':>7s} {'rel L2':>9s} {'steps/s':>8s}")
    for path, s in rows:  # list_runs checked the types of every field it returns
        err = s.get("rel_l2")
        err = f"{err:.2e}" if isinstance(err, (int, float)) and math.isfinite(err) else "-"
        rate = s.get("steps_per_s")
        print(f"{str(path):60s} {s.get('label', '?'):18s} {s.get('status', '?'):20s} "
              f"{s.get('steps_done', 0):7d} {err:>9s} {rate if rate is not None else '-':>8}")
        if "damaged" in s:
            print(f"    {s['damaged']}")
    return 0


def default_out(c: RunConfig) -> Path:
    label = re.sub(r"[^A-Za-z0-9+.-]+", "-", c.label()).strip("-")
    return Path("runs") / f"{c.problem}-{label}-{c.depth}x{c.width}-s{c.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def drive(run: Run, fresh: bool = False) -> int:
    """Train to the end with a progress bar; returns the exit code. Releases the run's lock when done.
    ``fresh``: a run this command created; if its first step fails (out of memory, say) its directory is removed."""
    from tqdm import tqdm

    from pinncore.autopilot import Autopilot

    t = run.trainer
    bar = tqdm(total=t.config.steps, initial=t.steps_done, unit="step", mininterval=1.0, dynamic_ncols=True,
               file=sys.stderr, desc=t.config.label())
    interrupted: list[int] = []  # Ctrl-C takes effect between chunks, so the saved state is consistent
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1)) if main_thread else None
    # the engine: eager, and compiled once it pays (the decision and a compile are said on their own line)
    pilot = Autopilot(run, say=lambda line: bar.write(f"{t.config.label()}: {line}", file=sys.stderr))
    rate = _Rate(t.steps_done)
    try:
        while not run.trainer.done and not interrupted:
            t = run.trainer  # the compiled twin, once it has taken over
            before = t.steps_done
            pilot.advance(100)
            t = run.trainer
            bar.update(t.steps_done - before)
            m = run.metrics[-1] if run.metrics else None
            if m is not None:
                post = {"loss": f"{sum(m.lambdas[k] * v for k, v in m.losses.items()):.3e}"}
                post.update({f"λ_{k}": f"{v:.3g}" for k, v in m.lambdas.items() if k != "res"})
                post.update({k: f"{v:.4g}" for k, v in m.unknowns.items()})  # an inverse problem's coefficients
                post["steps/s"] = rate.update(t.steps_done)
                post["engine"] = pilot.engine
                bar.set_postfix(post, refresh=False)
        if interrupted:
            t.status = "paused"
            run.save()
            print(f"interrupted at step {t.steps_done}; continue with: pinn resume {run.path}", file=sys.stderr)
            return 130
    except Exception:
        if fresh and t.steps_done == 0:
            run.discard()  # nothing trained: leave nothing behind
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
        bar.close()
        run.close()
    print(json.dumps({"dir": str(run.path), **run.summary()}))
    if t.status.startswith("diverged"):
        print(f"pinn: run {t.status} (non-finite loss or gradient); last good state kept in {run.path}",
              file=sys.stderr)
        return 1
    if t.status.startswith("stalled"):
        print(f"pinn: run {t.status}; the run ends here", file=sys.stderr)
    return 0


class _Rate:
    """Steps/s over the last few seconds of this command (the speed now: eager, then compiled)."""

    def __init__(self, steps: int):
        self.marks = [(time.monotonic(), steps)]

    def update(self, steps: int) -> str:
        now = time.monotonic()
        self.marks = [m for m in self.marks if now - m[0] < 10.0] + [(now, steps)]
        (t0, s0), (t1, s1) = self.marks[0], self.marks[-1]
        return f"{(s1 - s0) / (t1 - t0):.0f}" if t1 > t0 and s1 > s0 else "-"


def sweep_command(a: argparse.Namespace, argv: list[str]) -> int:
    from pinnlab.sweep import default_out, expand, parse_grid, plan, run_sweep

    base = RunConfig(compile=True)  # sweeps run long: each run compiles where it pays (pinncore.engine)
    if a.config:
        try:
            base = RunConfig.from_json(Path(a.config).read_text())
        except OSError as exc:
            raise ConfigError("--config", f"cannot read '{a.config}' ({exc.strerror})") from None
    base = with_problem_file_config(a, base)
    if a.cpus is not None and a.cpus < 1:
        raise ConfigError("cpus", f"must be an integer >= 1, got {a.cpus}")
    grid = parse_grid(a.grid)
    configs = expand(grid, base)
    out = Path(a.out) if a.out else default_out(configs)
    if a.dry_run:
        for t in plan(configs, out):
            print(f"{t.action:7s} {t.path}")
        return 0
    df, code = run_sweep(configs, out, grid={k: list(v) for k, v in grid.items()}, address=a.address, cpus=a.cpus,
                         progress=not a.quiet, command=["pinn", *argv])
    cols = [c for c in ("run", "method", "depth", "width", "seed", "status", "rel_l2", "wall_s") if c in df.columns]
    cols += [c for c in df.columns if c.startswith("lambda_") and c != "lambda_res"]
    with __import__("pandas").option_context("display.width", 200, "display.max_colwidth", 60):
        print(df[cols].to_string(index=False))
    print(f"results: {out / 'results.csv'} and {out / 'results.parquet'}")
    return code


def reproduce_command(a: argparse.Namespace, argv: list[str]) -> int:
    from pinnlab.reproduce import parse_overrides, reproduce

    if a.cpus is not None and a.cpus < 1:
        raise ConfigError("cpus", f"must be an integer >= 1, got {a.cpus}")
    return reproduce(problems=a.problems, methods=a.methods, seeds=a.seeds, cavity_seeds=a.cavity_seeds,
                     steps=a.steps, variants=a.variants, overrides=parse_overrides(a.overrides), runs=a.runs,
                     out=a.out, notes=a.notes, address=a.address, cpus=a.cpus, report_only=a.report_only,
                     progress=not a.quiet, command=["pinn", *argv])
