"""Cost of a Mono-Forward training step against a backprop step, timed in the same run.

zoo.timing.method_overhead trains the reproduction's MLP (64-500-500-500-10) on digits for a few
steps, plain (backprop) and with methods=["mono-forward"], in turn; the ratio is MF's seconds per
step over backprop's, at the default thread count and at one thread. An MF step does the same
forward, three small local backward passes instead of one through the whole network (no gradient
w.r.t. the first layer's input either way), and the two 10 x 500 projections' extra products.

    zoo reproduce mono-forward --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import make_mlp


def reproduce(run: Run) -> None:
    steps, rounds = run.pick(20, 3), run.pick(3, 1)
    task = zoo.get_task("digits")
    default_threads = os.cpu_count() or 1  # torch's default; a script run before may have set 1
    rows, data = [], {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        timing = method_overhead(make_mlp, task, lambda: ["mono-forward"], steps=steps, rounds=rounds,
                                 batch_size=64, optimizer="adam", lr=1e-3)
        data[f"{threads} thread(s)"] = timing
        rows.append([threads, f"{1e3 * timing['plain_step_s']:.2f}", f"{1e3 * timing['method_step_s']:.2f}",
                     f"{timing['ratio']:.2f}"])
        print(rows[-1], flush=True)
    torch.set_num_threads(default_threads)
    summary = "Seconds per training step, Mono-Forward over backprop (same run, interleaved medians): " + "; ".join(
        f"{r[0]} thread(s) {r[3]}x" for r in rows) + "."
    run.record("perf_step", claim="A Mono-Forward step costs about as much as a backprop step.",
               verdict="measured", summary=summary,
               setup=f"digits, MLP 64-500-500-500-10, batch 64, Adam; {steps} steps x {rounds} interleaved rounds per "
                     f"side (zoo.timing.method_overhead), threads {default_threads} and 1",
               table={"columns": ["threads", "backprop ms/step", "mono-forward ms/step", "ratio"], "rows": rows},
               data=data)
    print(summary)
