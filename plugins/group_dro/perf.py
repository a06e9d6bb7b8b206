"""Cost of `group-dro` per training step: the MLP of the reproduction on `groups/spurious-digits`
trained with and without the method in the same run (zoo.timing.method_overhead), at torch's default
thread count and at one thread.

    zoo reproduce group-dro --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import overhead_at_threads, overhead_table

from .repro import BATCH, TASK, wide_mlp


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((40, 5), (5, 1))
    task = zoo.get_task(TASK)
    torch.manual_seed(0)
    measured = overhead_at_threads(wide_mlp, task, lambda: [zoo.method("group-dro")], steps=steps,
                                   rounds=rounds, batch_size=BATCH, optimizer="sgd", lr=0.01)
    table, summary = overhead_table(measured, method="group DRO")
    print(summary)
    run.record("perf", claim="group DRO's per-step cost against plain ERM training (per-example losses, per-group "
                             "means and the update of q)",
               verdict="measured", summary=summary,
               setup=f"MLP 64-256-256-2 on {TASK}, batch {BATCH}, SGD; {steps} steps per run, median of {rounds} "
                     f"interleaved rounds of plain and group-DRO training from fresh models.",
               table=table,
               data={"measured": {str(k): v for k, v in measured.items()}})
