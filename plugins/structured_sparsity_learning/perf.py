"""Speed of `structured-sparsity-learning`: a training step of the LeNet with the group Lasso term against
plain training, timed in the same run (zoo.timing.method_overhead), at the default thread count and at one.

    zoo reproduce structured-sparsity-learning --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead
from zoo_plugins.structured_sparsity_learning.repro import lenet


def reproduce(run: Run) -> None:
    steps, rounds = run.pick(18, 3), run.pick(3, 1)
    options = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "batch_size": 64, "device": "cpu"}
    default_threads = torch.get_num_threads()
    results = {}
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        results[threads] = method_overhead(lenet, "digits", lambda: [zoo.method("structured-sparsity-learning")],
                                           steps=steps, rounds=rounds, **options)
    torch.set_num_threads(default_threads)
    rows = [[t, f"{1000 * r['plain_step_s']:.2f}", f"{1000 * r['method_step_s']:.2f}", f"{r['ratio']:.2f}"]
            for t, r in results.items()]
    summary = "Per training step (LeNet, batch 64): " + ", ".join(
        f"plain {1000 * r['plain_step_s']:.2f} ms vs SSL {1000 * r['method_step_s']:.2f} ms ({r['ratio']:.2f}x) at "
        f"{t} thread(s)" for t, r in results.items()) + " (filter- and channel-wise group norms of 4 layers)."
    run.record("structured-sparsity-learning-speed", verdict="measured",
               claim="Overhead of the group Lasso term against plain training.", summary=summary,
               setup=f"method_overhead: {steps} steps x {rounds} rounds per side, interleaved, medians.",
               table={"columns": ["threads", "plain ms/step", "SSL ms/step", "ratio"], "rows": rows},
               data={str(t): r for t, r in results.items()})
    print(summary)
