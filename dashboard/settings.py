"""The dashboard's settings: one schema for the sidebar widgets, the URL query string and RunConfig.

Like TensorFlow Playground's URL hash, the whole setup lives in the query string (``?problem=helmholtz&p_a2=4
&depth=3...``), so a copied link reproduces it. ``parse_query`` never raises: a parameter it cannot use is
ignored, with a one-line message naming it, and the default stands. No Streamlit here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from pinncore import PROBLEMS, ConfigError, RunConfig
from pinncore.config import DTYPES
from pinncore.models import ACTIVATIONS, MODELS, embedding_choices
from pinncore.optim import OPTIMIZERS
from pinncore.weighting import SCHEDULES, WEIGHTINGS, Annealing
from pinnlab.recipes import DEFAULT as DEFAULT_RECIPES, MAX_RECIPES, Recipe, format_recipes, parse_recipes

from dashboard import custom_pde
from dashboard.custom_pde import CUSTOM

MODES = ("compare", "single")


@dataclass(frozen=True)
class Setting:
    key: str                 # URL parameter, and widget key "w_<key>"
    kind: type               # int, float or str
    default: Any
    label: str
    lo: float | None = None  # bounds for numbers (the widgets enforce them too)
    hi: float | None = None
    choices: tuple = ()      # allowed values for strings
    help: str = ""
    step: float | None = None  # widget increment for numbers (ints: 1)

    def parse(self, text: str) -> Any:
        """The value of a URL parameter, or ConfigError naming it."""
        if self.kind is str:
            text = ALIASES.get((self.key, text), text)
            if text not in self.choices:
                raise ConfigError(self.key, f"'{shorten(text, 40)}' is not one of {', '.join(self.choices)}")
            return text
        try:
            value = self.kind(float(text)) if self.kind is int and float(text).is_integer() else self.kind(text)
        except (TypeError, ValueError):
            raise ConfigError(self.key, f"'{shorten(text, 40)}' is not {'an integer' if self.kind is int else 'a number'}") \
                from None
        if not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise ConfigError(self.key, f"{shorten(text, 40)} is outside [{self.lo:g}, {self.hi:g}]")
        return value

    def check(self, value: Any) -> None:
        """ConfigError naming this setting unless ``value`` (from a widget or session state) is allowed."""
        if self.kind is str:
            if self.choices and value not in self.choices:
                raise ConfigError(self.key, f"'{shorten(value, 40)}' is not one of {', '.join(self.choices)}")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or (self.kind is int and float(value) != int(value)):
            raise ConfigError(self.key, f"{shorten(value, 40)!r} is not {'an integer' if self.kind is int else 'a number'}")
        if not self.lo <= value <= self.hi:
            raise ConfigError(self.label.lower() if self.key.startswith("p_") else self.key,
                              f"{value:g} is outside [{self.lo:g}, {self.hi:g}]")

    def format(self, value: Any) -> str:
        return f"{value:g}" if self.kind is float else str(value)


def _problem_settings() -> list[Setting]:
    out = []
    for cls in PROBLEMS.values():
        for p in cls.params:
            step = 10.0 if p.high - p.low > 100 else (0.5 if p.high - p.low >= 5 else 0.1)
            out.append(Setting(f"p_{p.name}", float, p.default, p.name, p.low, p.high, help=p.help, step=step))
    return list({s.key: s for s in out}.values())


_DEFAULT = RunConfig()
SETTINGS: list[Setting] = [
    Setting("mode", str, "compare", "Runs", choices=MODES,
            help="compare: up to four recipes side by side with the same seed (the paper's M1-M4 by default); "
                 "single: one run of the chosen model/weighting"),
    Setting("recipes", str, format_recipes(DEFAULT_RECIPES), "Recipes to compare",
            help="up to four, each M1-M4 or MODEL+WEIGHTING[+causal], e.g. M1,M2,mlp+ntk"),
    Setting("problem", str, "helmholtz", "Problem", choices=(*PROBLEMS, CUSTOM)),
    Setting("spec", str, "", "Your own PDE: the problem spec (TOML or JSON)"),
    Setting("spec_params", str, "", "Your own PDE: parameter values", help="e.g. 'c=2'; empty: the spec's defaults"),
    *_problem_settings(),
    Setting("model", str, "mlp", "Model", choices=tuple(MODELS)),
    Setting("weighting", str, "fixed", "Weighting", choices=tuple(WEIGHTINGS)),
    Setting("depth", int, 3, "Hidden layers", 1, 10, help="paper: 3 (Helmholtz, cavity), 5 (Klein-Gordon)"),
    Setting("width", int, 50, "Units per layer", 2, 256),
    Setting("activation", str, "tanh", "Activation", choices=tuple(ACTIVATIONS)),
    Setting("embedding", str, "none", "Input embedding", choices=embedding_choices(),
            help="fourier: random Fourier features [cos(Bz), sin(Bz)] of the standardised input z, B ~ N(0, σ²) "
                 "(Wang, Wang & Perdikaris 2021), against spectral bias; periodic: cos and sin of 2πx/L for the "
                 "inputs the problem declares periodic, so the network is exactly periodic"),
    Setting("ff_sigma", float, _DEFAULT.fourier_sigma, "Fourier scale σ", 0.01, 100.0, step=0.5,
            help="the std of B; no 2π inside, on the standardised input (the paper uses 1 and 10)"),
    Setting("ff_features", int, 0, "Fourier features m (0 = width / 2)", 0, 512,
            help="rows of B: the first layer reads 2m inputs"),
    Setting("ff_B", str, "fixed", "Fourier matrix B", choices=("fixed", "trained"),
            help="fixed, as in the paper, or trained with the weights"),
    Setting("rwf", str, "off", "Weight factorisation", choices=("off", "on"),
            help="random weight factorisation W = diag(exp(s))·V of every dense layer, s ~ N(μ, σ²) per unit"),
    Setting("rwf_mu", float, _DEFAULT.rwf_mu, "RWF μ", -5.0, 5.0, step=0.1),
    Setting("rwf_sigma", float, _DEFAULT.rwf_sigma, "RWF σ", 0.0, 2.0, step=0.05),
    Setting("variant", str, "released-code", "Annealing variant", choices=Annealing.variants,
            help="released-code reproduces the paper's numbers; paper (Algorithm 1 as printed) drives λ to ~1e6"),
    Setting("beta", float, 0.9, "Moving-average β", 0.0, 0.999, step=0.01),
    Setting("every", int, 0, "Weight update interval (0 = default)", 0, 100_000,
            help="steps between λ updates; 0 means 10 for annealing, 1000 for grad-norm"),
    Setting("weights", str, "", "Initial / fixed λ", choices=(),
            help="e.g. 'bc=10' or 'ic=1, bc=5'; empty: all 1"),
    Setting("causal", str, "off", "Causal weights along t", choices=("off", "on"),
            help="single run: reweight the residual's points along t (needs a time input); in a compare each "
                 "recipe says it (+causal)"),
    Setting("ntk_points", int, 300, "NTK: points per term", 1, 4096,
            help="points of each term's batch for Tr K_ii at NTK weight updates (paper: 300; at most the batch)"),
    Setting("ntk_beta", float, 0.0, "NTK: moving average", 0.0, 0.999, step=0.1,
            help="0: the weights are replaced at each update (the paper); jaxpi: 0.9"),
    Setting("ntk_eig", int, 64, "Kernel spectra: points per term", 0, 512,
            help="at every gradient snapshot, for every run: Tr K_ii and the eigenvalues of K_ii and K"),
    Setting("causal_chunks", int, 32, "Causal: time chunks", 1, 4096,
            help="N_t chunks of the residual's batch, ordered by t (paper: 32); must divide the batch"),
    Setting("causal_eps", float, 1.0, "Causal: ε", 1e-4, 1e4, step=0.1,
            help="w_i = exp(-ε Σ_{k<i} L_k) (jaxpi: 1; the paper's Allen-Cahn: 100)"),
    Setting("causal_schedule", str, "fixed", "Causal: ε schedule", choices=SCHEDULES,
            help="paper: ε × 10 whenever min w > 0.99, up to 100"),
    Setting("causal_every", int, 100, "Causal: record every", 1, 100_000,
            help="steps between records of the chunks' weights and losses (and schedule checks)"),
    Setting("optimizer", str, "adam", "Optimiser", choices=tuple(OPTIMIZERS),
            help="adam (the paper's); adam+lbfgs: Adam, then L-BFGS on a fixed batch (Rathore et al. 2024); soap: "
                 "Adam in the eigenbasis of Shampoo's preconditioner (Wang et al. 2025). In a compare each recipe "
                 "says it"),
    Setting("lbfgs_after", int, _DEFAULT.lbfgs_after, "L-BFGS after (Adam steps)", 0, 1_000_000,
            help="adam+lbfgs: the step of the switch; the weights λ are frozen from there on"),
    Setting("lbfgs_batch", int, _DEFAULT.lbfgs_batch, "L-BFGS: fixed points per term", 1, 65_536,
            help="adam+lbfgs: the batch L-BFGS trains on, drawn once at the switch"),
    Setting("lbfgs_history", int, _DEFAULT.lbfgs_history, "L-BFGS memory", 1, 1000),
    Setting("soap_every", int, _DEFAULT.soap_every, "SOAP: refresh every", 1, 100_000,
            help="soap: steps between refreshes of the preconditioner's eigenbasis (2 in the gradient-alignment "
                 "paper's code)"),
    Setting("dtype", str, "float32", "Precision", choices=DTYPES,
            help="float32 (the paper's); float64 for L-BFGS, whose line search needs the digits"),
    Setting("lr", float, 1e-3, "Learning rate", 1e-6, 1.0, step=1e-4,
            help="Adam's and SOAP's, at step 0 (L-BFGS's step is line-searched)"),
    Setting("decay", float, 0.9, "lr decay per decay period", 0.01, 1.0, step=0.01,
            help="lr = lr0 * decay ** (step / period), continuous (paper: 0.9 per 1000 steps)"),
    Setting("decay_steps", int, 1000, "Decay period (steps)", 1, 1_000_000),
    Setting("batch", int, 128, "Points per term / edge", 1, 4096),
    Setting("steps", int, 3_000, "Steps", 1, 1_000_000,
            help="Quick: 3,000 steps tell the story in about a minute; the paper trains 40,000"),
    Setting("seed", int, 0, "Seed", 0, 2**31 - 1),
    Setting("grad_every", int, 250, "Gradient snapshot every", 1, 100_000),
    Setting("eval_every", int, 250, "Evaluation every", 1, 100_000),
    Setting("hess_every", int, 500, "Stiffness (Hessian σ_max) every", 0, 100_000,
            help="Lanczos on Hessian-vector products, ~0.1-0.4 s each for k = 1; 0: never"),
    Setting("hess_k", int, 1, "Hessian eigenvalues per snapshot (top-k)", 1, 20),
    Setting("device", str, "cpu", "Device", choices=("cpu", "cuda")),
    Setting("engine", str, "auto", "Engine", choices=("auto", "eager"),
            help="auto: every run starts eager at once, and switches to the compiled step (each step one compiled "
                 "graph, 2-3x faster) only where that makes it finish sooner, counting the compile; the run card "
                 "says which and why. Results agree to float round-off"),
]
ALIASES = {("engine", "compiled"): "auto"}  # a link from before the engine choice: compiled where it pays
BY_KEY = {s.key: s for s in SETTINGS}


def defaults() -> dict[str, Any]:
    return {s.key: s.default for s in SETTINGS}


def parse_weights(text: str) -> dict[str, float]:
    """'bc=10, ic=2' -> {'bc': 10.0, 'ic': 2.0}; ConfigError naming 'weights' otherwise."""
    out = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, sep, value = part.partition("=")
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if not sep or not name.strip() or not math.isfinite(v) or v <= 0:
            raise ConfigError("weights", f"'{part}' is not TERM=VALUE with a finite VALUE > 0")
        out[name.strip()] = v
    return out


def shorten(text: str, limit: int = 60) -> str:
    """A URL value as quoted back to the user: never more than ``limit`` characters."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_query(query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Settings from a URL query, and one message per parameter that was ignored (values quoted shortened)."""
    values, ignored = defaults(), []
    for key, text in query.items():
        text = text[-1] if isinstance(text, list) else text
        shown = f"'{shorten(key, 40)}={shorten(text)}'"
        if key not in BY_KEY:
            ignored.append(f"Ignored URL parameter {shown}: unknown parameter.")
            continue
        setting = BY_KEY[key]
        try:
            if key == "weights":
                parse_weights(text)
                values[key] = text
            elif key == "spec":
                values[key] = custom_pde.decode(text)
            elif key == "spec_params":
                custom_pde.parse_params(text)
                values[key] = text
            elif key == "recipes":
                values[key] = format_recipes(parse_recipes(text))
            else:
                values[key] = setting.parse(text)
        except ConfigError as exc:
            default = setting.format(setting.default) or "empty"
            ignored.append(f"Ignored URL parameter {shown}: {shorten(exc.reason, 160)}; using the default "
                           f"({default}).")
    return values, ignored + _cross_checks(values, query, ignored)


