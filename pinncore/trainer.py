"""A step-wise trainer: ``Trainer.step(n)`` advances n optimizer steps and returns the records produced.

One step (paper protocol, Algorithm 1 order):
  1. draw fresh uniform points for every term's boxes, compute the unweighted losses L_t (the residual's
     input derivatives by forward-mode jets, or nested autograd with ``derivatives="autograd"``);
  2. if the weighting is due, update lambda from the per-term gradients (before the step, same minibatch);
  3. apply Adam to sum_t lambda_t L_t with lr = lr0 * decay_rate ** (step / decay_steps).
Per-term gradients are computed only where they are needed: on weighting updates (then the step uses
sum_t lambda_t grad L_t) and for gradient snapshots (an extra backward pass that the update does not use, so
diagnostic cadences never change the trajectory). Other steps back-propagate sum_t lambda_t L_t once. Where they
exist, the alignment score of the terms' gradients is recorded (``pinncore.alignment``). NTK weights are updated
from the terms' kernel traces on the step's batch (``pinncore.kernels``), and every gradient snapshot records the
traces and the kernel spectra of any run. Causal weights (``config.causal``) reweight the residual's points along t
inside its loss (``pinncore.weighting.causal``) and are recorded every ``causal_every`` steps.
With ``compile=True`` each step is one compiled graph instead (``pinncore.fused``: losses, gradient and Adam,
or the per-term gradients on update and snapshot steps); results agree with eager to float round-off.
A non-finite loss or gradient stops the run with status ``diverged at step k`` before any update is applied.
"""
from __future__ import annotations

import math
import time
import warnings

import torch

from .config import RunConfig
from .keys import LATER_FIELDS, OPTIMISER_RUN, PER_RUN, WEIGHTING, build_key  # noqa: F401 (re-exported)
from .status import completed, ended  # noqa: F401 (re-exported)
from .derivatives import joint_plan
from .alignment import alignment_record
from .errors import ConfigError
from .evaluation import Evaluation
from .fused import FusedTraining, TermLosses
from .kernels import KernelProbe
from .models import model_for
from .optim import LbfgsPhase, optimiser_of, warning_of
from .problems.base import Term
from .records import CausalRecord, Record, StepRecord
from .sampling import Sampler
from .snapshots import Snapshots
from .weighting import Causal, weighting_for

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", f"'{name}' requested but CUDA is not available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError("device", f"must be 'cpu' or 'cuda[:N]', got {name!r}") from None


