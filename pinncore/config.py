"""The whole setup of a run in one typed, JSON-serialisable dataclass. Defaults are the paper's protocol."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

# method presets: the paper's M1..M4 are a (model, weighting) pair; any other pair is allowed too
METHODS: dict[str, tuple[str, str]] = {
    "M1": ("mlp", "fixed"),
    "M2": ("mlp", "annealing"),
    "M3": ("modified-mlp", "fixed"),
    "M4": ("modified-mlp", "annealing"),
}
DTYPES = ("float32", "float64")
# upper bounds shared by every front end (CLI, dashboard, sweeps): beyond them a run is an accident, not an
# experiment (depth 1000 trains at ~3 s/step; eval_points 1000 on the cavity allocates 4.7 GB and takes a minute)
LIMITS: dict[str, int] = {"depth": 32, "width": 1024, "batch": 65_536, "eval_points": 500, "hist_bins": 1000,
                          "hessian_k": 64, "fourier_features": 1024, "ntk_points": 4096, "ntk_eig_points": 512,
                          "causal_chunks": 4096, "lbfgs_batch": 65_536, "lbfgs_history": 1000, "soap_every": 100_000}


@dataclass
class RunConfig:
    problem: str = "helmholtz"            # helmholtz, klein-gordon, cavity or poisson1d (pinncore.PROBLEMS)
    params: dict[str, float] = field(default_factory=dict)  # problem parameters; missing ones take defaults
    spec: str = ""                        # a problem spec (TOML or JSON text) named `problem`; "" if registered
    model: str = "mlp"                    # "mlp", "modified-mlp" (paper eq. 43-47) or "modified-mlp-released"
    depth: int = 3                        # hidden layers (paper: 3 for Helmholtz and the cavity, 5 for KG)
    width: int = 50                       # units per hidden layer (paper: 50)
    activation: str = "tanh"              # tanh (paper), sin or gelu
    embedding: str = "none"               # input embedding after the standardisation: none (paper), fourier, periodic or
                                          # periodic+fourier (pinncore.models.EMBEDDINGS); a problem's periodic inputs
                                          # (Problem.periodic) are embedded exactly whether or not it says periodic
    fourier_sigma: float = 1.0            # fourier: B ~ N(0, sigma^2) in cos(B z), sin(B z), z standardised, no 2 pi (Wang, Wang &
                                          # Perdikaris 2021 eq. 3.10, who use 1 and 10; the expert's guide 2023: 1 to 10)
    fourier_features: int | None = None   # fourier: m, the rows of B (2m inputs to the first layer); None: width // 2, so
                                          # the first layer is square, as in the paper's [100, 100, 1] Poisson network
    fourier_trained: bool = False         # fourier: B trained (as jaxpi's FourierEmbs) or fixed (the paper)
    rwf: bool = False                     # random weight factorisation W = diag(exp(s)) V of every dense layer (Wang,
                                          # Wang, Seidman & Perdikaris 2022), s and V trained, the initial W Xavier's
    rwf_mu: float = 1.0                   # rwf: mean of s ~ N(mu, sigma^2) per output unit (expert's guide, Wang, Sankaran,
                                          # Wang & Perdikaris 2023, Algorithm 2: mu = 1; jaxpi's main configs: 0.5)
    rwf_sigma: float = 0.1                # rwf: standard deviation of s (expert's guide, Algorithm 2: 0.1)
    weighting: str = "fixed"              # how the loss terms are weighted (pinncore.weighting.WEIGHTINGS)
    annealing_variant: str = "released-code"  # released-code (the paper's numbers), paper (lambda runs away), cavity-code
    beta: float = 0.9                     # moving-average factor for adaptive weights (paper: 0.9)
    update_every: int | None = None       # steps between weight updates; None: 10 annealing, 1000 grad-norm, 100 ntk
    weights: dict[str, float] = field(default_factory=dict)  # initial / fixed lambda per term (default 1)
    optimizer: str = "adam"               # adam (paper), adam+lbfgs (Rathore et al. 2024) or soap (Wang et al. 2025)
                                          # (pinncore.optim.OPTIMIZERS); only adam's step compiles (adam+lbfgs: its
                                          # Adam phase)
    lbfgs_after: int = 1000               # adam+lbfgs: Adam steps before the switch to L-BFGS (Rathore et al.: 1k,
                                          # 11k or 31k of 41k)
    lbfgs_batch: int = 1024               # adam+lbfgs: points per term and edge of the fixed batch L-BFGS trains on,
                                          # drawn at the switch (Rathore et al.: 10,000 residual points)
    lbfgs_history: int = 100              # adam+lbfgs: L-BFGS memory (Rathore et al. and DeepXDE: 100)
    soap_every: int = 2                   # soap: steps between refreshes of the preconditioner's eigenbasis (the
                                          # gradient-alignment paper's code: 2; the SOAP paper: 10)
    lr: float = 1e-3                      # learning rate at step 0 (Adam's, SOAP's; L-BFGS's is 1, line-searched)
    decay_rate: float = 0.9               # lr = lr * decay_rate ** (step / decay_steps), continuous
    decay_steps: int = 1000               # steps per decay_rate factor (paper: 0.9 every 1000 steps)
    batch: int = 128                      # fresh uniform points per step, per term and per boundary edge
    steps: int = 40_000                   # paper: 40,000 (its code runs 40,001 iterations)
    seed: int = 0                         # network init and sampling
    dtype: str = "float32"                # float32 (paper) or float64
    device: str = "cpu"                   # "cpu", "cuda", "cuda:1", ...
    derivatives: str = "jet"              # jet (forward-mode, fast) or autograd (nested autograd, reference)
    compile: bool = False                 # a Trainer: each step one compiled graph (pinncore.fused), 2-3x faster after a
                                          # compile of 5-60 s; a run (pinn train, sweeps, the dashboard): the compiled
                                          # step is allowed and used where it pays (pinncore.engine decides per run)
    grad_every: int = 500                 # gradient snapshot cadence (0: never)
    eval_every: int = 500                 # evaluation snapshot cadence (0: never; the last step always)
    hessian_every: int = 0                # stiffness snapshot cadence: sigma_max of the Hessian (0: never)
    hessian_k: int = 1                    # top-k Hessian eigenvalues per stiffness snapshot (Lanczos)
    eval_points: int = 100                # evaluation grid: points per input (100 x 100 in 2D)
    hist_bins: int = 60                   # histogram bins of log10 |grad| in gradient snapshots
    checkpoint_every: int = 1000          # run store: checkpoint + metrics flush cadence
    # since 2021 (docs/science/ntk-causal-alignment.md): NTK weights and kernel traces, causal weights
    ntk_points: int = 300                 # points per term for Tr K_ii at NTK updates (paper: 300; <= the least batch)
    ntk_beta: float = 0.0                 # moving average of NTK weights (paper: 0, the weights replaced; jaxpi: 0.9)
    ntk_eig_points: int = 64              # points per term for kernel traces and spectra at gradient snapshots
    causal: bool = False                  # causal weights of the residual along t (needs a time input; Wang 2024)
                                          # (the algorithm is patented by UPenn for commercial use)
    causal_chunks: int = 32               # N_t time chunks of the residual's batch (paper and jaxpi: 32)
    causal_eps: float = 1.0               # eps in w_i = exp(-eps sum_{k<i} L_k) (jaxpi: 1; the paper's Allen-Cahn: 100)
    causal_schedule: str = "fixed"        # fixed, or paper: eps x 10 whenever min w > 0.99, up to 100
    causal_every: int = 100               # steps between causal records (chunk losses, weights) and schedule checks

    @classmethod
    def from_method(cls, method: str, **kwargs: Any) -> "RunConfig":
        if method not in METHODS:
            raise ConfigError("method", f"unknown '{method}'; allowed: {', '.join(METHODS)}")
        model, weighting = METHODS[method]
        return cls(model=model, weighting=weighting, **kwargs).validated()

    @property
    def method(self) -> str | None:
        """M1..M4 when (model, weighting) is one of the paper's presets (with Adam, without causal weights), else
        None."""
        if self.causal or self.optimizer != "adam":
            return None
        for name, pair in METHODS.items():
            if pair == (self.model, self.weighting):
                return name
        return None

    def label(self) -> str:
        """M1..M4 or model+weighting, then the embedding and weight factorisation where not the paper's, then
        causal weights, then the optimiser where not Adam: 'M1', 'M1+fourier', 'M4+periodic+fourier+rwf',
        'M2 (paper)', 'mlp+ntk + causal', 'M1 · adam+lbfgs'."""
        if self.optimizer != "adam":
            return f"{dataclasses.replace(self, optimizer='adam').label()} · {self.optimizer}"
        plain = dataclasses.replace(self, causal=False)
        name = "+".join([plain.method or f"{self.model}+{self.weighting}",
                         *([self.embedding] if self.embedding != "none" else []), *(["rwf"] if self.rwf else [])])
        if self.weighting == "annealing" and self.annealing_variant != "released-code":
            name += f" ({self.annealing_variant})"
        return name + " + causal" if self.causal else name

    def make_problem(self):
        """The problem: built from ``spec`` when there is one (its name must be ``problem``), else registered."""
        from .problems import make_problem

        if not self.spec:
            return make_problem(self.problem, **self.params)
        from .problems.spec import problem_class

        cls = problem_class(self.spec)
        if cls.name != self.problem:
            raise ConfigError("problem", f"must be the spec's name '{cls.name}', got '{self.problem}'")
        return cls(**self.params)

    # -- validation and (de)serialisation -----------------------------------------------------------------
    def validated(self) -> "RunConfig":
        """Check every field; raise ConfigError naming the first bad one. Returns self for chaining."""
        from .derivatives import METHODS as DERIVATIVES
        from .models import ACTIVATIONS, MODELS
        from .optim import OPTIMIZERS
        from .weighting import SCHEDULES, Annealing, WEIGHTINGS

        def positive_int(name: str, minimum: int = 1) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise ConfigError(name, f"must be an integer >= {minimum}, got {v!r}")
            if name in LIMITS and v > LIMITS[name]:
                raise ConfigError(name, f"must be an integer <= {LIMITS[name]}, got {v!r}")

        def finite(name: str, lo: float, hi: float, lo_open: bool = True) -> None:
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or (v <= lo if lo_open else v < lo) or v > hi:
                interval = f"({lo:g}, {hi:g}]" if lo_open else f"[{lo:g}, {hi:g}]"
                raise ConfigError(name, f"must be a finite number in {interval}, got {v!r}")

        for f in dataclasses.fields(self):  # JSON can put anything anywhere: check types before values
            v, kind = getattr(self, f.name), f.type
            if kind.startswith("dict"):
                ok = isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, (int, float))
                                                 and not isinstance(x, bool) for k, x in v.items())
                if not ok:
                    raise ConfigError(f.name, f"must be an object of name: number pairs, got {v!r}")
            elif kind == "str" and not isinstance(v, str):
                raise ConfigError(f.name, f"must be a string, got {v!r}")
            elif kind == "bool" and not isinstance(v, bool):
                raise ConfigError(f.name, f"must be true or false, got {v!r}")
        problem = self.make_problem()
        for name, allowed in (("model", MODELS), ("weighting", WEIGHTINGS), ("activation", ACTIVATIONS),
                              ("annealing_variant", Annealing.variants), ("dtype", DTYPES),
                              ("derivatives", DERIVATIVES), ("causal_schedule", SCHEDULES),
                              ("optimizer", OPTIMIZERS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(name, f"unknown '{getattr(self, name)}'; allowed: {', '.join(allowed)}")
        for name in ("depth", "width", "batch", "decay_steps", "eval_points", "hist_bins", "hessian_k", "ntk_points",
                     "causal_chunks", "causal_every", "lbfgs_batch", "lbfgs_history", "soap_every"):
            positive_int(name)
        positive_int("ntk_eig_points", 0)
        for name in ("steps", "seed", "grad_every", "eval_every", "hessian_every", "checkpoint_every", "lbfgs_after"):
            positive_int(name, 0)
        if self.seed >= 2**31:
            raise ConfigError("seed", f"must be below 2**31, got {self.seed}")
        if self.update_every is not None:
            positive_int("update_every")
        self._validate_network(problem, finite, positive_int)
        finite("lr", 0.0, 10.0)
        finite("decay_rate", 0.0, 1.0)
        finite("beta", 0.0, 0.999999, lo_open=False)
        self._validate_since(problem, finite)
        if not isinstance(self.device, str) or not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError("device", f"must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        for k, v in self.weights.items():
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError("weights", f"lambda for '{k}' must be a finite number > 0, got {v!r}")
        return self

    def _validate_since(self, problem, finite) -> None:
        """The NTK and causal fields' values (``validated``'s checker passed in; their integers are checked there)."""
        from .weighting import Causal

        finite("ntk_beta", 0.0, 0.999999, lo_open=False)
        finite("causal_eps", 0.0, 1e4)
        from .optim import OPTIMIZERS

        OPTIMIZERS[self.optimizer].check(self, problem)
        if self.causal:  # a time input, a residual term, chunks that divide its batch: ConfigError naming the field
            Causal(problem, problem.terms(), self.batch, self.causal_chunks, self.causal_eps, self.causal_schedule)

    def _validate_network(self, problem, finite, positive_int) -> None:
        """The embedding and weight factorisation fields (``validated``'s checkers passed in)."""
        from .models import parse_embedding, periodic_columns

        names = parse_embedding(self.embedding)
        periodic_columns(problem)
        if "periodic" in names and not getattr(problem, "periodic", None):
            raise ConfigError("embedding", f"'periodic' needs a problem that declares periodic inputs; "
                                           f"{self.problem} declares none")
        finite("fourier_sigma", 0.0, 1000.0)
        if self.fourier_features is not None:
            positive_int("fourier_features")
        finite("rwf_mu", -10.0, 10.0, lo_open=False)
        finite("rwf_sigma", 0.0, 10.0, lo_open=False)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> "RunConfig":
        if not isinstance(data, dict):
            raise ConfigError("config", f"must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in names:
                raise ConfigError(key, f"unknown config field; allowed: {', '.join(sorted(names))}")
        return cls(**data).validated()

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("config", f"malformed JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)
