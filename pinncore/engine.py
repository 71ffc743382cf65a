"""Which engine a run trains on: the eager step from the first step, and the compiled step only where it pays.

Compiling a training step (``compile=True``, ``pinncore.fused``) costs time once: cold, inductor generates and
compiles C++ (half a minute to a minute for the paper's setups on a 2-core machine); warm, when its disk cache
already holds the graph, tracing and loading take a few seconds. It then saves a part of every step, and how
much depends on the CPU (2-3x on the Intel and AMD machines measured here). So a short run should never wait for
a compiler and a long one should compile. ``plan`` decides for one run from the steps it has left and this
machine's costs for its setup: measured ones where this machine has measured them (``Profile``, kept in the
cache directory, by CPU model, cores and torch version), else conservative estimates (``DEFAULTS``).

The rule: compile when the run would finish at least ``MARGIN`` sooner counting the compilation, i.e. when
    C + R * t_compiled < (1 - MARGIN) * R * t_eager
with R the steps left and C the compile cost (0 for a compiled step already in memory, the warm cost when this
setup was compiled into the current cache before, the cold cost otherwise), multiplied by the number of runs
that wait for it (a worker process compiling for one run slows the others it trains).
A config's ``compile`` is the permission: ``compile=False`` always trains eagerly.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import RunConfig

MARGIN = 0.2  # compile only when the run finishes at least 20 % sooner: the estimates are rough, eager is sure
DEFAULTS = {  # estimates for a setup this machine has not measured yet (seconds)
    "speedup": 2.0,     # t_eager / t_compiled: measured 1.9-2.6 on the default setups here, 2.5-3x on Intel
    "cold_s": 60.0,     # a cold compile of one setup: 35-46 s measured for Helmholtz M1/M4, 2 cores, AMD
    "warm_s": 8.0,      # tracing and loading a graph the cache holds: 4-6 s measured
}
PROFILE_VERSION = 1


def cache_dir() -> Path:
    """Where the project keeps what it computes once per machine: ``$PINNCORE_CACHE`` or ~/.cache/pinncore."""
    return Path(os.environ.get("PINNCORE_CACHE") or Path.home() / ".cache" / "pinncore")


def inductor_cache() -> Path:
    """torch.compile's on-disk cache (``TORCHINDUCTOR_CACHE_DIR``, else torch's default)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir as inductor_dir

    return Path(inductor_dir())


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key() -> str:
    """What the costs depend on besides the setup: the CPU, how many cores, the torch build, and this pinncore's
    code (a changed step is a new graph: the compile cache does not hold it, whatever was compiled before)."""
    return f"{cpu_model()} | {os.cpu_count()} cores | torch {torch.__version__} | pinncore {code_version()}"


_CODE: list[str] = []


def code_version() -> str:
    """A hash of pinncore's source files, computed once per process."""
    if not _CODE:
        digest = hashlib.sha1()
        for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
            digest.update(path.read_bytes())
        _CODE.append(digest.hexdigest()[:10])
    return _CODE[0]


