"""Speed of `ranger21`: seconds per training step with Ranger21 as the optimizer against
torch's AdamW, in the same run (zoo.timing.method_overhead), on the small CNN of the reproduction
with digits batches of 64, at the default thread count and at 1.

    zoo reproduce ranger21 --part perf
"""

from __future__ import annotations

import zoo
from zoo.reproduce import Run
from zoo.timing import overhead_at_threads, overhead_table

from .repro import BATCH, small_cnn


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((30, 5), (3, 1))
    task = zoo.get_task("digits")
    measured = overhead_at_threads(lambda: small_cnn(0), task, lambda: [zoo.method("ranger21")], steps=steps,
                                   rounds=rounds, lr=1e-3, batch_size=BATCH)
    table, summary = overhead_table(measured, baseline="AdamW", method="ranger21")
    summary += f". Medians of {rounds} interleaved rounds of {steps} steps."
    print(summary)
    run.record("perf", claim="the cost of a ranger21 step against torch's AdamW step, whole training step timed",
               verdict="measured", summary=summary,
               setup=f"zoo.timing.method_overhead: fresh model per round, {steps} steps, {rounds} rounds, AdamW and "
                     f"methods=[ranger21] in turn, evaluation off; threads {list(measured)}.",
               table=table,
               data={"measured": {str(t): m for t, m in measured.items()}})
