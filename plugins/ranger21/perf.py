"""Speed of `ranger21`: seconds per training step with Ranger21 as the optimizer against
torch's AdamW, in the same run (zoo.timing.method_overhead), on the small CNN of the reproduction
with digits batches of 64, at the default thread count and at 1.

    zoo reproduce ranger21 --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import BATCH, small_cnn


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((30, 5), (3, 1))
    task = zoo.get_task("digits")
    default_threads = torch.get_num_threads()
    measured = {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        measured[threads] = method_overhead(lambda: small_cnn(0), task, lambda: [zoo.method("ranger21")], steps=steps,
                                            rounds=rounds, lr=1e-3, batch_size=BATCH)
    torch.set_num_threads(default_threads)
    rows = [[str(t), f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}", f"{m['ratio']:.2f}"]
            for t, m in measured.items()]
    summary = ("Seconds per training step (batch 64, small CNN on digits), AdamW vs ranger21: "
               + "; ".join(f"{t} thread(s): {m['plain_step_s'] * 1e3:.2f} ms vs {m['method_step_s'] * 1e3:.2f} ms "
                           f"(x{m['ratio']:.2f})" for t, m in measured.items())
               + f". Medians of {rounds} interleaved rounds of {steps} steps.")
    print(summary)
    run.record("perf", claim="the cost of a ranger21 step against torch's AdamW step, whole training step timed",
               verdict="measured", summary=summary,
               setup=f"zoo.timing.method_overhead: fresh model per round, {steps} steps, {rounds} rounds, AdamW and "
                     f"methods=[ranger21] in turn, evaluation off; threads {list(measured)}.",
               table={"columns": ["threads", "AdamW ms/step", "ranger21 ms/step", "ratio"], "rows": rows},
               data={"measured": {str(t): m for t, m in measured.items()}})
