"""``pinn`` command line: train, resume, eval, list, sweep, reproduce, bench.

Exit codes: 0 done, 1 the run diverged (sweep: a run failed), 2 bad input (one line naming the field; nothing
written), 130 interrupted (the run is saved and can be resumed; a sweep continues when run again).

A thin layer: ``args`` parses, ``commands`` calls pinncore (one run) and pinnlab (sweeps, reproduction, benchmark).
"""
from __future__ import annotations

import sys

from pinncore import ConfigError

from .args import build_parser
from . import commands
from .export import export_command

COMMANDS = {"train": commands.train_command, "resume": commands.resume_command, "eval": commands.eval_command,
            "list": commands.list_command, "export": export_command}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after `bench` is the benchmark's own
        from .bench import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["dashboard"]:  # its own options, then Streamlit's after --
        from .dashboard import main as dashboard_main

        return dashboard_main(argv[1:])
    a = build_parser().parse_args(argv)
    try:
        if getattr(a, "threads", None) is not None:
            if a.threads < 1:
                raise ConfigError("threads", f"must be an integer >= 1, got {a.threads}")
            import torch

            torch.set_num_threads(a.threads)
        if a.command == "sweep":
            return commands.sweep_command(a, argv)
        if a.command == "reproduce":
            return commands.reproduce_command(a, argv)
        return COMMANDS[a.command](a)
    except ConfigError as exc:
        print(f"pinn: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, ValueError, UnicodeDecodeError) as exc:  # unwritable --out, corrupt files,
        print(f"pinn: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)  # a stalled solver
        return 2


if __name__ == "__main__":
    sys.exit(main())
