"""Speed of `camel-affine-meta`: (1) forward+backward of CAMEL's multi-task prediction (features and
the per-environment weight table, batch 256) against the single-model MLP of the same body, the
obvious alternative, at 1 thread and at the default thread count; (2) adaptation to one new
environment from 10 support points: CAMEL's closed-form least squares against ANIL's 5 gradient
steps on its head. Interleaved rounds, medians.

    zoo reproduce camel-affine-meta --part perf
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

from .baselines import ANIL, SingleModel

BATCH, ENVS, SHOTS, HIDDEN, LAYERS = 256, 20, 10, 32, 2


def reproduce(run: Run) -> None:
    rounds = run.pick(50, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    camel = zoo.create("camel-affine-meta", environments=ENVS, hidden_dim=HIDDEN, hidden_layers=LAYERS)
    single = SingleModel(2, 1, HIDDEN, LAYERS)
    anil = ANIL(2, 1, HIDDEN, LAYERS, inner_steps=5, inner_lr=0.1)
    x, env, y = torch.randn(BATCH, 2), torch.randint(0, ENVS, (BATCH,)), torch.randn(BATCH, 1)
    sx, sy = torch.randn(SHOTS, 2), torch.randn(SHOTS, 1)

    def step(model, *inputs) -> float:
        model.zero_grad(set_to_none=True)
        return seconds(lambda: F.mse_loss(model(*inputs), y).backward())

    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({
            "CAMEL fwd+bwd": lambda: step(camel, x, env), "single MLP fwd+bwd": lambda: step(single, x),
            "CAMEL adaptation (least squares)": lambda: seconds(lambda: camel.adapt(sx, sy).detach()),
            "ANIL adaptation (5 gradient steps)": lambda: seconds(lambda: anil.adapt(sx[None], sy[None]))}, rounds))
        results[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    one = results[1]
    ratio = one["CAMEL fwd+bwd"] / one["single MLP fwd+bwd"]
    adapt_ratio = one["ANIL adaptation (5 gradient steps)"] / one["CAMEL adaptation (least squares)"]
    summary = (f"1 thread: CAMEL forward+backward (batch {BATCH}) {one['CAMEL fwd+bwd']:.3f} ms against "
               f"{one['single MLP fwd+bwd']:.3f} ms for the single MLP of the same body ({ratio:.2f}x); adapting to a new "
               f"environment from {SHOTS} points takes {one['CAMEL adaptation (least squares)']:.3f} ms by least squares "
               f"against {one['ANIL adaptation (5 gradient steps)']:.3f} ms for ANIL's 5 gradient steps ({adapt_ratio:.1f}x "
               f"faster). Shared 2-core machine: absolute times are loose.")
    print(summary)
    run.record("perf", claim="CAMEL costs about what an MLP of the same body costs per training step, and adapts to a "
                             "new environment faster than gradient-based meta-learning (closed form).",
               verdict="measured", summary=summary,
               setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads; MLP body 2 x {HIDDEN} "
                     f"tanh, r = 2, {ENVS} environments.",
               table={"columns": ["threads", "what", "median ms"],
                      "rows": [[t, k, f"{v:.3f}"] for t, d in results.items() for k, v in d.items()]},
               data={"ms": {str(k): v for k, v in results.items()}, "fwd_bwd_ratio": ratio, "adapt_speedup": adapt_ratio})
