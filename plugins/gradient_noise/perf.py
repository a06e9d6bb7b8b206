"""Speed of `gradient-noise`: seconds per training step of plain SGD against SGD with the noise
added to every gradient, measured in the same run (zoo.timing.method_overhead), on the paper's
20-layer, 50-unit ReLU network with digits batches of 128, at the default thread count and at 1.

    zoo reproduce gradient-noise --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead

from .repro import BATCH, deep_net


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((30, 3), (3, 1))
    task = zoo.get_task("digits")
    default_threads = torch.get_num_threads()
    measured = {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        measured[threads] = method_overhead(lambda: deep_net("good", 0), task,
                                            lambda: [zoo.method("gradient-noise", eta=0.01)], steps=steps,
                                            rounds=rounds, optimizer="sgd", momentum=0.0, lr=0.05,
                                            batch_size=BATCH, clip_grad_norm=10.0)
    torch.set_num_threads(default_threads)
    rows = [[str(t), f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}", f"{m['ratio']:.2f}"]
            for t, m in measured.items()]
    summary = ("Seconds per SGD step (batch 128, 20-layer 50-unit ReLU MLP on digits), plain vs with gradient noise: "
               + "; ".join(f"{t} thread(s): {m['plain_step_s'] * 1e3:.2f} ms vs {m['method_step_s'] * 1e3:.2f} ms "
                           f"(x{m['ratio']:.2f})" for t, m in measured.items())
               + f". Medians of {rounds} interleaved rounds of {steps} steps.")
    print(summary)
    run.record("perf", claim="the cost of drawing and adding the noise per training step, against plain SGD",
               verdict="measured", summary=summary,
               setup=f"zoo.timing.method_overhead: fresh model per round, {steps} steps, {rounds} rounds, plain and "
                     f"with methods=[gradient-noise] in turn, evaluation off; threads {list(measured)}.",
               table={"columns": ["threads", "plain ms/step", "with noise ms/step", "ratio"], "rows": rows},
               data={"measured": {str(t): m for t, m in measured.items()}})
