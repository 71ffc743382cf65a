"""The guided experiments of the Lessons page, without Streamlit: their run setups, a worker that trains them,
and the numbers each lesson shows.

1. The imbalance: 1D Poisson u = sin(Cx) for several C; the residual-to-boundary gradient ratio (paper eq. 40,
   unweighted) at initialisation and over the second half of training, its log-log slope against C.
2. Stiffness: Helmholtz a2 = 1 against a2 = 4; sigma_max of the Hessian per term over training.
3. The cure: M1, M2 and M4 on the stiff Helmholtz problem; errors, lambda and gradient histograms.

An ``Experiment`` trains its runs round-robin, a chunk of steps each in turn, in one worker thread (one torch
thread: the machine has two cores and the page needs one), so that every run's curves grow together.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from pinncore import (ConfigError, EvalSnapshot, GradSnapshot, HessianSnapshot, RunConfig, StepRecord, Trainer,
                      gradient_imbalance)
from pinncore.records import AlignmentRecord, CausalRecord, KernelSpectrum, KernelTraces

ALIVE_GRACE = 30.0  # seconds the page may be gone (a reconnect) before its experiment stops
RECORD_KINDS = (StepRecord, EvalSnapshot, GradSnapshot, HessianSnapshot, KernelTraces, KernelSpectrum,
                AlignmentRecord, CausalRecord)


@dataclass(frozen=True)
class LessonRun:
    """A consistent copy of one run's records, shaped like ``handles.RunView`` so ``figures`` can draw it."""

    name: str
    label: str
    config: RunConfig
    status: str
    steps_done: int
    steps: list[StepRecord] = field(repr=False)
    evals: list[EvalSnapshot] = field(repr=False)
    grads: list[GradSnapshot] = field(repr=False)
    hess: list[HessianSnapshot] = field(repr=False)
    reference: Any = field(repr=False)
    steps_per_s: float | None = None
    path: None = None
    kernels: list[KernelTraces] = field(default_factory=list, repr=False)
    spectra: list[KernelSpectrum] = field(default_factory=list, repr=False)
    aligns: list[AlignmentRecord] = field(default_factory=list, repr=False)
    causal: list[CausalRecord] = field(default_factory=list, repr=False)


class Experiment:
    """Named runs trained round-robin in ``chunk``-step turns by one worker thread. ``finish(name, trainer)`` runs
    once per run after all have finished (e.g. a Hessian spectrum); its results land in ``extras``."""

    def __init__(self, configs: dict[str, RunConfig], chunk: int = 50,
                 finish: Callable[[str, Trainer], Any] | None = None, alive: Callable[[], bool] | None = None):
        self.trainers = {name: Trainer(cfg) for name, cfg in configs.items()}  # ConfigError before any thread
        self.chunk, self.finish, self.alive = chunk, finish, alive
        self.extras: dict[str, Any] = {}
        self._records = {name: {kind: [] for kind in RECORD_KINDS} for name in configs}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = "ready"
        self.started: float | None = None
        self.elapsed = 0.0

    def start(self) -> "Experiment":
        self.status, self.started = "running", time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="lesson", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def active(self) -> bool:
        return self.status == "running"

    @property
    def progress(self) -> float:
        done = sum(t.steps_done for t in self.trainers.values())
        return done / max(1, sum(t.config.steps for t in self.trainers.values()))

    def runs(self) -> list[LessonRun]:
        with self._lock:
            copies = {n: {k: list(v) for k, v in recs.items()} for n, recs in self._records.items()}
        out = []
        for name, t in self.trainers.items():
            r = copies[name]
            out.append(LessonRun(name, t.config.label(), t.config, t.status, len(r[StepRecord]), r[StepRecord],
                                 r[EvalSnapshot], r[GradSnapshot], r[HessianSnapshot], t.reference_field,
                                 kernels=r[KernelTraces], spectra=r[KernelSpectrum], aligns=r[AlignmentRecord],
                                 causal=r[CausalRecord]))
        return out

    def _loop(self) -> None:
        gone_since = None
        try:
            while not self._stop.is_set():
                pending = [(n, t) for n, t in self.trainers.items() if not t.done]
                if not pending:
                    break
                for name, trainer in pending:
                    records = trainer.step(self.chunk)
                    with self._lock:
                        for r in records:
                            self._records[name].setdefault(type(r), []).append(r)
                    if self._stop.is_set():
                        break
                if self.alive is None or self.alive():
                    gone_since = None
                elif time.monotonic() - (gone_since := gone_since or time.monotonic()) > ALIVE_GRACE:
                    break
            if not all(t.done for t in self.trainers.values()):
                self.status = "stopped"
                return
            if self.finish is not None:
                for name, trainer in self.trainers.items():
                    self.extras[name] = self.finish(name, trainer)
            self.status = "finished"
        except Exception as exc:  # a bug: say it on the page, keep the records
            self.status = f"error: {type(exc).__name__}: {exc}"
        finally:
            self.elapsed = time.perf_counter() - (self.started or time.perf_counter())


