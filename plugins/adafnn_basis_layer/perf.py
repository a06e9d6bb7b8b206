"""Speed of `adafnn-basis-layer`: forward+backward of AdaFNN (paper sizes: K = 4 bases, micro
networks [64, 64, 64], head [128, 128, 128]; 51 grid points, batch 128) against its obvious
alternative, the same head on the scores of a fixed basis (a frozen (K, J) projection, as FPCA or
B-spline scores are), at 1 thread and at the default thread count. Interleaved rounds, medians.

    zoo reproduce adafnn-basis-layer --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH, GRID, K = 128, 51, 4


class FixedBasisNet(nn.Module):
    """The same head on scores <X, phi_k> of a fixed basis (a frozen projection)."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.register_buffer("projection", torch.randn(GRID, K))
        self.head = head

    def forward(self, x):
        return self.head(x @ self.projection)


def reproduce(run: Run) -> None:
    from .model import mlp

    rounds = run.pick(50, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    ours = zoo.create("adafnn-basis-layer", grid_points=GRID, n_bases=K)
    fixed = FixedBasisNet(mlp([K, 128, 128, 128, 1], dropout=0.1))
    x = torch.randn(BATCH, GRID)
    measured = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"AdaFNN": lambda: fwd_bwd_seconds(ours, ours, x),
                                   "fixed basis + same head": lambda: fwd_bwd_seconds(fixed, fixed, x)}, rounds))
        measured[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    ratios = {t: m["AdaFNN"] / m["fixed basis + same head"] for t, m in measured.items()}
    summary = "; ".join(f"{t} thread(s): AdaFNN {m['AdaFNN']:.3f} ms, fixed basis + same head "
                        f"{m['fixed basis + same head']:.3f} ms, ratio {ratios[t]:.2f}x" for t, m in measured.items())
    summary = f"Forward+backward, batch {BATCH}, {GRID} grid points, K = {K}: " + summary + "."
    print(summary)
    run.record(
        "perf", claim="Cost of learning the basis: AdaFNN's forward+backward against the same head on fixed-basis "
                      "scores", verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads; loss = mean square of the "
              f"output; the machine was shared, so absolute times are loose.",
        table={"columns": ["threads", "AdaFNN (ms)", "fixed basis + head (ms)", "ratio"],
               "rows": [[t, f"{m['AdaFNN']:.3f}", f"{m['fixed basis + same head']:.3f}", f"{ratios[t]:.2f}"]
                        for t, m in measured.items()]},
        data={"ms": {str(t): m for t, m in measured.items()}, "ratio": {str(t): r for t, r in ratios.items()}},
    )
