"""``pinn`` command line: train, resume, eval, list, sweep, reproduce, bench.

Exit codes: 0 done, 1 the run diverged (sweep: a run failed), 2 bad input (one line naming the field; nothing
written), 130 interrupted (the run is saved and can be resumed; a sweep continues when run again).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import signal
import sys
import threading
import time
from pathlib import Path

from .config import METHODS, RunConfig
from .errors import ConfigError
from .run import Run
from .store import RunStore, list_runs


class Parser(argparse.ArgumentParser):
    label = "pinn"  # how the one-line error starts

    def error(self, message: str):  # one line, exit 2 (argparse prints the usage too)
        self.exit(2, f"{self.label}: error: {message}\n")


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value of {name.strip()!r} must be a number, got {value!r}") from None


# flag -> RunConfig field, for the options that map one to one
FIELDS = {"problem": str, "model": str, "weighting": str, "depth": int, "width": int, "activation": str,
          "annealing_variant": str, "beta": float, "update_every": int, "lr": float, "decay_rate": float,
          "decay_steps": int, "batch": int, "steps": int, "seed": int, "dtype": str, "device": str,
          "grad_every": int, "eval_every": int, "hessian_every": int, "hessian_k": int, "eval_points": int,
          "checkpoint_every": int, "derivatives": str, "compile": bool}


def field_docs() -> dict[str, str]:
    """The comment on each RunConfig field (``name: type = default  # comment``), for --help."""
    import inspect

    docs = {}
    for line in inspect.getsource(RunConfig).splitlines():
        m = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.+)$", line)
        if m:
            docs[m.group(1)] = m.group(2).strip()
    return docs


