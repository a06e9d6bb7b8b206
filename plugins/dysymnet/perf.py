"""Speed of `dysymnet`: (1) forward+backward of a symbolic network (two layers, [identity, square,
mul] and [identity, sin, mul]) on 20 points against an MLP (tanh) of about the same parameter count,
the obvious neural alternative; (2) the cost of scoring one structure in the search (the constant fit:
Adam, pruning, L-BFGS) on Nguyen-1; at 1 thread and the default count. Interleaved rounds, medians.

    zoo reproduce dysymnet --part perf
"""

from __future__ import annotations

import time

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians


def reproduce(run: Run) -> None:
    from .model import fit_network
    from .task import NguyenTask

    rounds = run.pick(50, 3)
    fit_rounds = run.pick(5, 1)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    ours = zoo.create("dysymnet")
    params = sum(p.numel() for p in ours.parameters())
    mlp = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = NguyenTask("nguyen-1").splits()["train"].tensors
    measured = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"symbolic network": lambda: fwd_bwd_seconds(ours, ours, x),
                                   "MLP": lambda: fwd_bwd_seconds(mlp, mlp, x)}, rounds))
        measured[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(1)

    def one_fit() -> float:
        net = zoo.create("dysymnet", layers=[["identity", "square"], ["identity", "mul"]])
        start = time.perf_counter()
        fit_network(net, x, y)
        return time.perf_counter() - start

    fit_seconds = medians(interleaved({"fit": one_fit}, fit_rounds, warmup=0))["fit"]
    torch.set_num_threads(default_threads)
    ratios = {t: m["symbolic network"] / m["MLP"] for t, m in measured.items()}
    summary = ("Forward+backward on 20 points: " + "; ".join(
        f"{t} thread(s): symbolic network {m['symbolic network']:.3f} ms, MLP {m['MLP']:.3f} ms, ratio "
        f"{ratios[t]:.2f}x" for t, m in measured.items())
        + f" ({params} vs {sum(p.numel() for p in mlp.parameters())} parameters). Scoring one structure (200 Adam "
          f"steps, pruning, 30 L-BFGS iterations): {fit_seconds:.2f} s at 1 thread.")
    print(summary)
    run.record(
        "perf", claim="Cost of a symbolic network against an MLP of the same size, and of scoring one structure",
        verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds (fit: {fit_rounds}), medians; loss = mean square of the output; the "
              f"machine was shared, so absolute times are loose.",
        table={"columns": ["threads", "symbolic network (ms)", "MLP (ms)", "ratio"],
               "rows": [[t, f"{m['symbolic network']:.3f}", f"{m['MLP']:.3f}", f"{ratios[t]:.2f}"]
                        for t, m in measured.items()]},
        data={"ms": {str(t): m for t, m in measured.items()}, "ratio": {str(t): r for t, r in ratios.items()},
              "fit_seconds": fit_seconds},
    )