class Trainer(Snapshots, Evaluation):
    def __init__(self, config: RunConfig):
        self.config = config.validated()
        c = self.config
        self.device = resolve_device(c.device)
        self.dtype = DTYPES[c.dtype]
        self.problem = c.make_problem()
        self.terms = self.problem.terms()
        self.causal = (Causal(self.problem, self.terms, c.batch, c.causal_chunks, c.causal_eps, c.causal_schedule)
                       if c.causal else None)
        if self.causal is not None:
            self.terms = self.causal.terms  # the residual's loss reweighted along t
        self.term_names = tuple(t.name for t in self.terms)
        self.model = model_for(c, self.problem)  # a spec's periodic inputs (periodic_mode "embedding"): embedded
        self.model.to(device=self.device, dtype=self.dtype)
        self.loss_module = TermLosses(self.model, self.terms, self.problem.inputs, c.derivatives,
                                      self.problem.unknowns)
        self.unknowns = self.loss_module.unknowns.to(device=self.device, dtype=self.dtype)
        self.param_names = [n for n, _ in self.model.named_parameters()]  # the network's (weightings read these)
        # the network's parameters, then the unknown coefficients' raw parameters (trained alike)
        self.params = list(self.model.parameters()) + list(self.unknowns.parameters())
        self.layers = self.model.layer_weights()  # the histograms' layers; the annealing reads the matrices:
        self._matrices = set(self.model.weight_matrices())
        self._layer_index = [next(i for i, p in enumerate(self.params) if p is w) for w in self.layers.values()]
        self.optimiser = optimiser_of(c)  # the registered optimiser; ``optimizer``: the torch one it steps from step 0
        self.optimizer = self.optimiser.make(self.params, c)
        self.lbfgs: LbfgsPhase | None = None  # adam+lbfgs, from the switch on (``pinncore.optim.lbfgs``)
        self.weighting = self._new_weighting(c)
        self.generator = torch.Generator().manual_seed(c.seed)
        self._boxes = self._box_sampler()  # all terms boxes: one draw per step; else the sampler's blocks
        self.sampler = Sampler(self.terms, c.batch, self.dtype, self.device)
        self._lam = None  # (weights, their tensor) for the compiled step
        if c.compile:  # build the jet plan outside the compiled region, so tracing finds it cached
            joint_plan([t.needs for t in self.terms], self.problem.inputs)
        self._fused = (FusedTraining(self.loss_module, self.optimizer) if c.compile and self.optimiser.compiles
                       else None)
        self.kernels = KernelProbe(self.model, self.terms, self.problem.inputs,
                                   compiled=c.compile and self.weighting.needs == "kernel",
                                   unknowns=self.unknowns if self.problem.unknowns else None)
        self.steps_done = 0
        self.wall = 0.0
        self.status = "ready"
        self._evaluation(c.eval_points)

    def _new_weighting(self, c: RunConfig):
        """The weighting of ``c`` (each reads its own fields: ``Weighting.config_kwargs``)."""
        return weighting_for(c, self.term_names)

    # -- public -----------------------------------------------------------------------------------------------
    @property
    def compile_seconds(self) -> float | None:
        """With ``compile=True``: the seconds the first compiled step took (compilation included, once per run,
        for a progress line to show); None before it, without compilation, or where it fell back to eager."""
        if self._fused is None or self._fused.compile_seconds is None:
            return None
        return self._fused.compile_seconds + self.kernels.compile_seconds  # NTK weights: the traces' graph too

    @property
    def done(self) -> bool:
        return ended(self.status)

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
            switch = self.lbfgs is None and c.optimizer == "adam+lbfgs" and k >= c.lbfgs_after
            if switch:
                self._switch()
            if c.eval_every and k % c.eval_every == 0:
                records.append(self.evaluate())
            if c.hessian_every and (k % c.hessian_every == 0 or switch):  # the curvature at the switch, too
                records.append(self.stiffness())
            known = self.unknown_values()  # the values the step's losses are measured at
            rec = self._one_step(k, records) if self.lbfgs is None else self._lbfgs_step(k, records)
            self.wall += time.perf_counter() - t0
            if rec is None:
                self.status = f"diverged at step {k}"
                return records
            records.append(StepRecord(k, rec[0], rec[1], rec[2], self.wall, known))
            self.steps_done = k + 1
            if self.lbfgs is not None and rec[2] == 0.0:
                return self._end(records, f"stalled at step {k}: L-BFGS's line search found no lower loss "
                                          f"(loss {sum(rec[1][n] * v for n, v in rec[0].items()):.3e})")
        if self.steps_done >= c.steps:
            return self._end(records, "finished")
        return records

    def _end(self, records: list[Record], status: str) -> list[Record]:
        """The run ends: a last evaluation (and, after L-BFGS, the curvature where it ended), and the status that
        says how."""
        t0 = time.perf_counter()
        if self.lbfgs is not None and self.config.hessian_every:
            records.append(self.stiffness())
        records.append(self.evaluate())
        self.wall += time.perf_counter() - t0
        self.status = status
        return records

    def _switch(self) -> None:
        """adam+lbfgs at ``lbfgs_after``: L-BFGS on its fixed batch from now on, the weights frozen."""
        self.lbfgs = LbfgsPhase(self)
        if warning_of(self.config):
            warnings.warn(warning_of(self.config), RuntimeWarning, stacklevel=3)

    def _lbfgs_step(self, k: int, records: list[Record]):
        """One L-BFGS iteration (``LbfgsPhase.iterate``), after the gradient snapshot due at this step (on the
        fixed batch); (losses, weights, step length) or None where it met a non-finite value."""
        c, points = self.config, self.lbfgs.points
        if c.grad_every and (k % c.grad_every == 0 or k == c.steps - 1):
            losses = dict(zip(self.term_names, self.loss_module(*points)))
            per_term = self._per_term_grads(losses, retain=False)
            records.append(self._snapshot(k, per_term))
            records.extend(self._kernel_snapshot(k, points))
            records.append(alignment_record(k, per_term, dict(zip(self.layers, self._layer_index))))
        out = self.lbfgs.iterate()
        return None if out is None else (out[0], dict(self.weighting.lambdas), out[1])

    def unknown_values(self) -> dict[str, float]:
        """The unknown coefficients' current values (empty without unknowns)."""
        return self.unknowns.current() if self.problem.unknowns else {}

    def losses(self, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Unweighted losses on a fresh minibatch (advances the given, by default the training, generator), eager.
        The terms share one forward pass: back-propagate each with ``retain_graph=True`` but the last."""
        return dict(zip(self.term_names, self.loss_module(*self._sample(generator or self.generator))))

    def _sample(self, generator: torch.Generator) -> list[torch.Tensor]:
        """Every term's fresh points (``Term.sample``'s numbers: one draw for all the terms' boxes gives the same
        sequence as a draw per term, with three operations a step instead of three per term)."""
        if self._boxes is None:
            return [t.sample(self.config.batch, generator, self.dtype).to(self.device) for t in self.terms]
        lo, span, sizes, shapes = self._boxes
        r = torch.rand(lo.shape, generator=generator, dtype=torch.float64)
        flat = torch.addcmul(lo, span, r).to(self.dtype)
        return [p.view(shape).to(self.device) for p, shape in zip(flat.split(sizes), shapes)]

    def _box_sampler(self):
        """(lo, span, sizes, shapes) laid out as ``Term.sample`` draws each term's points, all terms in a row;
        None where a term samples otherwise."""
        if not all(hasattr(t, "_lo") and type(t).sample is Term.sample for t in self.terms):
            return None
        b = self.config.batch
        lo = [t._lo.expand(-1, b, -1).reshape(-1) for t in self.terms]
        span = [t._span.expand(-1, b, -1).reshape(-1) for t in self.terms]
        shapes = [(t._lo.shape[0] * b, t._lo.shape[2]) for t in self.terms]
        return torch.cat(lo), torch.cat(span), [x.numel() for x in lo], shapes

    # -- internals --------------------------------------------------------------------------------------------
    def _one_step(self, k: int, records: list[Record]):
        c, w, names = self.config, self.weighting, self.term_names
        due, snapshot = w.due(k), c.grad_every and (k % c.grad_every == 0 or k == c.steps - 1)
        lr = self.lr_at(k)
        points = self._sample(self.generator) if self._boxes is not None else self.sampler.draw(self.generator)
        previous = w.state_dict()
        observed = None
        if self.causal is not None and k % c.causal_every == 0:
            observed = CausalRecord(k, *self.causal.observe(self.model, points[self.causal.index], c.derivatives))
            records.append(observed)
        if due and w.needs == "kernel":  # NTK weights from this batch's kernel traces, before the step
            records.append(self._kernel_traces(k, points))
            w.update(records[-1].traces)
        due = due and w.per_term_gradients  # from here on: an update from the per-term gradients
        kind, values, got = self._compiled(points, due or snapshot, lr)
        if kind == "taken":  # the whole step, compiled (``got``: whether its values were finite)
            return self._after(values, lr, observed) if got else self._undo(previous)
        per_term, losses = got, None  # the compiled per-term gradients, or None: eager
        if per_term is None:  # eager: one forward pass, autograd
            loss = self.loss_module(*points)
            losses, values = dict(zip(names, loss)), dict(zip(names, loss.tolist()))
        if not all(math.isfinite(v) for v in values.values()):
            return self._undo(previous)
        if (due or snapshot) and per_term is None:
            per_term = self._per_term_grads(losses, retain=snapshot and not due)
        if due:
            if w.needs == "all":
                w.update({t: dict(zip(self.param_names, gs)) for t, gs in per_term.items()})
            else:
                w.update({t: {name: gs[i] for name, i in zip(self.layers, self._layer_index) if name in self._matrices}
                          for t, gs in per_term.items()})
        lam = w.lambdas
        if due or losses is None:  # the per-term gradients are at hand
            grads = [sum(lam[t] * per_term[t][i] for t in self.term_names) for i in range(len(self.params))]
        else:
            total = sum(lam[t] * L for t, L in losses.items())
            grads = self._fill(torch.autograd.grad(total, self.params, allow_unused=True))
        if not math.isfinite(torch.nn.utils.get_total_norm(grads).item()):
            return self._undo(previous)
        for p, g in zip(self.params, grads):
            p.grad = g
        if snapshot:
            records.append(self._snapshot(k, per_term))
            records.extend(self._kernel_snapshot(k, points))
        if due or snapshot:
            records.append(alignment_record(k, per_term, dict(zip(self.layers, self._layer_index))))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return self._after(values, lr, observed)

    def _compiled(self, points, per_term: bool, lr: float) -> tuple[str, dict, object]:
        """The compiled step, where there is one: ("taken", losses, finite) once it took the whole step
        (``per_term`` False), ("grads", losses, per-term gradients) for the caller to finish the step, or
        ("eager", {}, None): train eagerly."""
        fused = self._fused if self._fused is not None and not self._fused.failed else None
        names = self.term_names
        if fused is not None and not per_term:
            out = fused.step(points, self._lambda_tensor(), lr)
            if out is not None:
                return "taken", dict(zip(names, out[0].tolist())), out[1]
        elif fused is not None:
            out = fused.term_grads(points)
            if out is not None:
                loss, jac = out
                return "grads", dict(zip(names, loss.tolist())), {t: [g[i] for g in jac] for i, t in enumerate(names)}
        return "eager", {}, None

    def _after(self, values: dict, lr: float, observed: CausalRecord | None):
        """A step was taken: the causal schedule looks at the weights recorded before it (if any)."""
        if observed is not None:
            self.causal.raise_eps(observed.weights)
        return values, dict(self.weighting.lambdas), lr

    def _undo(self, previous: dict) -> None:
        """A step found a non-finite value: the weights go back to what they were before it (nothing else had
        changed), and the caller stops the run as diverged."""
        self.weighting.load_state_dict(previous)

    def _lambda_tensor(self) -> torch.Tensor:
        """The weights as the compiled step takes them, made again only when they change."""
        lam = tuple(self.weighting.lambdas[t] for t in self.term_names)
        if self._lam is None or self._lam[0] != lam:
            self._lam = (lam, torch.tensor(lam, dtype=self.dtype, device=self.device))
        return self._lam[1]

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

    # -- state ------------------------------------------------------------------------------------------------
    def rebind(self, config: RunConfig) -> None:
        """Train under ``config`` from now on, a config of the same ``build_key`` (ConfigError otherwise), with a
        weighting built afresh if the config's differs; the run's state comes with ``load_state_dict``. Re-uses a
        compiled step for another run of the same setup, whatever its weighting."""
        config = config.validated()
        if build_key(config) != build_key(self.config):
            raise ConfigError("config", "differs from the trainer's in more than steps, seed, lr schedule, "
                                        "weighting and diagnostic cadences: build a new trainer")
        if any(getattr(config, k) != getattr(self.config, k) for k in WEIGHTING):
            self.weighting = self._new_weighting(config)
            self._lam = None
            # NTK weights compute their kernel traces with a compiled graph of their own where the step compiles
            self.kernels.compiled = config.compile and self.weighting.needs == "kernel"
        self.config = config

    def state_dict(self) -> dict:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 **({"lbfgs": self.lbfgs.optimizer.state_dict()} if self.lbfgs is not None else {}),
                 "weighting": self.weighting.state_dict(), "generator": self.generator.get_state(),
                 "steps_done": self.steps_done, "wall": self.wall, "status": self.status}
        if self.causal is not None:
            state["causal"] = self.causal.state_dict()
        if self.problem.unknowns:
            state["unknowns"] = self.unknowns.state_dict()
        if any(self.sampler.blocked):
            state["sampler"] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if self.causal is not None and "causal" in state:
            self.causal.load_state_dict(state["causal"])
        self.model.load_state_dict(state["model"])
        if self.problem.unknowns:
            if not isinstance(state.get("unknowns"), dict):
                raise ValueError("no state of the unknown coefficients")
            self.unknowns.load_state_dict(state["unknowns"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lbfgs = None
        if "lbfgs" in state:  # taken during the L-BFGS phase: its memory and last step go on
            self.lbfgs = LbfgsPhase(self)
            self.lbfgs.optimizer.load_state_dict(state["lbfgs"])
        self.weighting.load_state_dict(state["weighting"])
        self.generator.set_state(state["generator"])
        self.sampler.load_state_dict(state.get("sampler"))
        self.steps_done = int(state["steps_done"])
        self.wall = float(state["wall"])
        self.status = str(state["status"])
        if self.status == "running" or (self.status == "finished" and self.steps_done < self.config.steps):
            self.status = "paused"  # interrupted, or extended by ``pinn resume --steps``
