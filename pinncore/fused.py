"""Compiled training steps that leave the autograd engine out of the loop (``compile=True``).

torch.compile traces a whole step as ONE graph, the same for every kind of step: each term's loss L_t from a
forward pass of its own points (forward-mode jets, ``derivatives.joint``), its parameter gradient by
``torch.func.grad`` (reverse mode traced into the graph, so no autograd tape is built at run time), the
weighted gradient sum_t lambda_t grad L_t and Adam's update of the parameters and moments in place. The terms'
points are disjoint, so separate forward passes cost the FLOPs of a joint one, and the per-term gradients come
at the price of one backward pass: the graph returns them on every step.

The weights are an input, so every weighting of a setup shares this graph: M1 and M2 compile one graph, M3 and
M4 another (a fixed weighting used a graph of its own, with one backward pass of sum_t lambda_t L_t: measured
within the timing noise of this one, 1-4 %, on Helmholtz M1 and M3, and it doubled the default compare's cold
compiles). Gradient snapshots of a fixed weighting take their per-term gradients from the graph too.

* ``step``: an ordinary step, the update applied;
* ``term_grads``: the steps that update the weights or take a gradient snapshot call the same graph with the
  update switched off (a tensor flag, so no second graph is compiled) and get L_t and every grad L_t; the
  trainer then applies Adam to sum_t lambda_t grad L_t with the optimizer itself.

Adam here is ``torch.optim.Adam``'s algorithm (no weight decay, no amsgrad) on the optimizer's own state
(``exp_avg``, ``exp_avg_sq``, ``step``), so both kinds of step, checkpoints and resumption share one optimizer,
and results match the eager path to float round-off. A step whose loss or gradient is not finite changes
nothing (``torch.where`` on the update) and reports it. Where compilation is unavailable, the calls return
None and the trainer runs eager (``Compiled`` says so once).
"""
from __future__ import annotations

import os
import time
import warnings

import torch
from torch import Tensor, nn

from .derivatives import joint, joint_plan
from .unknowns import UnknownValues


class Compiled:
    """torch.compile of ``fn``, falling back (and saying so once per process) where compilation or its first run
    fails: no C++ compiler, an unsupported platform, a torch build without inductor. Calls then return None."""

    warned = False

    def __init__(self, fn, options: dict | None = None):
        self.failed = False
        try:
            import torch._dynamo

            # a graph is traced per problem setup (constants such as a2 are baked in); past the limit (8 by
            # default) dynamo would silently run eager, e.g. in a sweep worker that trains many setups
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            # Python floats (a problem's constants, the input std) are baked in: traced as symbolic floats,
            # inductor would specialise them anyway and restart the whole trace (each compile traced twice)
            torch._dynamo.config.specialize_float = True
            self.compiled = torch.compile(fn, dynamic=False, options=options)
        except Exception as exc:  # noqa: BLE001 - any failure means: run eager
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        if not Compiled.warned:
            Compiled.warned = True
            warnings.warn(f"torch.compile is unavailable here ({type(exc).__name__}: {str(exc)[:200]}); "
                          "training continues without it", RuntimeWarning, stacklevel=4)

    seconds: float | None = None  # how long the first call took: compiling (cold or from inductor's cache) and one run

    def __call__(self, *args):
        if self.failed:
            return None
        t0 = time.perf_counter()
        try:
            out = self.compiled(*args)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return None
        if self.seconds is None:
            self.seconds = time.perf_counter() - t0
        return out


def compile_options(params) -> dict:
    """Inductor options for the step graph.

    * ``realize_opcount_threshold`` 20 (inductor's default: 30): an elementwise result read by several kernels
      is stored once when its formula has more than 20 operations, instead of being recomputed inside every
      kernel that reads it. The compiled tanh (``jets.tanh``, about 25 operations) is read by the jets of every
      order and by the backward pass; recomputed, it made the modified MLP's backward kernels 2.5x longer and
      its cold compile 1.8x (52 against 29 s). Measured, 5 processes each, 1 thread, medians of steps/s against
      the default with SLEEF's tanh: Helmholtz M1 1,024 -> 1,114, M3 593 -> 631, M4 615 -> 643; cavity M1
      486 -> 498, M4 158 -> 196.
    * On CPU, ``cpp_wrapper``: the graph's kernels and the code that calls them become one C++ module, so a
      step makes one call instead of one Python call per kernel and matrix product (measured, Helmholtz M4:
      1.4x the steps/s), and compiling runs the C++ compiler on a few files instead of one per kernel (about
      20 % less compile time). ``PINNCORE_CPP_WRAPPER=0`` turns it off."""
    options = {"realize_opcount_threshold": 20}
    if os.environ.get("PINNCORE_CPP_WRAPPER", "1") != "0" and all(p.device.type == "cpu" for p in params):
        options["cpp_wrapper"] = True
    return options


