"""Adam, then L-BFGS (Rathore, Lei, Frangella, Lu & Udell, "Challenges in training PINNs: a loss landscape
perspective", ICML 2024): Adam for ``lbfgs_after`` steps, then ``torch.optim.LBFGS`` with their settings (step 1,
memory ``lbfgs_history`` = 100, strong Wolfe line search) on one fixed batch of ``lbfgs_batch`` points per term,
drawn at the switch from a generator of its own (seed and switch step), so that a resumed run draws the same batch.

One L-BFGS iteration (a direction, a line search of at most 25 loss evaluations) is one step of the run: its record
holds the terms' losses at the iteration's start on the fixed batch and, as its learning rate, the step length the
line search accepted. The strong Wolfe conditions only accept a lower loss, so the recorded loss never rises (a
point whose loss is not finite, which torch's line search can keep since NaN compares false, stops the run as
diverged with the parameters of the iteration's start). When
the line search finds no lower loss along the direction (step length 0, what Rathore et al. observe once L-BFGS
stalls, and what DeepXDE users meet as "L-BFGS stops after one iteration"), the run ends with status ``stalled at
step k: ...`` in words. The weights lambda are frozen at the switch (the objective must not move under the line
search, as in Rathore et al. and the self-adaptive PINN code); causal weights are refused for the same reason.
L-BFGS's own state (its memory, last direction and step) is part of the optimiser's ``state_dict``, so a checkpoint
taken during L-BFGS resumes the same trajectory.
"""
from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from .adam import Optimiser, make_adam

FLOAT32_WARNING = ("L-BFGS is more reliable in float64: in float32 its line search often stalls early or the run "
                   "diverges (dtype = float64 avoids it)")
MAX_LS = 25  # loss evaluations of one line search (torch's own default)


class AdamLbfgs(Optimiser):
    name = "adam+lbfgs"
    compiles = True  # the Adam phase

    @staticmethod
    def make(params, config):
        return make_adam(params, config.lr)

    @staticmethod
    def adam_steps(config) -> int:
        return min(config.steps, config.lbfgs_after)

    @staticmethod
    def check(config, problem) -> None:
        if config.causal:
            raise ConfigError("optimizer", "adam+lbfgs cannot be combined with causal weights: they change the "
                                           "objective under L-BFGS's line search (set causal = false)")
        if config.lbfgs_after >= config.steps:
            raise ConfigError("lbfgs_after", f"the switch to L-BFGS at step {config.lbfgs_after:,} must come before "
                                             f"the last step ({config.steps:,} steps): the run would be Adam alone")


def lbfgs_optimizer(params, history: int) -> torch.optim.LBFGS:
    """One iteration per ``step`` call, with a full line search (``max_eval`` counts the first evaluation too: with
    the default, 1.25 x max_iter = 1, the line search gets a single trial step and no Wolfe search), and no
    tolerance of its own: the trainer decides when the run has stalled."""
    return torch.optim.LBFGS(params, lr=1.0, max_iter=1, max_eval=1 + MAX_LS, history_size=history,
                             tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")


class LbfgsPhase:
    """The L-BFGS phase of one trainer: its optimiser and fixed batch, and one iteration at a time."""

    def __init__(self, trainer):
        from ..sampling import Sampler

        c = trainer.config
        self.trainer = trainer
        self.optimizer = lbfgs_optimizer(trainer.params, c.lbfgs_history)
        # a stream of its own: above every diagnostic snapshot's seed (seed * 1_000_003 + step + 1)
        gen = torch.Generator().manual_seed(2**62 + c.seed * 1_000_003 + c.lbfgs_after)
        self.points = Sampler(trainer.terms, c.lbfgs_batch, trainer.dtype, trainer.device).draw(gen)
        self.memo: tuple | None = None  # (parameters, losses, total, gradients) of the last evaluation
        self.evaluations = 0  # of the loss and its gradient (the memo spares one per iteration)

    def evaluate(self):
        """The terms' losses and the total on the fixed batch at the current parameters, the gradient in ``.grad``.
        torch's LBFGS evaluates the loss at each iteration's start, where the previous iteration's line search
        evaluated it last (at the point it accepted, set by the same arithmetic): that one is taken from the memo,
        bit for bit what evaluating again would give, and a third of the phase's time saved."""
        t = self.trainer
        m = self.memo
        if m is not None and all(torch.equal(p, q) for p, q in zip(t.params, m[0])):
            for p, g in zip(t.params, m[3]):
                p.grad = g.clone()
            return m[1], m[2]
        self.optimizer.zero_grad(set_to_none=False)
        losses = t.loss_module(*self.points)
        total = self._total(losses)
        total.backward()
        for p in t.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self.evaluations += 1
        self.memo = ([p.detach().clone() for p in t.params], losses.detach(), total.detach(),
                     [p.grad.detach().clone() for p in t.params])
        return self.memo[1], self.memo[2]

    def iterate(self):
        """One L-BFGS iteration: (losses at its start, step length accepted) or None where a loss or the gradient
        was not finite (the parameters are then as before the iteration)."""
        t = self.trainer
        first: list = []
        seen: list[float] = []  # every loss the iteration evaluated

        def closure():
            losses, total = self.evaluate()
            if not first:
                first.append(losses)
            seen.append(float(total))
            return total

        before = [p.detach().clone() for p in t.params]
        try:
            self.optimizer.step(closure)
        except (IndexError, RuntimeError):  # torch's line search on a non-finite loss can fail outright
            return self._restore(before)
        values = dict(zip(t.term_names, first[0].tolist()))
        if not all(math.isfinite(v) for v in seen) and not self._accepted_finite(seen[0]):
            return self._restore(before)  # the line search kept a point whose loss is NaN (NaN compares false)
        if not all(torch.isfinite(p).all() for p in t.params):
            return self._restore(before)
        state = self.optimizer.state[self.optimizer._params[0]]
        step = float(state.get("t", 0.0) or 0.0)
        moved = any(not torch.equal(p, b) for p, b in zip(t.params, before))
        return values, (step if moved else 0.0)

    def _total(self, losses) -> torch.Tensor:
        t = self.trainer
        return sum(t.weighting.lambdas[n] * L for n, L in zip(t.term_names, losses))

    def _accepted_finite(self, start: float) -> bool:
        """Whether the point the iteration ended at has a finite loss no higher than at its start (checked only
        where a loss the line search evaluated was not finite: one more evaluation)."""
        end = float(self._total(self.trainer.loss_module(*self.points)).detach())
        return math.isfinite(start) and math.isfinite(end) and end <= start

    def _restore(self, before) -> None:
        """A non-finite value: the parameters go back to the iteration's start, and the run stops as diverged."""
        with torch.no_grad():
            for p, b in zip(self.trainer.params, before):
                p.copy_(b)
        return None
