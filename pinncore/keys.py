"""What a built trainer is made of (``build_key``): the config fields that change its network, problem and compiled
step, against those a trainer reads afresh at every step or restores with a run's state."""
from __future__ import annotations

import json

from .config import RunConfig

# the config fields a trainer reads afresh at every step, or restores with its state (model, Adam, sampler): a
# built trainer, its compiled step above all, can train any run whose config differs from its own in these only
PER_RUN = ("steps", "seed", "lr", "decay_rate", "decay_steps", "grad_every", "eval_every", "hessian_every",
           "hessian_k", "hist_bins", "checkpoint_every")
# the fields of the weighting: the compiled step takes the weights as an input, so one compiled graph serves every
# weighting of a setup (M1 and M2, M3 and M4); ``rebind`` builds the new weighting
# (NTK weights: their kernel traces are computed outside the step, with a graph of their own where compiled);
# causal weights are not among them: they change the residual's loss, so the compiled graph
WEIGHTING = ("weighting", "annealing_variant", "beta", "update_every", "weights", "ntk_points", "ntk_beta")


# config fields added after setup keys were first kept (compiled steps, the engine profile): left out of the key at
# their defaults, so that the key of an existing setup stays what it was
LATER_FIELDS = ("ntk_eig_points", "causal", "causal_chunks", "causal_eps", "causal_schedule", "causal_every",
                "optimizer", "soap_every")
# the optimiser's fields that do not change a compiled step: adam+lbfgs trains Adam's compiled step before the
# switch (a trainer of an ``adam`` run serves it) and eagerly after it
OPTIMISER_RUN = ("lbfgs_after", "lbfgs_batch", "lbfgs_history")
_DEFAULTS = RunConfig().to_dict()


def build_key(config: RunConfig) -> str:
    """What a built trainer is made of: its config without the ``PER_RUN`` and ``WEIGHTING`` fields (equal keys:
    the same network, problem and compiled step), and without the ``LATER_FIELDS`` at their defaults."""
    skip = PER_RUN + WEIGHTING + OPTIMISER_RUN
    fields = config.to_dict()
    if fields["optimizer"] == "adam+lbfgs":
        fields["optimizer"] = "adam"
    if fields["optimizer"] != "soap":  # a compare's shared SOAP setting does not split its Adam runs' graphs
        fields["soap_every"] = _DEFAULTS["soap_every"]
    return json.dumps({k: v for k, v in fields.items() if k not in skip
                       and not (k in LATER_FIELDS and v == _DEFAULTS[k])}, sort_keys=True)
