"""Speed of `multiplet-nn`: forward+backward of the two-layer Lehmer and Gini networks against the ReLU
network of the same widths (the baseline), for the paper's tiny shape (2 -> 2 -> 1) and a wide one
(16 -> 64 -> 1), batch 256, at 1 thread and the default thread count; interleaved rounds, medians.

    zoo reproduce multiplet-nn --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH = 256
SHAPES = {"2 -> 2 -> 1": (2, [2]), "16 -> 64 -> 1": (16, [64])}


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 3)
    default_threads = torch.get_num_threads()
    rows, data = [], {}
    for label, (d_in, hidden) in SHAPES.items():
        torch.manual_seed(0)
        models = {mean: zoo.create("multiplet-nn", input_dim=d_in, hidden_dims=hidden, mean=mean)
                  for mean in ("lehmer", "gini", "relu")}
        x = torch.rand(BATCH, d_in) + 0.5
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            med = medians(interleaved({k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}, rounds,
                                      warmup=3))
            data[f"{label}, {threads} thread(s)"] = {k: v * 1e3 for k, v in med.items()}
            rows += [[label, threads, k, f"{v * 1e3:.4f}", f"{v / med['relu']:.2f}"] for k, v in med.items()]
    torch.set_num_threads(default_threads)
    tiny, wide = data["2 -> 2 -> 1, 1 thread(s)"], data["16 -> 64 -> 1, 1 thread(s)"]
    summary = (f"Forward+backward, batch {BATCH}, 1 thread: 2 -> 2 -> 1: Lehmer {tiny['lehmer'] / tiny['relu']:.1f}x and "
               f"Gini {tiny['gini'] / tiny['relu']:.1f}x the ReLU network; 16 -> 64 -> 1: Lehmer "
               f"{wide['lehmer'] / wide['relu']:.1f}x, Gini {wide['gini'] / wide['relu']:.1f}x (powers and logs per "
               f"weight, not one matrix product).")
    print(summary)
    run.record("perf", claim="Cost of multiplet layers against the ReLU network of the same widths", verdict="measured",
               summary=summary,
               setup=f"{rounds} interleaved rounds after 3 warm-up, medians, at 1 and {default_threads} threads; float32, "
                     f"CPU; the machine was shared, so absolute times are loose",
               table={"columns": ["shape", "threads", "network", "median ms", "this / relu"], "rows": rows}, data=data)
