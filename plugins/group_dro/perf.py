"""Cost of `group-dro` per training step: the MLP of the reproduction on `groups/spurious-digits`
trained with and without the method in the same run (zoo.timing.method_overhead), at torch's default
thread count and at one thread.

    zoo reproduce group-dro --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import BATCH, TASK, wide_mlp


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((40, 5), (5, 1))
    task = zoo.get_task(TASK)
    # torch's default is one thread per core; the repro part, run before in the same process, set 1
    default_threads = os.cpu_count() or 1
    measured = {}
    for threads in dict.fromkeys((default_threads, 1)):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        measured[threads] = method_overhead(wide_mlp, task, lambda: [zoo.method("group-dro")], steps=steps,
                                            rounds=rounds, batch_size=BATCH, optimizer="sgd", lr=0.01)
    torch.set_num_threads(default_threads)
    rows = [[t, f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}", f"{m['ratio']:.2f}"]
            for t, m in measured.items()]
    summary = "; ".join(f"{t} thread(s): plain {m['plain_step_s'] * 1e3:.2f} ms/step, group DRO "
                        f"{m['method_step_s'] * 1e3:.2f} ms/step (x{m['ratio']:.2f})" for t, m in measured.items())
    print(summary)
    run.record("perf", claim="group DRO's per-step cost against plain ERM training (per-example losses, per-group "
                             "means and the update of q)",
               verdict="measured", summary=summary,
               setup=f"MLP 64-256-256-2 on {TASK}, batch {BATCH}, SGD; {steps} steps per run, median of {rounds} "
                     f"interleaved rounds of plain and group-DRO training from fresh models.",
               table={"columns": ["threads", "plain ms/step", "group DRO ms/step", "ratio"], "rows": rows},
               data={"measured": {str(k): v for k, v in measured.items()}})