class TermLosses(nn.Module):
    """The unweighted losses L_t of a problem's terms as a module of the network: ``forward(*points)`` (one
    tensor of points per term) returns them stacked, from one forward pass (``derivatives.joint``).

    The problem's unknown coefficients are parameters of this module (``unknowns.raw.<name>``), next to the
    network's (``model.*``): the optimiser, the compiled step and the checkpoint carry them alike."""

    def __init__(self, model: nn.Module, terms, inputs: tuple[str, ...], method: str, unknowns=()):
        super().__init__()
        self.model, self.terms, self.inputs, self.method = model, tuple(terms), inputs, method
        self.unknowns = UnknownValues(tuple(unknowns))
        self._reads = any(t.unknowns for t in self.terms)
        # the jet plans, built here: a plan created while tracing would mutate the cache and retrace the graph
        joint_plan([t.needs for t in self.terms], inputs)
        for t in self.terms:
            joint_plan([t.needs], inputs)

    def forward(self, *points: Tensor, term: int | None = None) -> Tensor:
        """The stacked losses at ``points`` (one tensor per term); with ``term``, that term's loss alone from
        its own forward pass (``points``: its points only)."""
        values = self.unknowns() if self._reads else None
        if term is not None:
            t = self.terms[term]
            x, extra = t.split(points[0])
            d = joint(self.model, [(x, t.needs)], self.inputs, self.method)[0]
            return t.loss_of(t.attach(d, extra, values))
        split = [t.split(p) for t, p in zip(self.terms, points)]
        ds = joint(self.model, [(x, t.needs) for t, (x, _) in zip(self.terms, split)], self.inputs, self.method)
        return torch.stack([t.loss_of(t.attach(d, extra, values))
                            for t, d, (_, extra) in zip(self.terms, ds, split)])


