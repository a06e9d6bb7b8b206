"""Speed of `sparse-evolutionary-training`: a training step with SET's masks against plain training of the
same dense MLP (64-1000-1000-1000-10, batch 100), timed in the same run, at the default thread count and
at one thread; and the cost of one topology evolution (all three sparse layers), done once per epoch.

SET's masks multiply dense weights (no sparse kernels), so a step costs the dense step plus the masking;
the paper's speed-up needs sparse matrix operations, which this implementation does not claim.

    zoo reproduce sparse-evolutionary-training --part perf
"""

from __future__ import annotations

import statistics
import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead
from zoo_plugins.sparse_evolutionary_training.method import evolve, masked_layers
from zoo_plugins.sparse_evolutionary_training.repro import mlp, standardised_digits


def reproduce(run: Run) -> None:
    data = standardised_digits()
    hidden = run.pick(1000, 100)
    steps, rounds = run.pick(12, 3), run.pick(3, 1)
    options = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 2e-4, "batch_size": 100,
               "device": "cpu"}
    results = {}
    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        results[threads] = method_overhead(lambda: mlp(hidden), data,
                                           lambda: [zoo.method("sparse-evolutionary-training")],
                                           steps=steps, rounds=rounds, **options)
    torch.set_num_threads(1)
    model = mlp(hidden)
    from zoo_plugins.sparse_evolutionary_training.method import attach_erdos_renyi_masks, sparse_layers

    attach_erdos_renyi_masks(model, sparse_layers(model), 20.0, 0.1)
    generator = torch.Generator().manual_seed(0)
    evolve_times = []
    for _ in range(run.pick(5, 1)):
        start = time.perf_counter()
        for module in masked_layers(model).values():
            evolve(module, 0.3, generator)
        evolve_times.append(time.perf_counter() - start)
    torch.set_num_threads(default_threads)
    evolve_s = statistics.median(evolve_times)
    rows = [[t, f"{1000 * r['plain_step_s']:.1f}", f"{1000 * r['method_step_s']:.1f}", f"{r['ratio']:.2f}"]
            for t, r in results.items()]
    one = results[1]
    summary = (f"Per training step (batch 100, MLP 64-{hidden}x3-10): plain " + ", ".join(
        f"{1000 * r['plain_step_s']:.1f} ms vs SET {1000 * r['method_step_s']:.1f} ms ({r['ratio']:.2f}x) at {t} "
        f"thread(s)" for t, r in results.items())
        + f". One evolution of the three sparse layers takes {1000 * evolve_s:.1f} ms on one thread, once per epoch "
          f"(12 steps per epoch here: {100 * evolve_s / (12 * one['plain_step_s']):.0f}% of an epoch's plain "
          f"training). Masks over dense weights: no speed-up from sparsity is claimed.")
    run.record("sparse-evolutionary-training-speed", verdict="measured",
               claim="Overhead of SET (masked dense weights, per-epoch evolution) against plain training.",
               summary=summary,
               setup=f"method_overhead: {steps} steps x {rounds} rounds per side, interleaved, medians; evolution "
                     f"timed alone (median of {len(evolve_times)}).",
               table={"columns": ["threads", "plain ms/step", "SET ms/step", "ratio"], "rows": rows},
               data={"overhead": {str(t): r for t, r in results.items()}, "evolve_seconds": evolve_s})
    print(summary)
