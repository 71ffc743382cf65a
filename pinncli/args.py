"""The ``pinn`` argument parsers: one-line errors (exit 2), one flag per RunConfig field with the field's own
comment as its help, and the options of every subcommand; ``config_from_args`` turns ``pinn train``'s flags into
a RunConfig."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from pinncore import METHODS, ConfigError, RunConfig
from pinnlab.paper import PROBLEMS as PAPER_PROBLEMS, VARIANTS

from .export import add_export_parser
from .problem_file import add_problem_file_option, with_problem_file


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


def _fields() -> dict[str, type]:
    """flag -> type of every RunConfig field that maps one to one (``int | None`` fields take an int): all but the
    dictionaries (--param, --weight) and the spec text (--problem-file), so a new field gets its flag."""
    import dataclasses

    kinds = {"str": str, "int": int, "float": float, "bool": bool}
    return {f.name: kinds[f.type.split("|")[0].strip()] for f in dataclasses.fields(RunConfig)
            if f.name != "spec" and f.type.split("|")[0].strip() in kinds}


FIELDS = _fields()


def _registered() -> dict[str, tuple[str, ...]]:
    """The names each registry allows, for the flags that pick one (shown in --help; checked by RunConfig)."""
    from pinncore.optim import OPTIMIZERS
    from pinncore.weighting import SCHEDULES, WEIGHTINGS

    return {"weighting": tuple(WEIGHTINGS), "causal_schedule": SCHEDULES, "optimizer": tuple(OPTIMIZERS)}


def field_docs() -> dict[str, str]:
    """The comment on each RunConfig field (``name: type = default  # comment``, and the comment lines under it),
    for --help."""
    import inspect

    docs, last = {}, None
    for line in inspect.getsource(RunConfig).splitlines():
        m = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.+)$", line)
        more = re.match(r"\s+#\s*(.+)$", line)
        if m:
            last = m.group(1)
            docs[last] = m.group(2).strip()
        elif more and last:  # the comment goes on under the field
            docs[last] += " " + more.group(1).strip()
        else:
            last = None
    return docs


def build_parser() -> Parser:
    p = Parser(prog="pinn", description="Train physics-informed neural networks, step by step.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    _run_parsers(sub)
    sw = sub.add_parser("sweep", help="train a grid of runs in parallel on Ray (resumable)",
                        description="Train every point of a grid of configurations, one Ray task per run (an "
                                    "embedded local Ray by default, or a cluster with --address). Run the same "
                                    "command again to continue a killed sweep: finished runs are reused, cut-short "
                                    "ones continue from their checkpoint.")
    _sweep_options(sw)
    rp = sub.add_parser("reproduce", help="re-run the paper's experiments and write REPORT.md with figures",
                        description="The paper's protocol as one resumable sweep (Helmholtz 3x50 a1=1 a2=4, "
                                    "Klein-Gordon 5x50, cavity 3x50 Re=100; both annealing variants for M2 and M4 "
                                    "on Helmholtz), then a report beside the paper's numbers.")
    _reproduce_options(rp)
    for sp in (sw, rp):
        sp.add_argument("--address", help="an existing Ray cluster (e.g. auto, ray://head:10001); default: a "
                                          "local Ray on this machine's cores. The directory must be shared.")
        sp.add_argument("--cpus", type=int, help="local Ray: parallel runs (default: the number of cores)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")
    add_export_parser(sub)
    sub.add_parser("bench", help="benchmark the trainer (pinn bench --help)", add_help=False)
    sub.add_parser("dashboard", help="start the dashboard on 127.0.0.1 (pinn dashboard --help)", add_help=False)
    return p


def _run_parsers(sub) -> None:
    """train, resume, eval and list: one run at a time."""
    t = sub.add_parser("train", help="train a new run")
    t.add_argument("--config", help="JSON file with RunConfig fields; flags given here override it")
    add_problem_file_option(t)
    t.add_argument("--method", help=f"paper preset: {', '.join(f'{k} = {m}+{w}' for k, (m, w) in METHODS.items())}")
    docs, registered = field_docs(), _registered()
    for name, typ in FIELDS.items():
        default = True if name == "compile" else getattr(RunConfig(), name)  # pinn train: compile where it pays
        allowed = f"; one of {', '.join(registered[name])}" if name in registered else ""
        text = f"{docs.get(name, '')}{allowed} (default {default!r})".replace("%", "%%")
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
    r.add_argument("--restart", action="store_true",
                   help="train the run again from step 0 with its config.json, deleting its checkpoint, metrics "
                        "and snapshots (for a run whose checkpoint or history is missing or damaged)")
    e = sub.add_parser("eval", help="evaluate a saved run's checkpoint and print its summary")
    e.add_argument("dir")
    for sp in (t, r, e):
        sp.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: small PINN batches gain nothing from more, and "
                             "several runs on few cores must not oversubscribe)")
    ls = sub.add_parser("list", help="list runs under a directory")
    ls.add_argument("root", nargs="?", default="runs")


def _sweep_options(sw: Parser) -> None:
    sw.add_argument("--grid", nargs="+", action="extend", default=[], metavar="FIELD=V1,V2",
                    help="swept values: any RunConfig field (e.g. depth=3,5 seed=0..2 lr=1e-3), method=M1,M4, "
                         "param.NAME=... (problem parameter), weight.TERM=...; a single value fixes a field")
    sw.add_argument("--config", help="JSON file with the base RunConfig the grid varies")
    add_problem_file_option(sw)
    sw.add_argument("--out", help="sweep directory (default runs/sweeps/sweep-<hash of the runs>)")
    sw.add_argument("--dry-run", action="store_true", help="list the runs and what would be done, train nothing")


def _reproduce_options(rp: Parser) -> None:
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
    if not a.config:  # a run of the command line may compile where it pays (pinncore.engine); --no-compile: eager
        data["compile"] = True
    data.update({k: getattr(a, k) for k in FIELDS if getattr(a, k) is not None})
    if a.param:
        data["params"] = {**data.get("params", {}), **dict(a.param)}
    if a.weight:
        data["weights"] = {**data.get("weights", {}), **dict(a.weight)}
    return RunConfig.from_dict(with_problem_file(a, data))