class FusedTraining:
    """The two compiled graphs of one trainer. ``losses``: a module whose ``forward(*points)`` returns the stacked
    unweighted losses (``TermLosses``); ``optimizer``: the ``torch.optim.Adam`` over its parameters, whose state
    the compiled step reads and updates in place."""

    def __init__(self, losses: nn.Module, optimizer: torch.optim.Optimizer):
        self.module = losses
        named = dict(losses.named_parameters())
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        by_id = {id(p): n for n, p in named.items()}
        self.names = [by_id[id(p)] for p in self.params]
        self.views = [p.detach() for p in self.params]  # the same storage, updated in place by the graph
        self.optimizer = optimizer
        group = optimizer.param_groups[0]
        if group.get("weight_decay", 0) or group.get("amsgrad") or group.get("maximize"):
            raise ValueError("the fused step implements plain Adam only")
        self.beta1, self.beta2 = group["betas"]
        self.eps = group["eps"]
        self._graph = Compiled(self._graph_fn, compile_options(self.params))
        # the graph's small inputs, made once and refilled (a new tensor per step costs more than the fill)
        self._flags = (torch.tensor(False), torch.tensor(True))
        self._lr = torch.zeros(1, dtype=torch.float64)  # (1,): a 0-d input would be traced as a Python float
        self._state_lists = None  # the optimizer's state tensors, as ``_state`` found them

    @property
    def failed(self) -> bool:
        return self._graph.failed

    @property
    def compile_seconds(self) -> float | None:
        """Seconds the first compiled call took (tracing, compiling or loading from inductor's cache, one step);
        None before it, or when compilation failed."""
        return None if self._graph.failed else self._graph.seconds

    # -- calls ------------------------------------------------------------------------------------------------
    def step(self, points: list[Tensor], lam: Tensor, lr: float) -> tuple[Tensor, bool] | None:
        """One Adam step on sum_t lam[t] L_t at these points; returns (L, finite) or None (not compiled).
        When ``finite`` is False the parameters and the optimizer state are unchanged."""
        out = self._run(points, lam, lr, True)
        if out is None:
            return None
        return out[0], bool(out[-1])

    def term_grads(self, points: list[Tensor]) -> tuple[Tensor, tuple[Tensor, ...]] | None:
        """(L, J): the unweighted losses (n_terms,) and, per parameter, the stacked gradients (n_terms, *shape)
        of every term; nothing is updated. None when not compiled."""
        lam = torch.ones(len(points), dtype=points[0].dtype, device=points[0].device)
        out = self._run(points, lam, 0.0, False)
        return None if out is None else out[:2]

    def _run(self, points, lam, lr, apply: bool):
        exp_avg, exp_avg_sq, count = self._state()
        self._lr.fill_(lr)
        return self._graph(self.views, exp_avg, exp_avg_sq, count, lam, self._lr, self._flags[apply], *points)

    # -- the graph --------------------------------------------------------------------------------------------
    def _graph_fn(self, params, exp_avg, exp_avg_sq, count, lam, lr, apply, *points):
        with torch.no_grad():  # (not as a decorator: the graph keeps a code object, and a cache, of its own)
            losses, per_term = [], []
            for i, x in enumerate(points):
                def term_loss(p, i=i, x=x):
                    loss = torch.func.functional_call(self.module, dict(zip(self.names, p)), (x,), {"term": i})
                    return loss, loss
                g, loss = torch.func.grad(term_loss, has_aux=True)(tuple(params))
                losses.append(loss)
                per_term.append(g)
            loss = torch.stack(losses)
            jac = tuple(torch.stack(gs) for gs in zip(*per_term))
            grads = [sum(lam[i] * g[i] for i in range(len(points))) for g in jac]
            ok = self._adam(params, exp_avg, exp_avg_sq, count, grads, loss, lr, apply)
            return loss, jac, ok

    def _adam(self, params, exp_avg, exp_avg_sq, count, grads, loss, lr, apply):
        norm = torch.stack([g.square().sum() for g in grads]).sum()
        ok = torch.isfinite(norm) & torch.isfinite(loss).all()
        go = ok & apply
        b1, b2 = self.beta1, self.beta2
        for p, g, m, v, c in zip(params, grads, exp_avg, exp_avg_sq, count):
            # torch.optim.Adam (_single_tensor_adam), scalars in float64
            k = c.to(torch.float64) + 1
            step_size = lr[0] / (1 - b1 ** k)
            bias2_sqrt = (1 - b2 ** k).sqrt()
            m_new = m.lerp(g, 1 - b1)
            v_new = v * b2 + g * g * (1 - b2)
            p_new = p - (step_size * m_new / ((v_new.sqrt() / bias2_sqrt) + self.eps)).to(p.dtype)
            p.copy_(torch.where(go, p_new, p))
            m.copy_(torch.where(go, m_new, m))
            v.copy_(torch.where(go, v_new, v))
            c.copy_(torch.where(go, c + 1, c))
        return ok

    def _state(self) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """The optimizer's per-parameter state, created as ``torch.optim.Adam`` creates it on its first step (the
        lists are kept while the state holds the same tensors: ``load_state_dict`` replaces them)."""
        cached = self._state_lists
        if cached is not None and self.optimizer.state.get(self.params[0], {}).get("exp_avg") is cached[0][0]:
            return cached
        self._state_lists = self._make_state()
        return self._state_lists

    def _make_state(self) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        fused = bool(self.optimizer.param_groups[0].get("fused"))
        exp_avg, exp_avg_sq, count = [], [], []
        for p in self.params:
            s = self.optimizer.state[p]
            if not s:
                scalar = torch.float32 if fused or torch.get_default_dtype() != torch.float64 else torch.float64
                s["step"] = torch.zeros((), dtype=scalar, device=p.device if fused else "cpu")
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            exp_avg.append(s["exp_avg"])
            exp_avg_sq.append(s["exp_avg_sq"])
            count.append(s["step"])
        return exp_avg, exp_avg_sq, count
