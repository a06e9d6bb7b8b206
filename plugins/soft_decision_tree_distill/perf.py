"""Cost of `soft-decision-tree-distill` per training step: the reproduction's depth-8 tree on
`digits` trained with the method (the teacher's forward pass for its soft targets, Eq. 1 and the
balancing penalty) against the same tree trained plainly (the task's cross entropy on the tree's
mixture output), in the same run (zoo.timing.method_overhead), at torch's default thread count and at
one thread. The teacher is the reproduction's conv net (untrained: only its cost matters here).

    zoo reproduce soft-decision-tree-distill --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import BATCH, DEPTH, TASK, conv_teacher


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((40, 5), (5, 1))
    torch.manual_seed(0)
    teacher = conv_teacher().eval()

    def make_tree():
        return zoo.create("soft-decision-tree", variant="digits", depth=DEPTH)

    def methods():
        return [zoo.method("soft-decision-tree-distill", teacher=teacher)]

    measured = {}
    # torch's default is one thread per core; the repro part, run before in the same process, set 1
    for threads in dict.fromkeys((os.cpu_count() or 1, 1)):
        torch.set_num_threads(threads)
        measured[threads] = method_overhead(make_tree, TASK, methods, steps=steps, rounds=rounds, batch_size=BATCH,
                                            lr=1e-2)
    rows = [[t, f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}", f"{m['ratio']:.2f}"]
            for t, m in measured.items()]
    summary = "; ".join(f"{t} thread(s): plain tree {m['plain_step_s'] * 1e3:.2f} ms/step, distilled "
                        f"{m['method_step_s'] * 1e3:.2f} ms/step (x{m['ratio']:.2f})" for t, m in measured.items())
    print(summary)
    run.record("perf", claim="the distillation step's cost (teacher forward, Eq. 1, balancing penalty) against "
                             "plain training of the same tree",
               verdict="measured", summary=summary,
               setup=f"soft-decision-tree depth {DEPTH} on {TASK}, batch {BATCH}, AdamW; {steps} steps per run, median "
                     f"of {rounds} interleaved rounds of plain and distilled training from fresh trees.",
               table={"columns": ["threads", "plain ms/step", "distilled ms/step", "ratio"], "rows": rows},
               data={"measured": {str(k): v for k, v in measured.items()}})
