"""Cost of `soft-decision-tree-distill` per training step: the reproduction's depth-8 tree on
`digits` trained with the method (the teacher's forward pass for its soft targets, Eq. 1 and the
balancing penalty) against the same tree trained plainly (the task's cross entropy on the tree's
mixture output), in the same run (zoo.timing.method_overhead), at torch's default thread count and at
one thread. The teacher is the reproduction's conv net (untrained: only its cost matters here).

    zoo reproduce soft-decision-tree-distill --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import overhead_at_threads, overhead_table

from .repro import BATCH, DEPTH, TASK, conv_teacher


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((40, 5), (5, 1))
    torch.manual_seed(0)
    teacher = conv_teacher().eval()

    def make_tree():
        return zoo.create("soft-decision-tree", variant="digits", depth=DEPTH)

    def methods():
        return [zoo.method("soft-decision-tree-distill", teacher=teacher)]

    measured = overhead_at_threads(make_tree, TASK, methods, steps=steps, rounds=rounds, batch_size=BATCH,
                                   lr=1e-2)
    table, summary = overhead_table(measured, baseline="plain tree", method="distilled")
    print(summary)
    run.record("perf", claim="the distillation step's cost (teacher forward, Eq. 1, balancing penalty) against "
                             "plain training of the same tree",
               verdict="measured", summary=summary,
               setup=f"soft-decision-tree depth {DEPTH} on {TASK}, batch {BATCH}, AdamW; {steps} steps per run, median "
                     f"of {rounds} interleaved rounds of plain and distilled training from fresh trees.",
               table=table,
               data={"measured": {str(k): v for k, v in measured.items()}})
