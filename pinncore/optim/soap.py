"""SOAP (Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson & Kakade 2024): Adam run in the eigenbasis of
Shampoo's preconditioner factors G G^T and G^T G, the basis refreshed every ``soap_every`` steps. Wang, Bhartari, Li
& Perdikaris (NeurIPS 2025) find it best on ten PINN benchmarks and show it aligns the terms' gradients.

The implementation is ``pytorch_optimizer.SOAP`` (the pytorch-optimizer package: maintained, tested, MIT, no
dependency beyond torch and numpy; its SOAP follows the authors' reference code). Settings here: the run's learning
rate and schedule, betas (0.9, 0.999) as the run's Adam (so that a compare isolates the preconditioning), no
weight decay, and a refresh every 2 steps as in the gradient-alignment paper's code (the SOAP paper's default
is 10). One-dimensional parameters (biases, weight-factorisation scales) are updated by plain Adam.
"""
from __future__ import annotations

from .adam import Optimiser


class Soap(Optimiser):
    name = "soap"
    compiles = False

    @staticmethod
    def make(params, config):
        from pytorch_optimizer import SOAP

        return SOAP(params, lr=config.lr, betas=(0.9, 0.999), weight_decay=0.0,
                    precondition_frequency=config.soap_every, eps=1e-8)

    @staticmethod
    def adam_steps(config) -> int:
        return 0
