"""Cost of `adaround` against the baseline it replaces, rounding to nearest on the same grid: seconds
to quantize a trained digits MLP 64-256-256-10 (all three layers, 1024 calibration inputs), at the
default thread count and at one thread.

    zoo reproduce adaround --part perf
"""

from __future__ import annotations

import copy

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import seconds
from zoo.training.calibration import calibration_inputs, round_to_nearest
from zoo_plugins.adaround.repro import mlp


def reproduce(run: Run) -> None:
    iterations = run.pick(500, 20)
    torch.manual_seed(0)
    net = mlp()  # the weights' values do not change the cost
    x = calibration_inputs("digits", 1024, seed=0)
    round_to_nearest(copy.deepcopy(net), 4)  # warm-up, untimed: first calls pay for allocations and imports
    zoo.method("adaround", bits=4, iterations=2).run(copy.deepcopy(net), "digits", calibration=x)
    rows, data = [], {}
    threads = torch.get_num_threads()
    for count in (threads, 1):
        torch.set_num_threads(count)
        nearest_s = seconds(lambda: round_to_nearest(copy.deepcopy(net), 4))
        method = zoo.method("adaround", bits=4, iterations=iterations)
        ada_s = seconds(lambda: method.run(copy.deepcopy(net), "digits", calibration=x))
        per_iteration = ada_s / (3 * iterations)
        data[str(count)] = {"nearest_s": nearest_s, "adaround_s": ada_s, "per_layer_iteration_s": per_iteration}
        rows.append([count, f"{nearest_s * 1e3:.1f}", f"{ada_s:.2f}", f"{per_iteration * 1e3:.2f}",
                     f"{per_iteration * 3 * 10_000:.0f}"])
    torch.set_num_threads(threads)
    summary = ("Quantizing the digits MLP (3 layers) to 4 bits: " + "; ".join(
        f"{r[0]} thread(s): nearest {r[1]} ms, AdaRound {r[2]} s for {iterations} iterations per layer "
        f"({r[3]} ms per layer-iteration, about {r[4]} s at the paper's 10k)" for r in rows) + ".")
    print(summary)
    run.record("perf", claim="the cost of learned rounding against rounding to nearest, on one model",
               verdict="measured", summary=summary,
               setup=f"MLP 64-256-256-10, 1024 calibration inputs, batch 32, {iterations} iterations per layer; one "
                     f"timed call each (the machine is shared: expect noise).",
               table={"columns": ["threads", "nearest ms", "AdaRound s", "ms per layer-iteration",
                                  "s at 10k iterations"], "rows": rows},
               data=data)
