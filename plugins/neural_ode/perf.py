"""Speed of `neural-ode`: forward+backward of the default ODE-Net (64 channels, dopri5, tolerance
1e-3, adjoint) on 8x8 digits-sized inputs, batch 64, against the same network written directly
with torchdiffeq.odeint_adjoint (the plain-PyTorch way to use the authors' solver library), same
weights, interleaved. For context (not a ratio the plugin is held to) it also times the paper's
ResNet baseline, whose 6 discrete blocks cost far fewer function evaluations than an adaptive solve.

    zoo reproduce neural-ode --part perf
"""

from __future__ import annotations

import statistics
import time

import torch
from torchdiffeq import odeint_adjoint

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved

BATCH = 64


def direct(model, x):
    """The same computation as ODENet.forward, written against torchdiffeq by hand."""
    h = model.stem(x)
    h = odeint_adjoint(model.features.func, h, torch.tensor([0.0, 1.0]), rtol=1e-3, atol=1e-3, method="dopri5")[-1]
    return model.head(h)


def step(fn, x, y) -> float:
    start = time.perf_counter()
    torch.nn.functional.cross_entropy(fn(x), y).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(7, 1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ours = zoo.create("neural-ode", downsample_steps=1)
    resnet = zoo.create("neural-ode", downsample_steps=1, block="resnet")
    x, y = torch.rand(BATCH, 1, 8, 8), torch.randint(0, 10, (BATCH,))
    times = interleaved({
        "zoo": lambda: step(ours, x, y),
        "reference": lambda: step(lambda v: direct(ours, v), x, y),
        "resnet": lambda: step(resnet, x, y),
    }, rounds, warmup=run.pick(2, 1))
    a, b, r = times["zoo"], times["reference"], times["resnet"]
    ratio = statistics.median(a) / statistics.median(b)
    resnet_ratio = statistics.median(a) / statistics.median(r)
    summary = (f"ODE-Net forward+backward (adjoint, tol 1e-3), batch {BATCH}: zoo {statistics.median(a) * 1e3:.0f} ms, "
               f"torchdiffeq by hand {statistics.median(b) * 1e3:.0f} ms; ratio {ratio:.2f}. The ResNet baseline "
               f"takes {statistics.median(r) * 1e3:.0f} ms ({resnet_ratio:.1f}x faster than the ODE-Net): an adaptive "
               "solve evaluates the block's function many more times than 6 residual blocks do, the cost the paper "
               "trades for constant memory and adaptive precision.")
    run.record("perf", claim="forward+backward at most 1.2x slower than a plain PyTorch reference",
               verdict="measured", summary=summary, setup=f"CPU, 1 thread, {rounds} interleaved rounds, medians",
               table={"columns": ["implementation", "median ms"],
                      "rows": [["zoo neural-ode (adjoint)", round(statistics.median(a) * 1e3, 1)],
                               ["torchdiffeq.odeint_adjoint by hand", round(statistics.median(b) * 1e3, 1)],
                               ["ResNet baseline (6 blocks, context)", round(statistics.median(r) * 1e3, 1)]]},
               data={"ratio": ratio, "resnet_ratio": resnet_ratio, "ours_s": a, "reference_s": b, "resnet_s": r})
    print(summary)