def _cross_checks(values: dict, query: Mapping[str, str], said: list[str]) -> list[str]:
    """What only the whole setup can tell: another problem's parameter, weights of terms this problem lacks,
    a device this machine does not have. The offending values fall back to the defaults, named once."""
    out = []
    if values["problem"] == CUSTOM:
        from dashboard import uploads

        lacking = uploads.missing(values["spec"], values.get("files"))
        if lacking:  # kept: the page asks for the files, and Check and Start say what is missing
            return [f"This spec reads {', '.join(sorted(set(lacking.values())))}: its link carries the spec but not "
                    f"the files; upload them in the editor."]
    try:
        problem, _ = problem_of(values)
    except ConfigError as exc:  # a spec that does not build: named (once), and the default problem stands
        if not any(m.startswith("Ignored URL parameter 'spec") for m in said):
            out.append(f"Ignored URL parameter 'spec': {shorten(str(exc), 200)}; showing Helmholtz instead.")
        values.update(problem="helmholtz", spec="", spec_params="")
        problem, _ = problem_of(values)
    own = {f"p_{p.name}" for p in problem.params} if values["problem"] != CUSTOM else set()
    for key in query:
        if key.startswith("p_") and key in BY_KEY and key not in own:
            out.append(f"Ignored URL parameter '{key}={shorten(query[key])}': {problem.title} has no parameter "
                       f"'{key[2:]}' (its parameters: {', '.join(p.name for p in problem.params) or 'none'}).")
    terms = {t.name for t in problem(**problem_of(values)[1]).terms()}
    bad = [k for k in parse_weights(values["weights"]) if k not in terms] if values["weights"] else []
    if bad:
        out.append(f"Ignored URL parameter 'weights={shorten(values['weights'])}': {problem.title} has no term "
                   f"'{bad[0]}' (terms: {', '.join(sorted(terms))}); using all 1.")
        values["weights"] = ""
    if "periodic" in values["embedding"].split("+") and not getattr(problem, "periodic", None):
        out.append(f"Ignored URL parameter 'embedding={shorten(values['embedding'])}': {problem.title} declares no "
                   "periodic input; using none.")
        values["embedding"] = "none"
    if values["device"].startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            out.append("Ignored URL parameter 'device=cuda': CUDA is not available on this machine; using cpu.")
            values["device"] = "cpu"
    return out