# -- input ---------------------------------------------------------------------------------------------------
def parse_values(text: str, name: str, lo: float, hi: float, most: int = 8) -> list[float]:
    """'1, 2, 4, 8' -> [1.0, 2.0, 4.0, 8.0] (sorted, distinct); ConfigError naming the field otherwise."""
    try:
        values = sorted({float(x) for x in text.replace(";", ",").split(",") if x.strip()})
    except ValueError:
        raise ConfigError(name, f"{text!r} is not a comma-separated list of numbers") from None
    if len(values) < 2 or len(values) > most:
        raise ConfigError(name, f"give between 2 and {most} distinct values, got {len(values)}")
    bad = [v for v in values if not (math.isfinite(v) and lo <= v <= hi)]
    if bad:
        raise ConfigError(name, f"{bad[0]:g} is outside [{lo:g}, {hi:g}]")
    return values


# -- lesson 1: the imbalance ---------------------------------------------------------------------------------
def imbalance_configs(cs: list[float], steps: int, seeds: int, method: str, depth: int,
                      width: int) -> dict[str, RunConfig]:
    """One 1D Poisson run per (C, seed), a gradient snapshot every steps / 20 (and at the last step)."""
    every = max(1, steps // 20)
    return {f"C={c:g} seed {s}": RunConfig.from_method(
        method, problem="poisson1d", params={"C": c}, depth=depth, width=width, steps=steps, seed=s,
        grad_every=every, eval_every=steps, hessian_every=0) for c in cs for s in range(seeds)}


@dataclass(frozen=True)
class Scaling:
    """The unweighted gradient ratio max|grad L_r| / mean|grad L_bc| against C: geometric means over seeds
    (and, after training, over the snapshots of the second half of training), with the range over seeds."""

    cs: np.ndarray
    init: np.ndarray       # NaN where a C has no snapshot yet
    init_range: np.ndarray  # (2, n): min and max over the seeds
    after: np.ndarray
    after_range: np.ndarray
    slope_init: float | None
    slope_after: float | None


def fit_slope(cs, ratios) -> float | None:
    """Least-squares slope of log ratio against log C over the finite points (None with fewer than two)."""
    cs, ratios = np.asarray(cs, float), np.asarray(ratios, float)
    ok = np.isfinite(ratios) & (ratios > 0)
    if ok.sum() < 2:
        return None
    return float(np.polyfit(np.log(cs[ok]), np.log(ratios[ok]), 1)[0])


def _geo(values) -> float:
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], float)
    return float(np.exp(np.log(v).mean())) if v.size else math.nan


