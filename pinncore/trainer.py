"""A step-wise trainer: ``Trainer.step(n)`` advances n optimizer steps and returns the records produced.

One step (paper protocol, Algorithm 1 order):
  1. draw fresh uniform points for every term's boxes, compute the unweighted losses L_t (the residual's
     input derivatives by forward-mode jets, or nested autograd with ``derivatives="autograd"``);
  2. if the weighting is due, update lambda from the per-term gradients (before the step, same minibatch);
  3. apply Adam to sum_t lambda_t L_t with lr = lr0 * decay_rate ** (step / decay_steps).
Per-term gradients are computed only where they are needed: on weighting updates (then the step uses
sum_t lambda_t grad L_t) and for gradient snapshots (an extra backward pass that the update does not use, so
diagnostic cadences never change the trajectory). Other steps back-propagate sum_t lambda_t L_t once.
With ``compile=True`` each step is one compiled graph instead (``pinncore.fused``: losses, gradient and Adam,
or the per-term gradients on update and snapshot steps); results agree with eager to float round-off.
A non-finite loss or gradient stops the run with status ``diverged at step k`` before any update is applied.
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
import torch

from .config import RunConfig
from .derivatives import joint_plan
from .diagnostics import term_eigenvalues
from .errors import ConfigError
from .fused import FusedTraining, TermLosses
from .models import make_model
from .sampling import Sampler
from .records import EvalSnapshot, GradSnapshot, Record, StepRecord, StiffnessSnapshot
from .weighting import make_weighting

DTYPES = {"float32": torch.float32, "float64": torch.float64}
# the config fields a trainer reads afresh at every step, or restores with its state (model, Adam, sampler): a
# built trainer, its compiled step above all, can train any run whose config differs from its own in these only
PER_RUN = ("steps", "seed", "lr", "decay_rate", "decay_steps", "grad_every", "eval_every", "hessian_every",
           "hessian_k", "hist_bins", "checkpoint_every")


def build_key(config: RunConfig) -> str:
    """What a built trainer is made of: its config without the ``PER_RUN`` fields (equal keys, same trainer)."""
    return json.dumps({k: v for k, v in config.to_dict().items() if k not in PER_RUN}, sort_keys=True)


def resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", f"'{name}' requested but CUDA is not available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError("device", f"must be 'cpu' or 'cuda[:N]', got {name!r}") from None


def make_adam(params, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused kernel (one op for all parameters) where this torch build has it for the device."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class Trainer:
    def __init__(self, config: RunConfig):
        self.config = config.validated()
        c = self.config
        self.device = resolve_device(c.device)
        self.dtype = DTYPES[c.dtype]
        self.problem = c.make_problem()
        self.terms = self.problem.terms()
        self.term_names = tuple(t.name for t in self.terms)
        mean, std = self.problem.stats()
        # PERIODIC EMBEDDING: ``self.problem.periodic`` ({input: period}, set by a spec's periodic_mode =
        # "embedding") is for the network's input embedding (pinncore.models, branch nets), to be passed to
        # make_model here when that lands; the penalty mode needs nothing here (it is a loss term).
        self.model = make_model(c.model, len(self.problem.inputs), len(self.problem.outputs), depth=c.depth,
                                width=c.width, activation=c.activation, mean=mean, std=std, seed=c.seed)
        self.model.to(device=self.device, dtype=self.dtype)
        self.loss_module = TermLosses(self.model, self.terms, self.problem.inputs, c.derivatives,
                                      self.problem.unknowns)
        self.unknowns = self.loss_module.unknowns.to(device=self.device, dtype=self.dtype)
        self.param_names = [n for n, _ in self.model.named_parameters()]  # the network's (weightings read these)
        # the network's parameters, then the unknown coefficients' raw parameters (trained alike)
        self.params = list(self.model.parameters()) + list(self.unknowns.parameters())
        self.layers = self.model.layer_weights()
        self._layer_index = [next(i for i, p in enumerate(self.params) if p is w) for w in self.layers.values()]
        self.optimizer = make_adam(self.params, c.lr)
        self.weighting = make_weighting(c.weighting, self.term_names, initial=c.weights, beta=c.beta,
                                        every=c.update_every, variant=c.annealing_variant)
        self.generator = torch.Generator().manual_seed(c.seed)
        self.sampler = Sampler(self.terms, c.batch, self.dtype, self.device)
        if c.compile:  # build the jet plan outside the compiled region, so tracing finds it cached
            joint_plan([t.needs for t in self.terms], self.problem.inputs)
        self._fused = (FusedTraining(self.loss_module, self.optimizer, per_term=self.weighting.needs != "none")
                       if c.compile else None)
        self.steps_done = 0
        self.wall = 0.0
        self.status = "ready"
        self._evaluation(c.eval_points)

    # -- public -----------------------------------------------------------------------------------------------
    @property
    def compile_seconds(self) -> float | None:
        """With ``compile=True``: the seconds the first compiled step took (compilation included, once per run,
        for a progress line to show); None before it, without compilation, or where it fell back to eager."""
        return None if self._fused is None else self._fused.compile_seconds

    @property
    def done(self) -> bool:
        return self.status == "finished" or self.status.startswith("diverged")

    def lr_at(self, step: int) -> float:
        c = self.config
        return c.lr * c.decay_rate ** (step / c.decay_steps)

    def step(self, n: int = 1) -> list[Record]:
        """Advance up to n steps (fewer if the run finishes or diverges); return the records produced."""
        records: list[Record] = []
        if self.done:
            return records
        self.status = "running"
        c = self.config
        for _ in range(n):
            k = self.steps_done
            if k >= c.steps:
                break
            t0 = time.perf_counter()
            if c.eval_every and k % c.eval_every == 0:
                records.append(self.evaluate())
            if c.hessian_every and k % c.hessian_every == 0:
                records.append(self.stiffness())
            known = self.unknown_values()  # the values the step's losses are measured at
            rec = self._one_step(k, records)
            self.wall += time.perf_counter() - t0
            if rec is None:
                self.status = f"diverged at step {k}"
                return records
            records.append(StepRecord(k, rec[0], rec[1], rec[2], self.wall, known))
            self.steps_done = k + 1
        if self.steps_done >= c.steps:
            t0 = time.perf_counter()
            records.append(self.evaluate())
            self.wall += time.perf_counter() - t0
            self.status = "finished"
        return records

    def _evaluation(self, n: int) -> None:
        """The evaluation grid over the domain's box, the reference on it (NaN outside a region: pictures are
        masked), and the points the error is scored on when they are not the grid (a scattered reference's)."""
        grid, self.grid_shape = self.problem.grid(n)
        self.grid = grid
        self.grid_mask = self.problem.mask(grid)
        self._masked = not self.grid_mask.all()
        if self._masked:
            ref = np.full(len(grid), np.nan)
            ref[self.grid_mask] = self.problem.reference(grid[self.grid_mask])
        else:
            ref = self.problem.reference(grid)
        self.reference_field = ref.reshape(self.grid_shape)
        self._grid_t = torch.as_tensor(grid, dtype=self.dtype, device=self.device)
        self.score_points = self.problem.scoring()

    def evaluate(self) -> EvalSnapshot:
        """The prediction on the grid (NaN outside a region) and the relative L2 error: on the grid's points in
        the domain, or on the scattered reference's own points."""
        pred = self._predict(self._grid_t)
        ref = self.reference_field.ravel()
        if self._masked:
            pred[~self.grid_mask] = np.nan
        if self.score_points is not None:
            points, values = self.score_points
            err = float(np.linalg.norm(self._predict(points) - values) / np.linalg.norm(values))
        elif self._masked:
            m = self.grid_mask
            err = float(np.linalg.norm(pred[m] - ref[m]) / np.linalg.norm(ref[m]))
        else:
            err = float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))
        return EvalSnapshot(self.steps_done, err, pred.reshape(self.grid_shape).astype(np.float32))

    def _predict(self, points, chunk: int = 1 << 16) -> np.ndarray:
        """The evaluated quantity at points (float64 numpy), in chunks (a scattered reference may be large)."""
        if isinstance(points, torch.Tensor) and len(points) <= chunk:
            pred = self.problem.predict(self.model, points, self.config.derivatives)
            return pred.to("cpu", torch.float64).numpy()
        return np.concatenate([self._predict(torch.as_tensor(points[i:i + chunk], dtype=self.dtype,
                                                             device=self.device))
                               for i in range(0, len(points), chunk)])

    def unknown_values(self) -> dict[str, float]:
        """The unknown coefficients' current values (empty without unknowns)."""
        return self.unknowns.current() if self.problem.unknowns else {}

    def losses(self, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Unweighted losses on a fresh minibatch (advances the given, by default the training, generator), eager.
        The terms share one forward pass: back-propagate each with ``retain_graph=True`` but the last."""
        return dict(zip(self.term_names, self.loss_module(*self._sample(generator or self.generator))))

    def _sample(self, generator: torch.Generator) -> list[torch.Tensor]:
        return [t.sample(self.config.batch, generator, self.dtype).to(self.device) for t in self.terms]

    def stiffness(self, k: int | None = None, iters: int = 80, tol: float = 1e-3) -> StiffnessSnapshot:
        """Top-k Hessian eigenvalues (Lanczos on Hessian-vector products) of each weighted term lambda_t L_t and
        of the loss, on a minibatch of its own RNG stream (seeded by seed and step), so that the training
        trajectory does not depend on this diagnostic. k: the argument, else ``config.hessian_k``."""
        k = k if k is not None else self.config.hessian_k
        gen = self._diagnostic_generator()
        lam = dict(self.weighting.lambdas)
        per_term, total = term_eigenvalues(self.losses(gen), lam, self.params, k=k, iters=iters, tol=tol,
                                           generator=gen)
        return StiffnessSnapshot(self.steps_done, per_term, total, self.lr_at(self.steps_done), lam)

    def _diagnostic_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.steps_done + 1)

    def hessian_spectra(self, max_params: int | None = None) -> dict[str, np.ndarray]:
        """Every eigenvalue (largest first) of grad^2 (lambda_t L_t) per term and of grad^2 L ("total"), from
        the full Hessian (``torch.autograd.functional.hessian`` + ``eigh``), on the minibatch ``stiffness``
        uses at this step. For networks of at most ``diagnostics.MAX_FULL_HESSIAN`` parameters (paper Fig. 4)."""
        from .diagnostics import MAX_FULL_HESSIAN, hessian_matrix, spectrum

        lam = self.weighting.lambdas
        state = self._diagnostic_generator().get_state()

        def term_loss(name: str):
            return lambda: self.losses(torch.Generator().set_state(state))[name]

        hess = {t: lam[t] * hessian_matrix(term_loss(t), self.model, max_params or MAX_FULL_HESSIAN)
                for t in self.term_names}
        out = {t: spectrum(h) for t, h in hess.items()}
        out["total"] = spectrum(sum(hess.values()))
        return out

    # -- internals --------------------------------------------------------------------------------------------
    def _one_step(self, k: int, records: list[Record]):
        c, w, names = self.config, self.weighting, self.term_names
        due, snapshot = w.due(k), c.grad_every and (k % c.grad_every == 0 or k == c.steps - 1)
        lr = self.lr_at(k)
        points = self.sampler.draw(self.generator)
        fused = self._fused if self._fused is not None and not self._fused.failed else None
        per_term = losses = None
        if fused is not None and not (due or snapshot):  # the whole step in one compiled graph
            lam = [w.lambdas[t] for t in names]
            out = fused.step(points, torch.tensor(lam, dtype=self.dtype, device=self.device), lr)
            if out is not None:
                loss, finite = out
                return (dict(zip(names, loss.tolist())), dict(w.lambdas), lr) if finite else None
        elif fused is not None:  # compiled per-term gradients, then the weighting and Adam here
            out = fused.term_grads(points)
            if out is not None:
                loss, jac = out
                values = dict(zip(names, loss.tolist()))
                per_term = {t: [g[i] for g in jac] for i, t in enumerate(names)}
        if per_term is None:  # eager: one forward pass, autograd
            loss = self.loss_module(*points)
            losses, values = dict(zip(names, loss)), dict(zip(names, loss.tolist()))
        if not all(math.isfinite(v) for v in values.values()):
            return None
        previous = w.state_dict()
        if (due or snapshot) and per_term is None:
            per_term = self._per_term_grads(losses, retain=snapshot and not due)
        if due:
            if w.needs == "all":
                w.update({t: dict(zip(self.param_names, gs)) for t, gs in per_term.items()})
            else:
                w.update({t: {name: gs[i] for name, i in zip(self.layers, self._layer_index)}
                          for t, gs in per_term.items()})
        lam = w.lambdas
        if due or losses is None:  # the per-term gradients are at hand
            grads = [sum(lam[t] * per_term[t][i] for t in self.term_names) for i in range(len(self.params))]
        else:
            total = sum(lam[t] * L for t, L in losses.items())
            grads = self._fill(torch.autograd.grad(total, self.params, allow_unused=True))
        if not math.isfinite(torch.nn.utils.get_total_norm(grads).item()):
            w.load_state_dict(previous)
            return None
        for p, g in zip(self.params, grads):
            p.grad = g
        if snapshot:
            records.append(self._snapshot(k, per_term))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return values, dict(lam), lr

    def _fill(self, grads) -> list[torch.Tensor]:
        """Zeros for a parameter no term depends on (the cavity's output bias: constants vanish from psi_x,
        psi_y and grad p)."""
        return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, self.params)]

    def _per_term_grads(self, losses, retain: bool) -> dict[str, list[torch.Tensor]]:
        """grad_theta L_t of every unweighted term: one backward pass per term through the shared forward graph
        (kept for the next term, and after the last one if ``retain``)."""
        names = list(losses)
        return {t: self._fill(torch.autograd.grad(losses[t], self.params, allow_unused=True,
                                                  retain_graph=retain or t != names[-1]))
                for t in names}

    def _snapshot(self, k: int, per_term) -> GradSnapshot:
        lam = self.weighting.lambdas
        grads = [[(lam[t] * per_term[t][i]).detach().abs().flatten().to("cpu", torch.float64)
                  for i in self._layer_index] for t in self.term_names]
        logs = [[torch.log10(g[g > 0]) for g in row] for row in grads]
        finite = torch.cat([x for row in logs for x in row])
        hi = math.ceil(finite.max().item()) if finite.numel() else 0.0
        lo = max(math.floor(finite.min().item()), hi - 12) if finite.numel() else -1.0
        bins = self.config.hist_bins
        edges = np.linspace(lo, hi, bins + 1)
        counts = np.array([[np.histogram(x.clamp(lo, hi).numpy(), edges)[0] for x in row] for row in logs])
        stat = lambda f: np.array([[f(g) for g in row] for row in grads])  # noqa: E731
        return GradSnapshot(
            step=k, terms=self.term_names, layers=tuple(self.layers), lambdas=dict(lam), edges=edges,
            counts=counts, max_abs=stat(lambda g: g.max().item()), mean_abs=stat(lambda g: g.mean().item()),
            l2=stat(lambda g: g.norm().item()))

    # -- state ------------------------------------------------------------------------------------------------
    def rebind(self, config: RunConfig) -> None:
        """Train under ``config`` from now on, a config of the same ``build_key`` (ConfigError otherwise); the
        run's state comes with ``load_state_dict``. Re-uses a compiled step for another run of the same setup."""
        config = config.validated()
        if build_key(config) != build_key(self.config):
            raise ConfigError("config", "differs from the trainer's in more than steps, seed, lr schedule and "
                                        "diagnostic cadences: build a new trainer")
        self.config = config

    def state_dict(self) -> dict:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "weighting": self.weighting.state_dict(), "generator": self.generator.get_state(),
                 "steps_done": self.steps_done, "wall": self.wall, "status": self.status}
        if self.problem.unknowns:
            state["unknowns"] = self.unknowns.state_dict()
        if any(self.sampler.blocked):
            state["sampler"] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.problem.unknowns:
            if not isinstance(state.get("unknowns"), dict):
                raise ValueError("no state of the unknown coefficients")
            self.unknowns.load_state_dict(state["unknowns"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.weighting.load_state_dict(state["weighting"])
        self.generator.set_state(state["generator"])
        self.sampler.load_state_dict(state.get("sampler"))
        self.steps_done = int(state["steps_done"])
        self.wall = float(state["wall"])
        self.status = str(state["status"])
        if self.status == "running" or (self.status == "finished" and self.steps_done < self.config.steps):
            self.status = "paused"  # interrupted, or extended by ``pinn resume --steps``