def build_parser() -> Parser:
    p = Parser(prog="pinn", description="Train physics-informed neural networks, step by step.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    t = sub.add_parser("train", help="train a new run")
    t.add_argument("--config", help="JSON file with RunConfig fields; flags given here override it")
    t.add_argument("--method", help=f"paper preset: {', '.join(f'{k} = {m}+{w}' for k, (m, w) in METHODS.items())}")
    docs = field_docs()
    for name, typ in FIELDS.items():
        text = f"{docs.get(name, '')} (default {getattr(RunConfig(), name)!r})".replace("%", "%%")
        if typ is bool:
            t.add_argument("--" + name.replace("_", "-"), dest=name, action=argparse.BooleanOptionalAction,
                           default=None, help=text)
        else:
            t.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None, help=text)
    t.add_argument("--param", action="append", type=_param, default=[], metavar="NAME=VALUE",
                   help="problem parameter, e.g. --param a2=4 (repeatable)")
    t.add_argument("--weight", action="append", type=_param, default=[], metavar="TERM=VALUE",
                   help="initial / fixed lambda of a loss term, e.g. --weight bc=10 (repeatable)")
    t.add_argument("--out", help="run directory (must not exist or be empty); default runs/<problem>-<method>-...")
    r = sub.add_parser("resume", help="continue a saved run")
    r.add_argument("dir")
    r.add_argument("--steps", type=int, help="new total number of steps (default: the run's own)")
    e = sub.add_parser("eval", help="evaluate a saved run's checkpoint and print its summary")
    e.add_argument("dir")
    for sp in (t, r, e):
        sp.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: small PINN batches gain nothing from more, and "
                             "several runs on few cores must not oversubscribe)")
    ls = sub.add_parser("list", help="list runs under a directory")
    ls.add_argument("root", nargs="?", default="runs")
    sw = sub.add_parser("sweep", help="train a grid of runs in parallel on Ray (resumable)",
                        description="Train every point of a grid of configurations, one Ray task per run (an "
                                    "embedded local Ray by default, or a cluster with --address). Run the same "
                                    "command again to continue a killed sweep: finished runs are reused, cut-short "
                                    "ones continue from their checkpoint.")
    sw.add_argument("--grid", nargs="+", action="extend", default=[], metavar="FIELD=V1,V2",
                    help="swept values: any RunConfig field (e.g. depth=3,5 seed=0..2 lr=1e-3), method=M1,M4, "
                         "param.NAME=... (problem parameter), weight.TERM=...; a single value fixes a field")
    sw.add_argument("--config", help="JSON file with the base RunConfig the grid varies")
    sw.add_argument("--out", help="sweep directory (default runs/sweeps/sweep-<hash of the runs>)")
    sw.add_argument("--dry-run", action="store_true", help="list the runs and what would be done, train nothing")
    rp = sub.add_parser("reproduce", help="re-run the paper's experiments and write REPORT.md with figures",
                        description="The paper's protocol as one resumable sweep (Helmholtz 3x50 a1=1 a2=4, "
                                    "Klein-Gordon 5x50, cavity 3x50 Re=100; both annealing variants for M2 and M4 "
                                    "on Helmholtz), then a report beside the paper's numbers.")
    from .reproduce import PROBLEMS as PAPER_PROBLEMS, VARIANTS

    rp.add_argument("--problems", nargs="+", default=list(PAPER_PROBLEMS), metavar="PROBLEM",
                    help=f"any of {', '.join(PAPER_PROBLEMS)} (default all)")
    rp.add_argument("--methods", nargs="+", default=list(METHODS), metavar="M", help="default M1 M2 M3 M4")
    rp.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per method (default 3)")
    rp.add_argument("--cavity-seeds", type=int, default=1, help="seeds for the cavity (default 1)")
    rp.add_argument("--steps", type=int, default=40_000, help="steps per run (default 40000, the paper's)")
    rp.add_argument("--variants", nargs="+", default=list(VARIANTS), metavar="VARIANT",
                    help="annealing variants for M2 / M4 on Helmholtz (default: released-code paper)")
    rp.add_argument("--set", nargs="+", action="extend", default=[], dest="overrides", metavar="FIELD=VALUE",
                    help="set a RunConfig field on every run (e.g. compile=true, or a tiny budget for a test)")
    rp.add_argument("--runs", default="runs/reproduce", help="sweep directory of the runs (default runs/reproduce)")
    rp.add_argument("--out", default="assets/reproduction", help="report directory (default assets/reproduction)")
    rp.add_argument("--notes", help="hand-written explanations the report includes (default OUT/NOTES.md)")
    rp.add_argument("--report-only", action="store_true", help="write the report from the runs there are; train nothing")
    for sp in (sw, rp):
        sp.add_argument("--address", help="an existing Ray cluster (e.g. auto, ray://head:10001); default: a "
                                          "local Ray on this machine's cores. The directory must be shared.")
        sp.add_argument("--cpus", type=int, help="local Ray: parallel runs (default: the number of cores)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("bench", help="benchmark the trainer (pinn bench --help)", add_help=False)
    return p


def config_from_args(a: argparse.Namespace) -> RunConfig:
    data: dict = {}
    if a.config:
        try:
            data = RunConfig.from_json(Path(a.config).read_text()).to_dict()
        except OSError as exc:
            raise ConfigError("--config", f"cannot read '{a.config}' ({exc.strerror})") from None
    if a.method:
        if a.method not in METHODS:
            raise ConfigError("method", f"unknown '{a.method}'; allowed: {', '.join(METHODS)}")
        data["model"], data["weighting"] = METHODS[a.method]
    data.update({k: getattr(a, k) for k in FIELDS if getattr(a, k) is not None})
    if a.param:
        data["params"] = {**data.get("params", {}), **dict(a.param)}
    if a.weight:
        data["weights"] = {**data.get("weights", {}), **dict(a.weight)}
    return RunConfig.from_dict(data)


def default_out(c: RunConfig) -> Path:
    label = re.sub(r"[^A-Za-z0-9+.-]+", "-", c.label()).strip("-")
    return Path("runs") / f"{c.problem}-{label}-{c.depth}x{c.width}-s{c.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def drive(run: Run) -> int:
    """Train to the end with a progress bar; returns the exit code. Releases the run's lock when done."""
    from tqdm import tqdm

    t = run.trainer
    bar = tqdm(total=t.config.steps, initial=t.steps_done, unit="step", mininterval=1.0, dynamic_ncols=True,
               file=sys.stderr, desc=t.config.label())
    interrupted: list[int] = []  # Ctrl-C takes effect between chunks, so the saved state is consistent
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1)) if main_thread else None
    try:
        while not t.done and not interrupted:
            before = t.steps_done
            run.advance(100)
            bar.update(t.steps_done - before)
            m = run.metrics[-1] if run.metrics else None
            if m is not None:
                post = {"loss": f"{sum(m.lambdas[k] * v for k, v in m.losses.items()):.3e}"}
                post.update({f"λ_{k}": f"{v:.3g}" for k, v in m.lambdas.items() if k != "res"})
                post["steps/s"] = f"{t.steps_done / t.wall:.0f}" if t.wall else "-"
                bar.set_postfix(post, refresh=False)
        if interrupted:
            t.status = "paused"
            run.save()
            print(f"interrupted at step {t.steps_done}; continue with: pinn resume {run.path}", file=sys.stderr)
            return 130
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
    return 0


