"""Cost of `quantized-distillation` per training step: the reproduction's conv student on `digits`
trained with the method at 4 bits (the bucketed quantizer on every weight in each forward pass and
the teacher's forward pass for the soft targets) against the same student trained plainly at full
precision, in the same run (zoo.timing.method_overhead), at torch's default thread count and at one
thread. The teacher is the reproduction's conv net (untrained: only its cost matters here).

    zoo reproduce quantized-distillation --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import BATCH, STUDENT_LR, TASK, conv_student, conv_teacher


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((40, 5), (5, 1))
    torch.manual_seed(0)
    teacher = conv_teacher().eval()

    def methods():
        return [zoo.method("quantized-distillation", bits=4, teacher=teacher)]

    measured = {}
    # torch's default is one thread per core; the repro part, run before in the same process, set 1
    for threads in dict.fromkeys((os.cpu_count() or 1, 1)):
        torch.set_num_threads(threads)
        measured[threads] = method_overhead(conv_student, TASK, methods, steps=steps, rounds=rounds, batch_size=BATCH,
                                            lr=STUDENT_LR)
    rows = [[t, f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}", f"{m['ratio']:.2f}"]
            for t, m in measured.items()]
    summary = "; ".join(f"{t} thread(s): plain fp student {m['plain_step_s'] * 1e3:.2f} ms/step, quantized distillation "
                        f"{m['method_step_s'] * 1e3:.2f} ms/step (x{m['ratio']:.2f})" for t, m in measured.items())
    print(summary)
    run.record("perf", claim="the quantized-distillation step's cost (weight quantizer, teacher forward, distillation "
                             "loss) against plain full-precision training of the same student",
               verdict="measured", summary=summary,
               setup=f"conv student (6k parameters) on {TASK}, 4 bits, batch {BATCH}, AdamW; {steps} steps per run, "
                     f"median of {rounds} interleaved rounds of plain and method training from fresh students.",
               table={"columns": ["threads", "plain ms/step", "method ms/step", "ratio"], "rows": rows},
               data={"measured": {str(k): v for k, v in measured.items()}})
