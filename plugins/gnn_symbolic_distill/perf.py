"""Overhead of `gnn-symbolic-distill` per training step: the L1 penalty on the messages (a forward hook on the edge
model and one more loss term) against plain training of the same graph network, in the same run
(zoo.timing.method_overhead), at the machine's thread count and at one thread. The symbolic
regression after training is timed by the reproduction (its records' cpu_seconds).

    zoo reproduce gnn-symbolic-distill --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import overhead_at_threads, overhead_table

HIDDEN = 64  # the reproduction's width


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((20, 5), (3, 1))
    task = zoo.get_task("nbody/spring", n_sims=60, steps=40)

    def make_model():
        torch.manual_seed(0)
        return zoo.create("nbody-gn", task=task, hidden=HIDDEN)

    results = overhead_at_threads(make_model, task, lambda: [zoo.method("gnn-symbolic-distill")],
                                  steps=steps, rounds=rounds, batch_size=64, device="cpu")
    table, _ = overhead_table(results, method="with L1 messages")
    one = results[1]
    summary = (f"1 thread: {one['method_step_s'] * 1e3:.1f} ms a step with the L1 message penalty against "
               f"{one['plain_step_s'] * 1e3:.1f} ms plain (ratio {one['ratio']:.2f}); at {list(results)[0]} threads "
               f"ratio {results[list(results)[0]]['ratio']:.2f}. Batch 64 graphs of 4 bodies, width {HIDDEN}; medians "
               f"of {rounds} interleaved rounds of {steps} steps on a shared machine.")
    print(summary)
    run.record(
        "perf", claim="per-step cost of the L1 message penalty against plain training", verdict="measured",
        summary=summary,
        setup=f"zoo.timing.method_overhead, nbody-gn width {HIDDEN}, batch 64, {steps} steps x {rounds} rounds.",
        table=table,
        data={str(t): r for t, r in results.items()},
    )
