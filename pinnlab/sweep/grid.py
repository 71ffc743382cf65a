"""The grid of a sweep and the names of its runs: ``FIELD=V1,V2`` parsing, the cartesian product of run
configurations (each spelled one canonical way), and the deterministic run and sweep directory names derived from
a configuration alone (so that running the same sweep again finds its runs). ``pinnlab.sweep`` re-exports these.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

from pinncore import METHODS, ConfigError, RunConfig

MAX_RUNS = 10_000  # runs in one sweep: beyond it, a grid is a typo (seed=0..10000 depth=1..10000 is 1e8 runs)


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


# fields that change nothing unless a switch is on: (the fields, the condition under which they count)
INERT = ((("annealing_variant",), lambda c: c.weighting == "annealing"),
         (("ntk_beta",), lambda c: c.weighting == "ntk"),
         (("causal_chunks", "causal_eps", "causal_schedule", "causal_every"), lambda c: c.causal),
         (("fourier_sigma", "fourier_features", "fourier_trained"), lambda c: "fourier" in c.embedding.split("+")),
         (("rwf_mu", "rwf_sigma"), lambda c: c.rwf),
         (("lbfgs_after", "lbfgs_batch", "lbfgs_history"), lambda c: c.optimizer == "adam+lbfgs"),
         (("soap_every",), lambda c: c.optimizer == "soap"))


def canonical(config: RunConfig) -> RunConfig:
    """The same run, spelled one way: every problem parameter explicit, and the settings that change nothing for
    this run at their defaults (``INERT``: the annealing variant without annealing, the NTK average without NTK
    weights, the causal settings without causal weights, the Fourier options without Fourier features, mu and sigma
    without weight factorisation), so that equivalent grid points share one run."""
    params = config.make_problem().values  # a registered problem, or the config's spec
    default = RunConfig()
    inert = {f: getattr(default, f) for fields, counts in INERT if not counts(config) for f in fields}
    return dataclasses.replace(config, params=dict(params), **inert).validated()


def expand(grid: dict[str, list[Any]], base: RunConfig | None = None) -> list[RunConfig]:
    """The cartesian product of the grid over ``base``, in grid order, validated and without duplicates."""
    base_dict = (base or RunConfig()).to_dict()
    keys = list(grid)
    n = math.prod(len(grid[k]) for k in keys)
    if n > MAX_RUNS:
        sizes = " x ".join(f"{len(grid[k])} {k}" for k in keys if len(grid[k]) > 1)
        raise ConfigError("grid", f"{n:,} runs ({sizes}) is more than the {MAX_RUNS:,} a sweep may have")
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
    """What makes two runs the same run: every field but ``steps``, which a run can be extended in, and
    ``compile``, which says how fast it trains, not what (eager and compiled steps agree to round-off)."""
    d = canonical(config).to_dict()
    d.pop("steps")
    d.pop("compile")
    return d


def run_name(config: RunConfig) -> str:
    """Deterministic directory name: readable head, then a hash of the fields that differ from the defaults (so
    adding a config field with a default keeps existing names)."""
    c = canonical(config)
    defaults = RunConfig(problem=c.problem).to_dict()
    defaults["params"] = canonical(RunConfig(problem=c.problem, spec=c.spec)).params  # the spec stays hashed
    rest = {k: v for k, v in identity(c).items() if defaults.get(k) != v}
    digest = hashlib.sha1(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    label = re.sub(r"[^A-Za-z0-9+.-]+", "-", c.label()).strip("-")
    return f"{c.problem}-{label}-{c.depth}x{c.width}-s{c.seed}-{digest}"


def default_out(configs: list[RunConfig], root: str | os.PathLike = "runs") -> Path:
    """runs/sweeps/sweep-<hash of the set of runs>: the same command finds the same directory."""
    names = sorted(run_name(c) for c in configs)
    return Path(root) / "sweeps" / f"sweep-{hashlib.sha1(' '.join(names).encode()).hexdigest()[:8]}"