def problem_of(values: Mapping[str, Any]):
    """(problem class, its parameter values) of the settings: a built-in, or the spec of "Your own PDE"."""
    if values["problem"] == CUSTOM:
        cls = custom_pde.problem_class(values["spec"], values.get("files"))
        return cls, custom_pde.spec_params(cls, values["spec_params"])
    problem = PROBLEMS[values["problem"]]
    return problem, {p.name: float(values[f"p_{p.name}"]) for p in problem.params}


def to_query(values: Mapping[str, Any]) -> dict[str, str]:
    """The query string for the current settings: the run-relevant ones, problem parameters of this problem,
    and for "Your own PDE" the spec itself (compressed)."""
    custom = values["problem"] == CUSTOM
    own = set() if custom else {f"p_{p.name}" for p in PROBLEMS[values["problem"]].params}
    out = {s.key: s.format(values[s.key]) for s in SETTINGS
           if (not s.key.startswith("p_") or s.key in own) and values.get(s.key) is not None
           and s.key not in ("spec", "spec_params")}
    if custom:
        out.update(spec=custom_pde.encode(values["spec"]), spec_params=values["spec_params"])
    return out


def build_configs(values: Mapping[str, Any]) -> list[RunConfig]:
    """One RunConfig per run to launch (M1..M4 in compare mode); ConfigError names the first bad field."""
    for key in ("mode", "problem"):
        BY_KEY[key].check(values[key])
    custom = values["problem"] == CUSTOM
    own = set() if custom else {f"p_{p.name}" for p in PROBLEMS[values["problem"]].params}
    for setting in SETTINGS:  # what the sidebar shows is what trains, or nothing does
        if setting.key not in ("weights", "spec", "spec_params", "recipes") and (not setting.key.startswith("p_")
                                                                                 or setting.key in own):
            setting.check(values[setting.key])
    problem, params = problem_of(values)
    common = dict(
        problem=problem.name if custom else values["problem"], params=params,
        spec=custom_pde.resolved(values["spec"], values.get("files")) if custom else "",
        depth=int(values["depth"]), width=int(values["width"]), activation=values["activation"],
        **network_fields(values), annealing_variant=values["variant"], beta=float(values["beta"]),
        update_every=int(values["every"]) or None, weights=parse_weights(values["weights"]),
        lr=float(values["lr"]), decay_rate=float(values["decay"]), decay_steps=int(values["decay_steps"]),
        batch=int(values["batch"]), steps=int(values["steps"]), seed=int(values["seed"]),
        grad_every=int(values["grad_every"]), eval_every=int(values["eval_every"]),
        hessian_every=int(values["hess_every"]), hessian_k=int(values["hess_k"]), device=values["device"],
        compile=values["engine"] == "auto", ntk_points=int(values["ntk_points"]), ntk_beta=float(values["ntk_beta"]),
        ntk_eig_points=int(values["ntk_eig"]), causal_chunks=int(values["causal_chunks"]),
        causal_eps=float(values["causal_eps"]), causal_schedule=values["causal_schedule"],
        causal_every=int(values["causal_every"]), lbfgs_after=int(values["lbfgs_after"]),
        lbfgs_batch=int(values["lbfgs_batch"]), lbfgs_history=int(values["lbfgs_history"]),
        soap_every=int(values["soap_every"]), dtype=values["dtype"])
    terms = {t.name for t in problem(**params).terms()}
    for k in common["weights"]:
        if k not in terms:
            raise ConfigError("weights", f"unknown term '{k}' for {problem.title}; terms: {', '.join(sorted(terms))}")
    if values["mode"] == "compare":
        recipes = parse_recipes(values["recipes"])
    else:
        recipes = [Recipe(values["model"], values["weighting"], values["causal"] == "on", values["optimizer"])]
    return [r.config(**common).validated() for r in recipes]


