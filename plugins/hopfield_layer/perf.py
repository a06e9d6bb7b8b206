"""Speed of `hopfield-layer`: forward+backward of the `Hopfield` layer with one update (Eq. 10,
32 stored and 32 state patterns of 64 dims, 4 heads of 16, batch 256) against torch's
nn.MultiheadAttention of the same sizes (the paper: one Hopfield update is attention), interleaved.

    zoo reproduce hopfield-layer --part perf
"""

from __future__ import annotations

import statistics
import time

import torch

from zoo.reproduce import Run
from zoo.timing import interleaved
from zoo_plugins.hopfield_layer.model import Hopfield

BATCH, TOKENS, DIM, HEADS = 256, 32, 64, 4


def step(fn, x) -> float:
    start = time.perf_counter()
    fn(x).square().mean().backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(30, 2)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    hopfield = Hopfield(DIM, DIM // HEADS, DIM, num_heads=HEADS)
    mha = torch.nn.MultiheadAttention(DIM, HEADS, bias=False, batch_first=True)
    x = torch.randn(BATCH, TOKENS, DIM)
    ours, ref = (lambda v: hopfield(v, v)), (lambda v: mha(v, v, v, need_weights=False)[0])
    times = interleaved({
        "zoo": lambda: step(ours, x),
        "reference": lambda: step(ref, x),
    }, rounds, warmup=3)
    a, b = times["zoo"], times["reference"]
    ratio = statistics.median(a) / statistics.median(b)
    summary = (f"Hopfield layer (one update), batch {BATCH} x {TOKENS} patterns x {DIM} dims, {HEADS} heads: "
               f"{statistics.median(a) * 1e3:.2f} ms vs nn.MultiheadAttention {statistics.median(b) * 1e3:.2f} ms; "
               f"ratio {ratio:.2f}. Both end in torch's fused scaled-dot-product attention; the Hopfield layer "
               "computes its values from the keys (Y W_K W_V, Eq. 10), one small extra matmul.")
    run.record("perf", claim="forward+backward at most 1.2x slower than a plain PyTorch reference",
               verdict="measured", summary=summary, setup=f"CPU, 1 thread, {rounds} interleaved rounds, medians",
               table={"columns": ["implementation", "median ms"],
                      "rows": [["zoo Hopfield (one update)", round(statistics.median(a) * 1e3, 3)],
                               ["torch nn.MultiheadAttention", round(statistics.median(b) * 1e3, 3)]]},
               data={"ratio": ratio, "ours_s": a, "reference_s": b})
    print(summary)
