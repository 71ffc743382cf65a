"""Named presets of the compare: each sets up the whole setup of one story (problem, recipes, network, steps), on
top of the defaults. No Streamlit here: a preset is settings (``dashboard.settings`` keys), so a preset's setup
rides in the URL like any other."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, MutableMapping

from dashboard import custom_pde
from dashboard.custom_pde import CUSTOM


@dataclass(frozen=True)
class Preset:
    title: str
    story: str
    values: dict[str, Any] = field(default_factory=dict)  # settings keys -> values (the rest: the defaults)
    example: str = ""  # a spec of examples/problems/ (the problem is then "Your own PDE")


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        "The 2021 paper: M1–M4 on Helmholtz",
        "Annealing (M2) and the modified MLP (M4) against plain training (M1) on the stiff Helmholtz problem "
        "(a2 = 4): the gradient histograms, λ and the errors of Wang, Teng & Perdikaris 2021.",
        {"problem": "helmholtz", "recipes": "M1,M2,M3,M4"}),
    "ntk-wave": Preset(
        "NTK weights on the wave equation: fixed vs annealing vs NTK",
        "The NTK paper's failure case, u_tt = 4 u_xx: at initialisation the residual's kernel trace is about 30x "
        "the initial and boundary values' (5x100 network), so fixed weights fit the residual first and miss the "
        "waves; NTK weights λ_i = Σ Tr K / Tr K_ii equalise the rates. Watch the NTK view: Tr K per term and λ.",
        {"recipes": "M1,M2,mlp+ntk", "depth": 5, "width": 100, "decay": 1.0, "grad_every": 250,
         "eval_every": 250, "hess_every": 0}, example="wave-ntk"),
    "ntk-poisson": Preset(
        "Why NTK weights balance the terms: 1D Poisson, fixed vs NTK vs annealing",
        "u = sin(8x): the residual's kernel trace grows far past the boundary's as training goes on (measured: "
        "from 3.5x to about 130x in 2,000 steps), so fixed weights fit the residual and leave the boundary behind; "
        "NTK weights divide that spread out, as annealing does from the gradients. Watch the NTK view.",
        {"problem": "poisson1d", "p_C": 8.0, "recipes": "M1,mlp+ntk,M2", "depth": 1, "width": 50, "steps": 2000,
         "grad_every": 100, "eval_every": 100, "hess_every": 0}),
    "causality": Preset(
        "Causality: plain vs causal weights",
        "1D convection u_t + 40 u_x = 0: plain training fits the late times before the early ones and fails "
        "along t; causal weights w_i = exp(-ε Σ_{k<i} L_k) make it learn forward in time. Watch the Causal view: "
        "the weights over t, and the error against t.",
        {"recipes": "M1,mlp+fixed+causal", "depth": 4, "width": 50, "batch": 256, "steps": 4000, "grad_every": 500,
         "eval_every": 250, "hess_every": 0, "causal_every": 50}, example="convection-causal"),
    "conflict": Preset(
        "Conflicting gradients: the alignment of the terms under M1, M2 and NTK weights",
        "The alignment score A of the residual's and the boundary's gradients (the cosine of their angle), "
        "measured at every snapshot: negative where a step for one term undoes the other.",
        {"problem": "helmholtz", "recipes": "M1,M2,mlp+ntk", "grad_every": 50, "hess_every": 0}),
}


def preset_values(key: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The full settings of a preset: the defaults, its values, and for a spec example the spec itself."""
    p = PRESETS[key]
    values = {**defaults, "mode": "compare", **p.values}
    if p.example:
        values.update(problem=CUSTOM, spec=custom_pde.examples()[p.example], spec_params="")
    return values


def apply_preset(state: MutableMapping, key: str) -> None:
    """Set the widgets' values (``w_<setting>``) to the preset's setup."""
    from dashboard.settings import defaults

    for k, v in preset_values(key, defaults()).items():
        state[f"w_{k}"] = v