def network_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The RunConfig fields of the embedding and weight-factorisation settings."""
    return dict(embedding=values["embedding"], fourier_sigma=float(values["ff_sigma"]),
                fourier_features=int(values["ff_features"]) or None, fourier_trained=values["ff_B"] == "trained",
                rwf=values["rwf"] == "on", rwf_mu=float(values["rwf_mu"]), rwf_sigma=float(values["rwf_sigma"]))


def from_config(c: RunConfig) -> dict[str, Any]:
    """The sidebar settings that would train this run again (the inverse of ``build_configs``, single mode)."""
    values = defaults()
    custom = bool(c.spec)
    values.update(
        mode="single", problem=CUSTOM if custom else c.problem, model=c.model, weighting=c.weighting,
        depth=c.depth, width=c.width, activation=c.activation, variant=c.annealing_variant, beta=c.beta,
        every=c.update_every or 0, weights=", ".join(f"{k}={v:g}" for k, v in c.weights.items()), lr=c.lr,
        decay=c.decay_rate, decay_steps=c.decay_steps, batch=c.batch, steps=c.steps, seed=c.seed,
        grad_every=c.grad_every, eval_every=c.eval_every, hess_every=c.hessian_every, hess_k=c.hessian_k,
        device=c.device, engine="auto" if c.compile else "eager", embedding=c.embedding, ff_sigma=c.fourier_sigma,
        ff_features=c.fourier_features or 0, ff_B="trained" if c.fourier_trained else "fixed",
        rwf="on" if c.rwf else "off", rwf_mu=c.rwf_mu, rwf_sigma=c.rwf_sigma, causal="on" if c.causal else "off",
        ntk_points=c.ntk_points, ntk_beta=c.ntk_beta, ntk_eig=c.ntk_eig_points, causal_chunks=c.causal_chunks,
        causal_eps=c.causal_eps, causal_schedule=c.causal_schedule, causal_every=c.causal_every,
        optimizer=c.optimizer, lbfgs_after=c.lbfgs_after, lbfgs_batch=c.lbfgs_batch, lbfgs_history=c.lbfgs_history,
        soap_every=c.soap_every, dtype=c.dtype)
    if custom:
        values.update(spec=c.spec, spec_params=custom_pde.format_params(c.params))
    else:
        values.update({f"p_{k}": float(v) for k, v in c.params.items() if f"p_{k}" in BY_KEY})
    return values


def from_configs(configs: list[RunConfig]) -> dict[str, Any]:
    """The sidebar settings that would train these runs again: their compare (one recipe each) when they share
    everything but the recipe fields (at most four of them), else the first run alone (``from_config``)."""
    values = from_config(configs[0])
    recipe_fields = set(Recipe().fields())
    rest = [{k: v for k, v in c.to_dict().items() if k not in recipe_fields} for c in configs]
    if 1 < len(configs) <= MAX_RECIPES and all(r == rest[0] for r in rest):
        values.update(mode="compare", recipes=format_recipes([Recipe.of_config(c) for c in configs]))
    return values


DIFFERS = (("seed", "s{}"), ("depth", "d{}"), ("width", "w{}"), ("problem", "{}"), ("annealing_variant", "{}"),
           ("lr", "lr {:g}"), ("batch", "b{}"), ("steps", "{} steps"), ("fourier_sigma", "σ {:g}"),
           ("fourier_features", "m {}"), ("rwf_mu", "μ {:g}"))


def distinct_names(configs: list[RunConfig]) -> list[str]:
    """Names for runs shown together: the method, and what differs among the runs of that method
    (``M1 · s0``, ``M1 · s1``; ``M2 · d3 w50``), so that no two read alike."""
    names = []
    for c in configs:
        same = [o for o in configs if o.label() == c.label()]
        parts = [fmt.format(getattr(c, f)) for f, fmt in DIFFERS if len({getattr(o, f) for o in same}) > 1]
        if len({tuple(sorted(o.params.items())) for o in same}) > 1:
            parts += [f"{k}={v:g}" for k, v in c.params.items()]
        names.append(" · ".join([c.label(), " ".join(parts)]) if parts else c.label())
    return names
