"""Cost of a NoProp-DT training step against backprop through the same network, timed in the same run.

zoo.timing.method_overhead trains the reproduction's noprop-dt network (T = 10 blocks, convs 8/16/32,
width 64) on digits for a few steps, plain and with methods=["noprop"], in turn. Plain training is
end-to-end backprop through the network's forward pass, the inference chain (block 1 to block T,
then the classifier), with cross-entropy; a NoProp step runs every block once on its own sampled
noisy embedding and backpropagates only inside each block. Both evaluate the T blocks once per step,
so NoProp is not expected to be cheaper on one device; its gain is that the blocks need not wait
for each other. Default thread count and one thread.

    zoo reproduce noprop --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import NOPROP, NOPROP_BATCH, NOPROP_LR


def reproduce(run: Run) -> None:
    steps, rounds = run.pick(10, 2), run.pick(3, 1)
    task = zoo.get_task("digits")
    default_threads = os.cpu_count() or 1  # torch's default; a script run before may have set 1
    rows, data = [], {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        timing = method_overhead(lambda: zoo.create("noprop-dt", variant="digits", task=task, **NOPROP), task,
                                 lambda: ["noprop"], steps=steps, rounds=rounds, batch_size=NOPROP_BATCH,
                                 optimizer="adamw", lr=NOPROP_LR, weight_decay=1e-3, device="cpu")
        data[f"{threads} thread(s)"] = timing
        rows.append([threads, f"{1e3 * timing['plain_step_s']:.1f}", f"{1e3 * timing['method_step_s']:.1f}",
                     f"{timing['ratio']:.2f}"])
        print(rows[-1], flush=True)
    torch.set_num_threads(default_threads)
    summary = "Seconds per training step, NoProp over backprop through the same network (same run, interleaved " \
              "medians): " + "; ".join(f"{r[3]}x at {r[0]} thread(s)" for r in rows) + "."
    run.record("perf_step", claim="Cost of a NoProp-DT step against end-to-end backprop through the same network.",
               verdict="measured", summary=summary,
               setup=f"digits, noprop-dt {NOPROP} (T=10), batch {NOPROP_BATCH}, AdamW; {steps} steps x {rounds} "
                     f"interleaved rounds per side (zoo.timing.method_overhead), threads {default_threads} and 1",
               table={"columns": ["threads", "backprop ms/step", "noprop ms/step", "ratio"], "rows": rows},
               data=data)
    print(summary)
