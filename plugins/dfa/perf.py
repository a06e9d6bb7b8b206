"""Cost of a DFA training step against a backprop step, timed in the same run.

zoo.timing.method_overhead trains the reproduction's MLP (64-256-256-256-10) and its row transformer
on digits for a few steps, plain (backprop) and with DFA as repro.py sets it (the transformer's
feedback shared by the token positions), in turn; the ratio is DFA's
seconds per step over backprop's, at the default thread count and at one thread. DFA does one forward
with the blocks cut, one gradient of the loss at the output, and one backward of the surrogate whose
pieces are block-local: it is not expected to be cheaper on one device (its gain is that the blocks'
backward passes could run in parallel), only close.

    zoo reproduce dfa --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import dfa_method, make


def reproduce(run: Run) -> None:
    steps, rounds = run.pick(20, 3), run.pick(5, 1)
    task = zoo.get_task("digits")
    default_threads = os.cpu_count() or 1  # torch's default; a script run before may have set 1
    rows, data = [], {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        for architecture in ("MLP", "transformer"):
            timing = method_overhead(lambda: make(architecture), task, lambda: [dfa_method(architecture)],
                                     steps=steps, rounds=rounds, batch_size=64, optimizer="adam", lr=1e-3)
            data[f"{architecture}, {threads} thread(s)"] = timing
            rows.append([architecture, threads, f"{1e3 * timing['plain_step_s']:.2f}",
                         f"{1e3 * timing['method_step_s']:.2f}", f"{timing['ratio']:.2f}"])
            print(rows[-1], flush=True)
    torch.set_num_threads(default_threads)
    summary = "Seconds per training step, DFA over backprop (same run, interleaved medians): " + "; ".join(
        f"{r[0]} at {r[1]} thread(s) {r[4]}x" for r in rows) + "."
    run.record("perf_step", claim="A DFA step costs about as much as a backprop step on one device.",
               verdict="measured", summary=summary,
               setup=f"digits, batch 64, Adam; {steps} steps x {rounds} interleaved rounds per side "
                     f"(zoo.timing.method_overhead), threads {default_threads} and 1",
               table={"columns": ["architecture", "threads", "backprop ms/step", "dfa ms/step", "ratio"],
                      "rows": rows},
               data=data)
    print(summary)
