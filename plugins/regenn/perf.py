"""Speed of `regenn`: forward+backward of ReGENN (defaults: 8 series, window 24, LSTM with 32 units
shared by the series) against a plain LSTM of 32 units reading the 8 series as one input vector per
step with a linear head (the recurrent model without the graph-evolution layers), on a batch of 64
windows, at 1 thread and at the default thread count. Interleaved rounds, medians, the ratio.

    zoo reproduce regenn --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH, LOOKBACK, SERIES = 64, 24, 8


class PlainLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.head = nn.LSTM(SERIES, 32, batch_first=True), nn.Linear(32, SERIES)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 2)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    ours, plain = zoo.create("regenn"), PlainLSTM()
    x = torch.randn(BATCH, LOOKBACK, SERIES)
    ms: dict[int, dict[str, float]] = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"regenn": lambda: fwd_bwd_seconds(ours, ours, x),
                                   "lstm": lambda: fwd_bwd_seconds(plain, plain, x)}, rounds))
        ms[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    rows = [[t, k, f"{v:.2f} ms"] for t, d in ms.items() for k, v in d.items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, window {LOOKBACK} x {SERIES}, 1 thread: ReGENN {one['regenn']:.2f} ms, "
               f"plain LSTM-32 {one['lstm']:.2f} ms: {one['regenn'] / one['lstm']:.2f}x (ReGENN runs its LSTM over "
               f"12 encoded steps for each of the 8 series, a batch 8x larger).")
    print(summary)
    run.record(
        "perf", claim="Cost of ReGENN against a plain LSTM on the same windows", verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds after one warm-up, medians, at 1 and {default_threads} thread(s); the "
              f"machine is shared, so absolute times are loose; ratios are from the same run.",
        table={"columns": ["threads", "model", "fwd+bwd median"], "rows": rows},
        data={"ms": {str(k): v for k, v in ms.items()}, "parameters": {
            "regenn": sum(p.numel() for p in ours.parameters()), "lstm": sum(p.numel() for p in plain.parameters())}},
    )