def imbalance_scaling(runs: list[LessonRun]) -> Scaling:
    by_c: dict[float, list[LessonRun]] = {}
    for r in runs:
        by_c.setdefault(float(r.config.params["C"]), []).append(r)
    cs = np.array(sorted(by_c))
    init, after, init_rng, after_rng = [], [], [], []
    for c in cs:
        firsts = [gradient_imbalance(r.grads[0]).overall["bc"] for r in by_c[c] if r.grads and r.grads[0].step == 0]
        per_seed = [_geo([gradient_imbalance(g).overall["bc"] for g in r.grads if g.step >= r.config.steps // 2])
                    for r in by_c[c] if any(g.step >= r.config.steps // 2 for g in r.grads)]
        init.append(_geo(firsts))
        after.append(_geo(per_seed))
        init_rng.append((min(firsts, default=math.nan), max(firsts, default=math.nan)))
        after_rng.append((min(per_seed, default=math.nan), max(per_seed, default=math.nan)))
    init, after = np.array(init), np.array(after)
    return Scaling(cs, init, np.array(init_rng).T, after, np.array(after_rng).T, fit_slope(cs, init),
                   fit_slope(cs, after))


# -- lesson 2: stiffness ---------------------------------------------------------------------------------------
def stiffness_configs(a2s: tuple[float, float], steps: int, every: int, depth: int, width: int) -> dict[str, RunConfig]:
    names = ("mild", "stiff")
    return {f"a2 = {a:g} ({n})": RunConfig(problem="helmholtz", params={"a2": a}, depth=depth, width=width,
                                           steps=steps, hessian_every=every, eval_every=max(every, steps // 8),
                                           grad_every=0) for a, n in zip(a2s, names)}


SPECTRUM_TOP_K = 20  # eigenvalues shown for networks too large for the full Hessian


def spectra(name: str, trainer: Trainer) -> dict:
    """The end-of-training spectrum per term (paper Fig. 4): all eigenvalues for a network of at most
    MAX_FULL_HESSIAN parameters, else the SPECTRUM_TOP_K of largest magnitude from Lanczos."""
    from pinncore.diagnostics import MAX_FULL_HESSIAN

    if sum(p.numel() for p in trainer.params) <= MAX_FULL_HESSIAN:
        return {"full": True, "values": trainer.hessian_spectra()}
    snap = trainer.stiffness(k=SPECTRUM_TOP_K, iters=3 * SPECTRUM_TOP_K + 40)
    return {"full": False, "values": {**{t: np.array(v) for t, v in snap.top.items()},
                                      "total": np.array(snap.top_total)}}


def sigma_ratio(mild: LessonRun, stiff: LessonRun, term: str = "res") -> tuple[list[int], list[float]]:
    """sigma_max(stiff) / sigma_max(mild) of one term at the steps both runs have a snapshot of."""
    m = {h.step: abs(h.eigenvalues[term]) for h in mild.hess}
    pairs = [(h.step, abs(h.eigenvalues[term]) / m[h.step]) for h in stiff.hess if m.get(h.step)]
    return [s for s, _ in pairs], [r for _, r in pairs]


# -- lesson 3: the cure ----------------------------------------------------------------------------------------
def cure_configs(a2: float, steps: int, methods: tuple[str, ...] = ("M1", "M2", "M4")) -> dict[str, RunConfig]:
    every = max(1, steps // 12)
    return {m: RunConfig.from_method(m, problem="helmholtz", params={"a2": a2}, steps=steps, eval_every=every,
                                     grad_every=every, hessian_every=0) for m in methods}


def balance(snap: GradSnapshot) -> dict[str, float]:
    """mean |grad L_r| / mean |grad (lambda_t L_t)| over the layers, per term: about 1 when balanced."""
    return {t: float(snap.mean_abs[0].mean() / snap.mean_abs[i].mean()) for i, t in enumerate(snap.terms) if i}


# -- lesson 4: spectral bias -----------------------------------------------------------------------------------
MULTISCALE = "poisson1d-multiscale"  # examples/problems/poisson1d-multiscale.toml: u = sin(A pi x) + 0.1 sin(B pi x)


def spectral_configs(b: float, sigma: float, steps: int, depth: int, width: int) -> dict[str, RunConfig]:
    """A plain MLP and the same MLP with random Fourier features of scale ``sigma`` on the two-scale Poisson
    problem with a fast wave sin(B pi x); 15 evaluation snapshots on 256 points (up to 128 periods show)."""
    from dashboard.custom_pde import examples

    common = dict(problem=MULTISCALE, spec=examples()[MULTISCALE], params={"B": b}, depth=depth, width=width,
                  steps=steps, eval_every=max(1, steps // 15), grad_every=0, hessian_every=0, eval_points=256)
    return {"MLP": RunConfig(**common).validated(),
            f"MLP + Fourier σ={sigma:g}": RunConfig(embedding="fourier", fourier_sigma=sigma, **common).validated()}


def spectral_rows(runs: list[LessonRun]) -> list[dict]:
    """Per run: its latest error, and at each frequency of the solution the error there relative to its
    amplitude, now and at the first snapshot past a tenth of the run."""
    from dashboard import spectral

    rows = []
    for r in runs:
        s = spectral.spectra(r)
        if s is None:
            continue
        early = int(np.searchsorted(s.steps, r.config.steps // 10))
        row = {"run": r.name, "step": int(s.steps[-1]), "rel. L2 error": r.evals[-1].rel_l2}
        for k in s.peaks():
            ref = max(s.reference[k], 1e-30)
            row[f"error at {s.freq[k]:g} (step {s.steps[min(early, len(s.steps) - 1)]:,})"] = \
                s.error[min(early, len(s.steps) - 1), k] / ref
            row[f"error at {s.freq[k]:g} (now)"] = s.error[-1, k] / ref
        rows.append(row)
    return rows
