"""Cost of `optimal-brain-compression` against the baselines it replaces (magnitude pruning, rounding to
nearest): seconds to compress a digits MLP 64-256-256-10 (all three layers, 1024 calibration inputs),
at the default thread count and at one thread.

    zoo reproduce optimal-brain-compression --part perf
"""

from __future__ import annotations

import copy

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import seconds
from zoo.training.calibration import calibration_inputs, compressible_layers, fit_grid, weight_matrix
from zoo_plugins.optimal_brain_compression.method import magnitude_prune
from zoo_plugins.optimal_brain_compression.repro import mlp


def baseline(net, bits=None, sparsity=0.0) -> None:
    with torch.no_grad():
        for layer in compressible_layers(net).values():
            w = weight_matrix(layer)
            new = fit_grid(w, bits).round(w) if bits else magnitude_prune(w.detach(), sparsity)
            layer.weight.copy_(new.reshape(layer.weight.shape))


def reproduce(run: Run) -> None:
    torch.manual_seed(0)
    net = mlp()
    x = calibration_inputs("digits", run.pick(1024, 128), seed=0)
    baseline(copy.deepcopy(net), bits=4)  # warm-up, untimed: first calls pay for allocations and imports
    rows, data = [], {}
    threads = torch.get_num_threads()
    for count in (threads, 1):
        torch.set_num_threads(count)
        for label, options in (("prune 80%", {"sparsity": 0.8}), ("4-bit", {"bits": 4})):
            base_s = seconds(lambda: baseline(copy.deepcopy(net), **options))
            method = zoo.method("optimal-brain-compression", **options)
            obc_s = seconds(lambda: method.run(copy.deepcopy(net), "digits", calibration=x))
            data[f"{count} {label}"] = {"baseline_s": base_s, "obc_s": obc_s}
            rows.append([count, label, f"{base_s * 1e3:.1f}", f"{obc_s:.2f}"])
    torch.set_num_threads(threads)
    summary = "Compressing the digits MLP (3 layers): " + "; ".join(
        f"{r[0]} thread(s), {r[1]}: baseline {r[2]} ms, OBC {r[3]} s" for r in rows) + "."
    print(summary)
    run.record("perf", claim="the cost of OBC against magnitude pruning and rounding to nearest, on one model",
               verdict="measured", summary=summary,
               setup="MLP 64-256-256-10, 1024 calibration inputs (capture, Hessians and the greedy passes included); "
                     "one timed call each (the machine is shared: expect noise).",
               table={"columns": ["threads", "compression", "baseline ms (magnitude / nearest)", "OBC s"],
                      "rows": rows}, data=data)