def sweep_command(a: argparse.Namespace, argv: list[str]) -> int:
    from .sweep import default_out, expand, parse_grid, plan, run_sweep

    base = RunConfig()
    if a.config:
        try:
            base = RunConfig.from_json(Path(a.config).read_text())
        except OSError as exc:
            raise ConfigError("--config", f"cannot read '{a.config}' ({exc.strerror})") from None
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
    from .reproduce import parse_overrides, reproduce

    if a.cpus is not None and a.cpus < 1:
        raise ConfigError("cpus", f"must be an integer >= 1, got {a.cpus}")
    return reproduce(problems=a.problems, methods=a.methods, seeds=a.seeds, cavity_seeds=a.cavity_seeds,
                     steps=a.steps, variants=a.variants, overrides=parse_overrides(a.overrides), runs=a.runs,
                     out=a.out, notes=a.notes, address=a.address, cpus=a.cpus, report_only=a.report_only,
                     progress=not a.quiet, command=["pinn", *argv])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after `bench` is the benchmark's own
        from .bench import main as bench_main

        return bench_main(argv[1:])
    a = build_parser().parse_args(argv)
    try:
        if getattr(a, "threads", None) is not None:
            if a.threads < 1:
                raise ConfigError("threads", f"must be an integer >= 1, got {a.threads}")
            import torch

            torch.set_num_threads(a.threads)
        if a.command == "train":
            config = config_from_args(a)
            return drive(Run.create(config, a.out or default_out(config)))
        if a.command == "resume":
            store = RunStore(a.dir)
            if a.steps is not None:
                config = dataclasses.replace(store.config(), steps=a.steps).validated()
                store.write_json("config.json", config.to_dict())
            return drive(Run.open(a.dir))
        if a.command == "eval":
            run = Run.open(a.dir, lock=False)  # reading only: fine while another process trains it
            snap = run.trainer.evaluate()
            print(json.dumps({"dir": str(run.path), **run.summary(), "rel_l2": snap.rel_l2,
                              "rel_l2_step": snap.step}))
            return 0
        if a.command == "sweep":
            return sweep_command(a, argv)
        if a.command == "reproduce":
            return reproduce_command(a, argv)
        if a.command == "list":
            rows = list_runs(a.root)
            print(f"{'run':60s} {'method':18s} {'status':20s} {'steps':>7s} {'rel L2':>9s} {'steps/s':>8s}")
            for path, s in rows:
                err = s.get("rel_l2")
                err = f"{err:.2e}" if isinstance(err, float) and math.isfinite(err) else "-"
                print(f"{str(path):60s} {s.get('label', '?'):18s} {s.get('status', '?'):20s} "
                      f"{s.get('steps_done', 0):7d} {err:>9s} {s.get('steps_per_s') or '-':>8}")
            return 0
    except ConfigError as exc:
        print(f"pinn: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, ValueError, UnicodeDecodeError) as exc:  # unwritable --out, corrupt files,
        print(f"pinn: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)  # a stalled solver
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
