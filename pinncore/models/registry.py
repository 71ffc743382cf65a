"""Models by name, and the network a run config trains on its problem."""
from __future__ import annotations

import math

from ..errors import ConfigError
from .mlp import MLP
from .modified import ModifiedMLP, ReleasedModifiedMLP
from .network import Network

MODELS: dict[str, type[Network]] = {"mlp": MLP, "modified-mlp": ModifiedMLP,
                                    "modified-mlp-released": ReleasedModifiedMLP}


def make_model(name: str, in_dim: int, out_dim: int, rwf: bool = False, rwf_mu: float = 1.0,
               rwf_sigma: float = 0.1, **kwargs) -> Network:
    """``MODELS[name](in_dim, out_dim, **kwargs)`` (depth, width, activation, mean, std, seed and the embedding
    options of ``Network``), its dense layers factorised when ``rwf`` (``Network.factorise``)."""
    if name not in MODELS:
        raise ConfigError("model", f"unknown '{name}'; allowed: {', '.join(MODELS)}")
    net = MODELS[name](in_dim, out_dim, **kwargs)
    return net.factorise(rwf_mu, rwf_sigma) if rwf else net


def periodic_columns(problem) -> dict[int, float]:
    """{input index: period} of ``problem.periodic`` ({input name: period L}); ConfigError naming 'periodic' for a
    name that is not an input or a period that is not a finite number > 0."""
    declared = getattr(problem, "periodic", None) or {}
    if not isinstance(declared, dict):
        raise ConfigError("periodic", f"must map input names to periods, got {type(declared).__name__}")
    out = {}
    for name, period in declared.items():
        if name not in problem.inputs:
            raise ConfigError("periodic", f"'{name}' is not an input of {problem.name} "
                                          f"(inputs: {', '.join(problem.inputs)})")
        if isinstance(period, bool) or not isinstance(period, (int, float)) or not math.isfinite(period) \
                or period <= 0:
            raise ConfigError("periodic", f"the period of '{name}' must be a finite number > 0, got {period!r}")
        out[problem.inputs.index(name)] = float(period)
    return out


def model_for(config, problem) -> Network:
    """The network ``config`` (a RunConfig) trains on ``problem``: its inputs standardised by the domain's
    statistics, the run's embedding and the problem's periodic inputs, factorised if the run asks."""
    mean, std = problem.stats()
    return make_model(config.model, len(problem.inputs), len(problem.outputs), depth=config.depth,
                      width=config.width, activation=config.activation, mean=mean, std=std, seed=config.seed,
                      embedding=config.embedding, periodic=periodic_columns(problem),
                      fourier_sigma=config.fourier_sigma, fourier_features=config.fourier_features,
                      fourier_trained=config.fourier_trained, rwf=config.rwf, rwf_mu=config.rwf_mu,
                      rwf_sigma=config.rwf_sigma)
