"""``--problem-file FILE`` for ``pinn train`` and ``pinn sweep``: a problem spec (TOML or JSON, see
the README, "Your own PDE") instead of a registered problem. The spec's text goes into the run's config (field
``spec``) and ``problem`` becomes the spec's name, so the run directory rebuilds the problem anywhere."""
from __future__ import annotations

import argparse
import dataclasses

from pinncore import RunConfig


def add_problem_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--problem-file", metavar="FILE",
                        help="your own PDE: a problem spec in TOML or JSON (examples/problems/*.toml); the run "
                             "stores it, so resume and eval need no file")


def _read(path: str) -> tuple[str, str]:
    from pinncore.problems.spec import load_spec_file, problem_class

    text = load_spec_file(path)
    return text, problem_class(text).name


def with_problem_file(a: argparse.Namespace, data: dict) -> dict:
    """``pinn train``'s config fields with the spec of ``--problem-file`` (``--problem``, if given, must name it)."""
    if getattr(a, "problem_file", None):
        data["spec"], name = _read(a.problem_file)
        if getattr(a, "problem", None) is None:
            data["problem"] = name
    return data


def with_problem_file_config(a: argparse.Namespace, config: RunConfig) -> RunConfig:
    """A sweep's base config with the spec of ``--problem-file``."""
    if not getattr(a, "problem_file", None):
        return config
    text, name = _read(a.problem_file)
    return dataclasses.replace(config, spec=text, problem=name).validated()
