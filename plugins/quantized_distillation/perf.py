"""Cost of `quantized-distillation` per training step: the reproduction's conv student on `digits`
trained with the method at 4 bits (the bucketed quantizer on every weight in each forward pass and
the teacher's forward pass for the soft targets) against the same student trained plainly at full
precision, in the same run (zoo.timing.method_overhead), at torch's default thread count and at one
thread. The teacher is the reproduction's conv net (untrained: only its cost matters here).

    zoo reproduce quantized-distillation --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import overhead_at_threads, overhead_table

from .repro import BATCH, STUDENT_LR, TASK, conv_student, conv_teacher


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((40, 5), (5, 1))
    torch.manual_seed(0)
    teacher = conv_teacher().eval()

    def methods():
        return [zoo.method("quantized-distillation", bits=4, teacher=teacher)]

    measured = overhead_at_threads(conv_student, TASK, methods, steps=steps, rounds=rounds, batch_size=BATCH,
                                   lr=STUDENT_LR)
    table, summary = overhead_table(measured, baseline="plain fp student", method="quantized distillation")
    print(summary)
    run.record("perf", claim="the quantized-distillation step's cost (weight quantizer, teacher forward, distillation "
                             "loss) against plain full-precision training of the same student",
               verdict="measured", summary=summary,
               setup=f"conv student (6k parameters) on {TASK}, 4 bits, batch {BATCH}, AdamW; {steps} steps per run, "
                     f"median of {rounds} interleaved rounds of plain and method training from fresh students.",
               table=table,
               data={"measured": {str(k): v for k, v in measured.items()}})
