"""Networks: a plain tanh MLP (M1, M2), the paper's modified MLP (M3, M4, eq. 43-47) and the one its released
code builds, by name (``MODELS``); input embeddings by name (``EMBEDDINGS``: none, fourier, periodic) applied
after the input standardisation; random weight factorisation of any of them (``make_model(..., rwf=True)``).

* ``layers``: activations, Xavier dense layers, ``FactorisedDense`` (W = diag(exp(s)) V), the standardisation;
* ``embeddings``: random Fourier features and the exact periodic embedding;
* ``network``: the shared base (``Network``): checks, embeddings, factorisation, named weights;
* ``mlp``, ``modified``: the architectures; ``registry``: ``MODELS``, ``make_model``, ``model_for``.
"""
from .embeddings import CHAIN, EMBEDDINGS, FourierFeatures, PeriodicEmbedding, embedding_choices, parse_embedding
from .layers import ACTIVATIONS, FactorisedDense, Standardize, xavier_linear
from .mlp import MLP
from .modified import ModifiedMLP, ReleasedModifiedMLP
from .network import Network
from .registry import MODELS, make_model, model_for, periodic_columns

__all__ = ["ACTIVATIONS", "CHAIN", "EMBEDDINGS", "FactorisedDense", "FourierFeatures", "MLP", "MODELS",
           "ModifiedMLP", "Network", "PeriodicEmbedding", "ReleasedModifiedMLP", "Standardize", "embedding_choices",
           "make_model", "model_for", "parse_embedding", "periodic_columns", "xavier_linear"]
