"""Speed of `functional-nn`: forward+backward of the default FNN (128-point curves, functional
convolutions [20, 5] + 3 output functions, 7 Legendre polynomials on 26-point supports; batch 64)
against the layers it generalises, a plain CNN of nn.Conv1d with the same channels and kernel
lengths (free kernel taps instead of basis coefficients), with the same standardisation and time
mean; at 1 thread and the default count. Interleaved rounds, medians.

    zoo reproduce functional-nn --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH = 64


class PlainCNN(nn.Module):
    def __init__(self, widths: list[int], kernel: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x):
        x = (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + 1e-10).sqrt()
        for conv in self.convs[:-1]:
            x = nn.functional.elu(conv(x))
        return self.convs[-1](x).mean(-1)


def reproduce(run: Run) -> None:
    rounds = run.pick(50, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    ours = zoo.create("functional-nn")
    config = ours.config
    plain = PlainCNN([config.in_channels, *config.channels, config.num_classes], config.kernel_points())
    x = torch.randn(BATCH, 1, config.grid_points).cumsum(-1)
    measured = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"FNN": lambda: fwd_bwd_seconds(ours, ours, x),
                                   "plain CNN": lambda: fwd_bwd_seconds(plain, plain, x)}, rounds))
        measured[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    ratios = {t: m["FNN"] / m["plain CNN"] for t, m in measured.items()}
    params = {"FNN": sum(p.numel() for p in ours.parameters()), "plain CNN": sum(p.numel() for p in plain.parameters())}
    summary = (f"Forward+backward, batch {BATCH}, {config.grid_points} points: " + "; ".join(
        f"{t} thread(s): FNN {m['FNN']:.3f} ms, plain CNN {m['plain CNN']:.3f} ms, ratio {ratios[t]:.2f}x"
        for t, m in measured.items()) + f". Parameters: FNN {params['FNN']}, plain CNN {params['plain CNN']}.")
    print(summary)
    run.record(
        "perf", claim="Cost of functional convolutions against plain convolutions of the same shape", verdict="measured",
        summary=summary,
        setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads; loss = mean square of the "
              f"logits; the machine was shared, so absolute times are loose.",
        table={"columns": ["threads", "FNN (ms)", "plain CNN (ms)", "ratio"],
               "rows": [[t, f"{m['FNN']:.3f}", f"{m['plain CNN']:.3f}", f"{ratios[t]:.2f}"] for t, m in measured.items()]},
        data={"ms": {str(t): m for t, m in measured.items()}, "ratio": {str(t): r for t, r in ratios.items()},
              "parameters": params},
    )
