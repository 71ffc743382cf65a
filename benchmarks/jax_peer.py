"""The same training step in JAX, timed side by side with pinncore's compiled step: an honest peer.

    pip install -e ".[peer]"            # jax[cpu] and optax, never needed by the tests
    python benchmarks/jax_peer.py [--cases helmholtz:M1 helmholtz:M4 cavity:M1 cavity:M4] [--steps 1000]
                                  [--repeats 3] [--threads 1]

The peer is written as a JAX user would write it, from the paper's equations (not from pinncore):

* the networks: the tanh MLP [2, 50, 50, 50, out] and the paper's modified MLP (eq. 43-47: encoders U, V, a
  first layer H_1 and three 50 x 50 gates), Xavier-normal weights, zero biases, inputs standardised by the
  domain's mean and std;
* input derivatives by forward mode: nested ``jax.jvp`` along the coordinate directions on the whole batch
  (u_xx, u_yy for Helmholtz; the stream function's derivatives up to third order for the cavity), all in one
  ``jax.jit`` program, where XLA merges the repeated lower-order computations;
* the paper's protocol: 128 fresh uniform points per term and per edge every step (drawn inside the jitted step
  with ``jax.random``), Adam (``optax``) at lr 1e-3 * 0.9^(step / 1000), float32;
* M4 (and M2) anneal the boundary weight every 10 steps, step 0 included, as pinncore's default
  ``released-code`` variant does: lambda_hat = max over the trunk's weight matrices of |grad L_r| / mean over
  them of mean |grad (lambda L_b)|, lambda <- 0.9 lambda + 0.1 lambda_hat, from per-term gradients of the same
  minibatch; the other nine steps are one jitted step of the weighted loss.

Each case runs in one process of its own (so the thread settings hold): both sides are built and warmed up
(50 steps, compiling), then ``--repeats`` rounds time ``--steps`` steps of each side (to the last
``block_until_ready``), alternating which goes first, so that the machine's drift falls on both. The report gives the medians and the ratio pinncore / JAX (above 1: pinncore is faster). ``--threads N`` is each
side's intra-op threads: torch.set_num_threads(N); for XLA, N = 1 sets
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` and any other N leaves XLA its default
(a thread pool over every core).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

WARMUP = 50
CASES = ("helmholtz:M1", "helmholtz:M4", "cavity:M1", "cavity:M4")


# --------------------------------------------------------------------------------------------------- the peer
def jax_trainer(problem: str, method: str, seed: int = 0):
    """The peer's training loop for one case, warmed up (compiled): ``train(n)`` runs n more steps and waits
    for the result."""
    import jax
    import jax.numpy as jnp
    import optax

    modified, anneal = method in ("M3", "M4"), method in ("M2", "M4")
    width, depth = 50, 3
    if problem == "helmholtz":
        lo, hi, outs = -1.0, 1.0, 1
    else:
        lo, hi, outs = 0.0, 1.0, 2
    mean, std = (lo + hi) / 2, (hi - lo) / math.sqrt(12.0)

    def dense(key, fan_in, fan_out):
        w = jax.random.normal(key, (fan_in, fan_out)) * math.sqrt(2.0 / (fan_in + fan_out))
        return {"w": w, "b": jnp.zeros(fan_out)}

    keys = iter(jax.random.split(jax.random.PRNGKey(seed), 16))
    if modified:
        params = {"U": dense(next(keys), 2, width), "V": dense(next(keys), 2, width),
                  "first": dense(next(keys), 2, width),
                  "gates": [dense(next(keys), width, width) for _ in range(depth)],
                  "out": dense(next(keys), width, outs)}
        trunk = lambda p: [p["first"]["w"], *[g["w"] for g in p["gates"]], p["out"]["w"]]  # noqa: E731
    else:
        sizes = [2] + [width] * depth
        params = {"hidden": [dense(next(keys), a, b) for a, b in zip(sizes[:-1], sizes[1:])],
                  "out": dense(next(keys), width, outs)}
        trunk = lambda p: [*[h["w"] for h in p["hidden"]], p["out"]["w"]]  # noqa: E731

    def net(p, x):
        x = (x - mean) / std
        if modified:
            u, v = jnp.tanh(x @ p["U"]["w"] + p["U"]["b"]), jnp.tanh(x @ p["V"]["w"] + p["V"]["b"])
            h = jnp.tanh(x @ p["first"]["w"] + p["first"]["b"])
            for g in p["gates"]:
                z = jnp.tanh(h @ g["w"] + g["b"])
                h = u + z * (v - u)
        else:
            h = x
            for layer in p["hidden"]:
                h = jnp.tanh(h @ layer["w"] + layer["b"])
        return h @ p["out"]["w"] + p["out"]["b"]

    def along(f, e):
        """x -> the directional derivative of f along e at every row (forward mode)."""
        return lambda x: jax.jvp(f, (x,), (jnp.broadcast_to(e, x.shape),))[1]

    ex, ey = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])

    if problem == "helmholtz":
        a1, a2, lam_h = 1.0, 4.0, 1.0

        def exact(x):
            return jnp.sin(a1 * math.pi * x[:, :1]) * jnp.sin(a2 * math.pi * x[:, 1:2])

        def losses(p, pts):
            interior, edges = pts
            f = lambda x: net(p, x)  # noqa: E731
            u = f(interior)
            u_xx = along(along(f, ex), ex)(interior)
            u_yy = along(along(f, ey), ey)(interior)
            q = (lam_h - (a1**2 + a2**2) * math.pi**2) * exact(interior)
            res = jnp.mean((u_xx + u_yy + lam_h * u - q) ** 2)
            bc = jnp.sum(jnp.mean((f(edges) - exact(edges)) ** 2, axis=(1, 2)))
            return res, bc

        def sample(key):
            k1, k2 = jax.random.split(key)
            interior = jax.random.uniform(k1, (128, 2), minval=-1.0, maxval=1.0)
            t = jax.random.uniform(k2, (4, 128), minval=-1.0, maxval=1.0)
            one = jnp.ones((128,))
            edges = jnp.stack([jnp.stack([t[0], -one], 1), jnp.stack([one, t[1]], 1),
                               jnp.stack([t[2], one], 1), jnp.stack([-one, t[3]], 1)])
            return interior, edges
    else:
        re = 100.0

        def losses(p, pts):
            interior, walls = pts
            f = lambda x: net(p, x)  # noqa: E731
            fx, fy = along(f, ex), along(f, ey)
            fxx, fxy, fyy = along(fx, ex), along(fx, ey), along(fy, ey)
            d = {name: g(interior) for name, g in (
                ("x", fx), ("y", fy), ("xx", fxx), ("xy", fxy), ("yy", fyy), ("xxx", along(fxx, ex)),
                ("xxy", along(fxx, ey)), ("xyy", along(fxy, ey)), ("yyy", along(fyy, ey)))}
            psi = lambda k: d[k][:, 0:1]  # noqa: E731
            u, v = psi("y"), -psi("x")
            r_u = u * psi("xy") + v * psi("yy") + d["x"][:, 1:2] - (psi("xxy") + psi("yyy")) / re
            r_v = -u * psi("xx") - v * psi("xy") + d["y"][:, 1:2] + (psi("xxx") + psi("xyy")) / re
            res = jnp.mean(r_u**2 + r_v**2)
            flat = walls.reshape(-1, 2)
            uw, vw = fy(flat)[:, 0:1], -fx(flat)[:, 0:1]
            lid = (flat[:, 1:2] == 1.0).astype(uw.dtype)
            sq = ((uw - lid) ** 2 + vw**2) / 2
            bc = jnp.sum(jnp.mean(sq.reshape(4, 128), axis=1))
            return res, bc

        def sample(key):
            k1, k2 = jax.random.split(key)
            interior = jax.random.uniform(k1, (128, 2))
            t = jax.random.uniform(k2, (4, 128))
            one, zero = jnp.ones((128,)), jnp.zeros((128,))
            walls = jnp.stack([jnp.stack([t[0], one], 1), jnp.stack([t[1], zero], 1),
                               jnp.stack([zero, t[2]], 1), jnp.stack([one, t[3]], 1)])
            return interior, walls

    schedule = optax.exponential_decay(1e-3, transition_steps=1000, decay_rate=0.9)
    opt = optax.adam(schedule)

    @jax.jit
    def step(p, state, key, lam):
        key, sub = jax.random.split(key)
        pts = sample(sub)
        total = lambda q: (lambda r, b: r + lam * b)(*losses(q, pts))  # noqa: E731
        grads = jax.grad(total)(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state, key

    @jax.jit
    def anneal_step(p, state, key, lam):
        key, sub = jax.random.split(key)
        pts = sample(sub)
        g_r = jax.grad(lambda q: losses(q, pts)[0])(p)
        g_b = jax.grad(lambda q: losses(q, pts)[1])(p)
        top = jnp.max(jnp.stack([jnp.max(jnp.abs(w)) for w in trunk(g_r)]))
        mean = lam * jnp.mean(jnp.stack([jnp.mean(jnp.abs(w)) for w in trunk(g_b)]))
        lam = 0.9 * lam + 0.1 * top / mean
        grads = jax.tree_util.tree_map(lambda a, b: a + lam * b, g_r, g_b)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state, key, lam

    run = {"p": params, "s": opt.init(params), "key": jax.random.PRNGKey(seed + 1), "lam": jnp.float32(1.0),
           "k": 0}

    def train(n: int) -> None:
        p, s, key, lam, k0 = run["p"], run["s"], run["key"], run["lam"], run["k"]
        for k in range(k0, k0 + n):
            if anneal and k % 10 == 0:
                p, s, key, lam = anneal_step(p, s, key, lam)
            else:
                p, s, key = step(p, s, key, lam)
        jax.block_until_ready(p)
        run.update(p=p, s=s, key=key, lam=lam, k=k0 + n)

    train(WARMUP)
    return train


def pinncore_trainer(problem: str, method: str, total: int):
    """pinncore's compiled step for the same case (``pinn train --compile``'s trainer, no snapshots), warmed up."""
    from pinncore import RunConfig, Trainer

    config = RunConfig.from_method(method, problem=problem, steps=total + WARMUP, grad_every=0, eval_every=0,
                                   compile=True)
    trainer = Trainer(config)
    trainer.step(WARMUP)
    return trainer.step


# ------------------------------------------------------------------------------------------------- the driver
def worker(args) -> None:
    """One case in one process: both sides built and warmed up, then ``--repeats`` rounds of ``--steps`` timed
    steps each, alternating which side goes first, so that the machine's drift falls on both alike."""
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    import torch

    torch.set_num_threads(args.threads)
    sides = {"pinncore": pinncore_trainer(args.problem, args.method, args.steps * args.repeats),
             "jax": jax_trainer(args.problem, args.method)}
    for r in range(args.repeats):
        for side in (("pinncore", "jax") if r % 2 == 0 else ("jax", "pinncore")):
            t0 = time.perf_counter()
            sides[side](args.steps)
            rate = args.steps / (time.perf_counter() - t0)
            print(json.dumps({"side": side, "round": r + 1, "steps_per_s": rate}), flush=True)


