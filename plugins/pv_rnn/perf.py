"""Speed of `pv-rnn`: forward+backward of PV-RNN regenerating its 16 training sequences of 48 steps
from their posteriors (2 layers, d = (20, 10), z = (2, 1)) against torch's fused nn.RNN (2 tanh
layers of 20 units) over the same batch and length, the obvious deterministic RNN, at 1 thread and
at the default thread count. Interleaved rounds, medians.

    zoo reproduce pv-rnn --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

SEQUENCES, STEPS = 16, 48


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 2)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = zoo.create("pv-rnn", sequences=SEQUENCES, max_length=STEPS)
    rnn, readout = nn.RNN(2, 20, num_layers=2, batch_first=True), nn.Linear(20, 2)
    index, x = torch.arange(SEQUENCES), torch.randn(SEQUENCES, STEPS, 2)

    def pv_step() -> float:
        model.zero_grad(set_to_none=True)
        return seconds(lambda: model.loss(model(index), x)["loss"].backward())

    def rnn_step() -> float:
        rnn.zero_grad(set_to_none=True)
        return seconds(lambda: ((readout(rnn(x)[0]) - x) ** 2).mean().backward())

    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"PV-RNN": pv_step, "nn.RNN": rnn_step}, rounds))
        results[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    ratios = {t: d["PV-RNN"] / d["nn.RNN"] for t, d in results.items()}
    summary = (f"Forward+backward, {SEQUENCES} sequences x {STEPS} steps: " + "; ".join(
        f"{t} thread(s): PV-RNN {d['PV-RNN']:.1f} ms, nn.RNN {d['nn.RNN']:.1f} ms ({ratios[t]:.1f}x)"
        for t, d in results.items()) + ". PV-RNN runs a Python loop over steps and layers (stochastic units, "
        "top-down order); nn.RNN is one fused kernel. Shared 2-core machine: absolute times are loose.")
    print(summary)
    run.record("perf", claim="PV-RNN's cost per training step against a fused deterministic RNN.", verdict="measured",
               summary=summary, setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads.",
               table={"columns": ["threads", "model", "median ms"],
                      "rows": [[t, k, f"{v:.2f}"] for t, d in results.items() for k, v in d.items()]},
               data={"ms": {str(k): v for k, v in results.items()}, "ratio": {str(k): v for k, v in ratios.items()}})
