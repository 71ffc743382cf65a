"""``pinn reproduce``: the paper's experiments as one sweep, and a report that puts our numbers beside the paper's.

The protocol is the paper's (Adam, lr 1e-3 x 0.9^(step/1000), 128 fresh points per term and edge, float32,
40,000 steps): Helmholtz 3x50 (a1 = 1, a2 = 4), Klein-Gordon 5x50, lid-driven cavity 3x50 at Re = 100
(stream-function formulation). M2 and M4 on Helmholtz run with both annealing variants (``released-code``, the
default everywhere, and ``paper``). The report (``pinnlab.report``) is written from the run store alone, so it can be
regenerated at any time (``--report-only``) without retraining.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from pinncore import METHODS, ConfigError, RunConfig

from .paper import PROBLEMS, PROTOCOL, VARIANTS
from .sweep.grid import canonical, parse_grid

def paper_configs(problems: Iterable[str] = PROBLEMS, methods: Iterable[str] = tuple(METHODS), seeds: int = 3,
                  cavity_seeds: int = 1, steps: int = 40_000, variants: Iterable[str] = VARIANTS,
                  overrides: dict[str, Any] | None = None) -> list[RunConfig]:
    """The runs of the reproduction, in report order. ``overrides``: RunConfig fields set on every run (for
    tiny test budgets, or ``compile``); ``variants``: the annealing variants run for M2 and M4 on Helmholtz
    (everywhere else ``released-code``, the variant whose numbers the paper reports)."""
    problems, methods, variants = list(problems), list(methods), list(variants)
    for p in problems:
        if p not in PROTOCOL:
            raise ConfigError("problems", f"unknown '{p}'; allowed: {', '.join(PROTOCOL)}")
    for m in methods:
        if m not in METHODS:
            raise ConfigError("methods", f"unknown '{m}'; allowed: {', '.join(METHODS)}")
    for v in variants:
        if v not in VARIANTS:
            raise ConfigError("variants", f"unknown '{v}'; allowed: {', '.join(VARIANTS)}")
    for name, n in (("seeds", seeds), ("cavity_seeds", cavity_seeds)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(name, f"must be an integer >= 1, got {n!r}")
    overrides = dict(overrides or {})
    for key in ("problem", "model", "weighting", "seed", "annealing_variant"):
        if key in overrides:
            raise ConfigError(key, "is set by the reproduction itself; use pinn sweep to vary it")
    configs = []
    for problem in problems:
        n = cavity_seeds if problem == "cavity" else seeds
        for method in methods:
            model, weighting = METHODS[method]
            runs_variants = ["released-code"]
            if problem == "helmholtz" and weighting == "annealing":
                runs_variants = [v for v in VARIANTS if v in variants] or ["released-code"]
            for variant in runs_variants:
                for seed in range(n):
                    data = {**RunConfig().to_dict(), **PROTOCOL[problem], "problem": problem, "model": model,
                            "weighting": weighting, "annealing_variant": variant, "seed": seed, "steps": steps,
                            "compile": True}  # long runs: compiled where it pays (--set compile=false: eager)
                    data.update(overrides)
                    if "params" in overrides:
                        data["params"] = {**PROTOCOL[problem]["params"], **overrides["params"]}
                    configs.append(canonical(RunConfig.from_dict(data)))
    return configs


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``--set width=8 batch=16`` -> {"width": 8, "batch": 16}: one value per field, typed like the grid."""
    out: dict[str, Any] = {}
    for key, values in parse_grid(items).items():
        if len(values) != 1:
            raise ConfigError(key, f"--set takes one value, got {len(values)}")
        if key == "method":
            raise ConfigError("method", "is set by the reproduction itself (--methods)")
        if "." in key:
            head, name = key.split(".", 1)
            out.setdefault(head, {})[name] = values[0]
        else:
            out[key] = values[0]
    return out


def reproduce(problems: Iterable[str] = PROBLEMS, methods: Iterable[str] = tuple(METHODS), seeds: int = 3,
              cavity_seeds: int = 1, steps: int = 40_000, variants: Iterable[str] = VARIANTS,
              overrides: dict[str, Any] | None = None, runs: str | Path = "runs/reproduce",
              out: str | Path = "assets/reproduction", notes: str | Path | None = None, address: str | None = None,
              cpus: int | None = None, report_only: bool = False, progress: bool = True,
              command: list[str] | None = None) -> int:
    """Train (or reuse) the reproduction's runs in the sweep directory ``runs`` and write ``out/REPORT.md`` and
    its figures. Returns the exit code of the sweep (0 when every run ended)."""
    from .report import write_report
    from .sweep import plan, run_sweep

    configs = paper_configs(problems, methods, seeds, cavity_seeds, steps, variants, overrides)
    runs, out = Path(runs), Path(out)
    if report_only:
        plan(configs, runs)  # the same checks: a run of another configuration is refused
        code = 0
    else:
        grid = {"problems": list(problems), "methods": list(methods), "seeds": seeds, "cavity_seeds": cavity_seeds,
                "steps": steps, "variants": list(variants), "overrides": overrides or {}}
        _, code = run_sweep(configs, runs, grid=grid, kind="reproduce", address=address, cpus=cpus,
                            progress=progress, command=command)
        if code == 130:
            return code
    # a rewritten report still names the command that trained the runs (kept in sweep.json)
    write_report(configs, runs, out, notes=Path(notes) if notes else out / "NOTES.md",
                 command=None if report_only else command)
    print(f"report: {out / 'REPORT.md'}")
    return code