def measure(case: str, steps: int, repeats: int, threads: int) -> dict[str, list[float]]:
    problem, method = case.split(":")
    cmd = [sys.executable, __file__, "--worker", "--problem", problem, "--method", method,
           "--steps", str(steps), "--repeats", str(repeats), "--threads", str(threads)]
    rates: dict[str, list[float]] = {"pinncore": [], "jax": []}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if line.startswith("{"):
                row = json.loads(line)
                rates[row["side"]].append(row["steps_per_s"])
                print(f"  {case:14} round {row['round']}: {row['side']:9} {row['steps_per_s']:8.1f} steps/s",
                      flush=True)
        err = proc.stderr.read()
    if proc.returncode:
        raise SystemExit(f"{case} failed: {err.strip().splitlines()[-1:]}")
    return rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), help="problem:method, default " + " ".join(CASES))
    p.add_argument("--steps", type=int, default=1000, help="timed steps per round and side")
    p.add_argument("--repeats", type=int, default=3, help="rounds per case (medians reported)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads of each side")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--problem", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    import jax
    import torch

    from pinncore.engine import cpu_model

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__}, jax {jax.__version__}; "
          f"{args.threads} intra-op thread(s) each side; per case one process, both sides compiled first, then "
          f"{args.repeats} rounds of {args.steps} steps each, alternating", flush=True)
    results = {case: measure(case, args.steps, args.repeats, args.threads) for case in args.cases}
    print("\nmedian steps/s, pinncore compiled / JAX jit")
    for case, rates in results.items():
        ours, peer = (statistics.median(rates[s]) for s in ("pinncore", "jax"))
        print(f"  {case:14} pinncore {ours:7.1f}  jax {peer:7.1f}  ratio {ours / peer:.2f}x")


if __name__ == "__main__":
    main()