def setup_key(config: RunConfig) -> str:
    """The setup a compiled graph belongs to (``trainer.build_key``: steps, seed, lr... do not count)."""
    from .keys import build_key

    return hashlib.sha1(build_key(dataclasses.replace(config, compile=True)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Costs:
    """Seconds per step eager and compiled, and to compile cold and warm; ``measured`` names the measured ones."""

    eager_s: float | None
    compiled_s: float | None
    cold_s: float
    warm_s: float
    warm: bool  # this setup was compiled into the current compile cache before: compiling costs ``warm_s``
    measured: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    engine: str            # "eager" or "compiled"
    reason: str            # a short line for a run card or a progress bar: which engine, and why
    detail: str = ""       # the numbers behind it
    compile_s: float = 0.  # the compile cost counted (0: none, or already in memory)


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def plan(config: RunConfig, remaining: int, costs: Costs, in_memory: bool = False, sharers: int = 1,
         eager_s: float | None = None, min_eager_s: float = 0.0) -> Choice:
    """The engine for ``remaining`` more steps of ``config``. ``in_memory``: a compiled step of this setup is
    ready in this process; ``sharers``: runs that wait while this process compiles; ``eager_s``: the run's own
    measured eager step time (better than the profile's); ``min_eager_s``: never compile for less eager work
    than this (a process that trains other runs too does not pause them for a short gain)."""
    from .optim import optimiser_of

    if not config.compile:
        return Choice("eager", "eager (engine setting)")
    if not optimiser_of(config).compiles:
        return Choice("eager", f"eager: the compiled step implements Adam, not {config.optimizer}")
    if remaining <= 0 and config.optimizer == "adam+lbfgs":
        return Choice("eager", "eager: L-BFGS trains on the eager step")
    if in_memory:
        return Choice("compiled", "compiled: ready in memory", "this setup's compiled step was kept from an "
                                                               "earlier run or the warm-up")
    te = eager_s or costs.eager_s
    if remaining <= 0 or te is None:
        return Choice("eager", "eager", "nothing measured yet" if remaining > 0 else "")
    tc = costs.compiled_s or te / DEFAULTS["speedup"]
    if tc >= te:
        return Choice("eager", "eager: the compiled step is slower here",
                      f"{tc * 1e3:.2f} against {te * 1e3:.2f} ms per step, measured")
    c = (costs.warm_s if costs.warm else costs.cold_s) * max(1, sharers)
    eager_total, compiled_total = remaining * te, c + remaining * tc
    which = "measured" if {"compiled_s", "cold_s" if not costs.warm else "warm_s"} <= set(costs.measured) \
        else "estimated"
    detail = (f"~{_fmt(eager_total)} eager against ~{_fmt(compiled_total)} compiled, with a "
              f"{'warm' if costs.warm else 'cold'} compile of ~{_fmt(c)} ({which} on this machine)")
    if compiled_total < (1 - MARGIN) * eager_total and eager_total >= min_eager_s:
        return Choice("compiled", f"compiling: {remaining:,} steps finish sooner compiled", detail, c)
    return Choice("eager", f"eager: {remaining:,} steps finish sooner than compiling would", detail)


class Profile:
    """This machine's measured costs per setup, in ``cache_dir()/engine-profile.json`` (written atomically; a
    damaged or foreign file is ignored and replaced). Every value is the median of the last few measurements."""

    KEEP = 5  # measurements kept per value

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "engine-profile.json"

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != PROFILE_VERSION:
            return {}
        machines = data.get("machines")
        return machines.get(machine_key(), {}) if isinstance(machines, dict) else {}

    def _entry(self, config: RunConfig) -> dict:
        entry = self._load().get(setup_key(config), {})
        return entry if isinstance(entry, dict) else {}

    def costs(self, config: RunConfig) -> Costs:
        entry, everything = self._entry(config), self._load()
        values, measured = {}, []
        for name in ("eager_s", "compiled_s", "cold_s", "warm_s"):
            v = _median(entry.get(name))
            if v is not None:
                measured.append(name)
            values[name] = v
        if values["cold_s"] is None:  # another setup's cold compile on this machine is a better guess than none
            others = [_median(e.get("cold_s")) for e in everything.values() if isinstance(e, dict)]
            others = [v for v in others if v is not None]
            values["cold_s"] = max(others) if others else DEFAULTS["cold_s"]
        if values["warm_s"] is None:
            values["warm_s"] = DEFAULTS["warm_s"]
        cache = str(inductor_cache())
        warm = cache in entry.get("compiled_into", []) and inductor_cache().is_dir()
        return Costs(values["eager_s"], values["compiled_s"], values["cold_s"], values["warm_s"], warm,
                     tuple(measured))

    def record(self, config: RunConfig, **seconds: float | None) -> None:
        """Add measurements (``eager_s``, ``compiled_s`` per step; ``cold_s`` or ``warm_s`` of a compile, which
        also marks the setup as compiled into the current cache). Never raises: a profile is advisory."""
        try:
            self._record(config, seconds)
        except (OSError, ValueError, TypeError):
            pass

    def _record(self, config: RunConfig, seconds: dict) -> None:
        try:
            data = json.loads(self.path.read_text())
            assert isinstance(data, dict) and data.get("version") == PROFILE_VERSION
            assert isinstance(data.get("machines"), dict)
        except (OSError, ValueError, AssertionError):
            data = {"version": PROFILE_VERSION, "machines": {}}
        machine = data["machines"].setdefault(machine_key(), {})
        entry = machine.setdefault(setup_key(config), {})
        entry["setup"] = f"{config.problem} {config.label()} {config.depth}x{config.width} {config.dtype}"
        for name, v in seconds.items():
            if v is not None and v > 0:
                entry[name] = (list(entry.get(name, [])) + [round(float(v), 6)])[-self.KEEP:]
        if seconds.get("cold_s") or seconds.get("warm_s"):
            entry["compiled_into"] = sorted(set(entry.get("compiled_into", [])) | {str(inductor_cache())})
        entry["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".engine-profile.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


def median_rate(chunks: list[tuple[int, float]]) -> float | None:
    """Seconds per step from (steps, seconds) chunks: the median of the chunks' own rates."""
    rates = [seconds / steps for steps, seconds in chunks if steps > 0]
    return statistics.median(rates) if rates else None


def _median(values) -> float | None:
    if not isinstance(values, list):
        return None
    values = [v for v in values if isinstance(v, (int, float)) and v > 0]
    return statistics.median(values) if values else None


@dataclass
class Twin:
    """A compiled trainer of a run's setup, compiled on throwaway steps and ready to take the run's state."""

    trainer: object        # a pinncore.Trainer with compile=True
    compile_s: float       # seconds its compilation took (tracing, compiling or loading, one step)
    cold: bool             # the compile cache did not hold the graph (inductor generated and compiled C++)
    compiled_s: float      # its measured seconds per ordinary step


def _cache_misses() -> int:
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["fxgraph_cache_miss"])


def compile_twin(config: RunConfig, profile: Profile | None = None, probe: int = 12) -> Twin | None:
    """A compiled trainer for ``config``'s setup, compiled and timed on throwaway steps (its own fresh state,
    no snapshots: the caller loads the run's state into it and ``rebind``s the config), with the costs recorded in
    ``profile``; None where compilation is unavailable or fails (the run stays eager)."""
    from .trainer import Trainer

    quiet = dataclasses.replace(config, compile=True, steps=probe + 2, grad_every=0, eval_every=0,
                                hessian_every=0, **({"optimizer": "adam"} if config.optimizer == "adam+lbfgs" else {}))
    try:
        trainer = Trainer(quiet)
        misses = _cache_misses()
        trainer.step(2)  # step 0 (a weighting update, for M2/M4) and step 1: the graph is compiled here
        if trainer.compile_seconds is None:
            return None  # fell back to eager (no compiler): said once by pinncore.fused
        cold = _cache_misses() > misses
        times = []
        for _ in range(probe):  # the median step: robust to a one-off (a page fault, another process)
            t0 = time.perf_counter()
            trainer.step(1)
            times.append(time.perf_counter() - t0)
        compiled_s = statistics.median(times)
    except Exception:  # noqa: BLE001 -- any failure means: train eagerly
        return None
    if trainer.status != "finished":
        return None  # diverged on the throwaway steps: nothing to learn from it
    trainer.probe_s = compiled_s  # carried with a kept trainer: what a run compares its eager step with
    twin = Twin(trainer, trainer.compile_seconds, cold, compiled_s)
    (profile or Profile()).record(config, compiled_s=compiled_s,
                                  **{"cold_s" if cold else "warm_s": twin.compile_s})
    return twin


def faster(twin: Twin, eager_s: float | None) -> bool:
    """Whether the twin's measured step beats the run's measured eager step (by 5 %, the timing noise)."""
    return eager_s is None or twin.compiled_s < 0.95 * eager_s


def to_eager(trainer):
    """The same run on the eager step: a trainer of its config with ``compile=False`` holding its exact state."""
    from .trainer import Trainer

    eager = Trainer(dataclasses.replace(trainer.config, compile=False))
    eager.load_state_dict(trainer.state_dict())
    eager.status = trainer.status
    return eager


def adopt(trainer, twin_trainer):
    """``twin_trainer`` (compiled, same setup) takes over ``trainer``'s run: its config and exact state."""
    twin_trainer.rebind(dataclasses.replace(trainer.config, compile=True))
    twin_trainer.load_state_dict(trainer.state_dict())
    twin_trainer.status = trainer.status
    return twin_trainer
