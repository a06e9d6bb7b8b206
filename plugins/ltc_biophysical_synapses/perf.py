"""Speed of `ltc-biophysical-synapses`: forward+backward of the LTC network with biophysical synapses
(16 neurons, 6 unfolds per step) against the RNN baselines of its reproduction (LSTM, GRU, tanh RNN
with 64 neurons, PyTorch's fused kernels), on a batch of 64 sequences of 12 steps of 8 features, at 1
thread and at the default thread count. Interleaved rounds, medians, ratio LTC / baseline.

    zoo reproduce ltc-biophysical-synapses --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .baselines import RecurrentBaseline

BATCH, STEPS, FEATURES = 64, 12, 8


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 2)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    ltc = zoo.create("ltc-biophysical-synapses", input_dim=FEATURES, output_dim=FEATURES, neurons=16)
    baselines = {cell: RecurrentBaseline(cell, FEATURES, 64, FEATURES) for cell in ("lstm", "gru", "rnn")}
    x = torch.randn(BATCH, STEPS, FEATURES)
    ms: dict[int, dict[str, float]] = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        runs = {"ltc": lambda: fwd_bwd_seconds(ltc, ltc, x)}
        runs.update({cell: (lambda m=m: fwd_bwd_seconds(m, m, x)) for cell, m in baselines.items()})
        ms[threads] = {k: v * 1e3 for k, v in medians(interleaved(runs, rounds)).items()}
    torch.set_num_threads(default_threads)
    rows = [[t, name, f"{value:.2f} ms", f"{d['ltc'] / value:.2f}"] for t, d in ms.items() for name, value in d.items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, {STEPS} steps, 1 thread: LTC-bio (16 neurons) {one['ltc']:.1f} ms, "
               f"LSTM-64 {one['lstm']:.1f} ms (LTC / LSTM = {one['ltc'] / one['lstm']:.1f}x), GRU-64 {one['gru']:.1f} "
               f"ms, RNN-64 {one['rnn']:.1f} ms. The LTC runs 6 sequential solver unfolds per input step in Python "
               f"ops; the baselines run PyTorch's fused recurrent kernels.")
    print(summary)
    run.record(
        "perf", claim="Cost of the LTC network with biophysical synapses against the standard RNNs it is compared with",
        verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds after one warm-up, medians, at 1 and {default_threads} thread(s); "
              f"the machine is shared, so absolute times are loose; ratios are from the same run.",
        table={"columns": ["threads", "model", "fwd+bwd median", "LTC / this"], "rows": rows},
        data={"ms": {str(k): v for k, v in ms.items()}},
    )
