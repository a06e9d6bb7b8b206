"""Speed of `lssl`: forward+backward of the LSSL network of the reproduction (2 blocks, H = N = 32,
length 256, batch 64) in its two views, the convolution with the Krylov kernel (one FFT over the
sequence; the kernel built once per call) and the step-by-step recurrence (the same outputs), against
the LSTM of equal parameter count (PyTorch's nn.LSTM, a C++ loop over the steps), interleaved, at 1
thread and at the default thread count.

    zoo reproduce lssl --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .repro import LSSL_SIZE, LSTMClassifier, count, matched_lstm_width

BATCH, LENGTH = 64, 256


def reproduce(run: Run) -> None:
    rounds = run.pick(3, 1)
    length = run.pick(LENGTH, 64)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    convolution = zoo.create("lssl", **LSSL_SIZE)
    recurrence = zoo.create("lssl", **LSSL_SIZE, mode="recurrence")
    recurrence.load_state_dict(convolution.state_dict())
    lstm = LSTMClassifier(1, matched_lstm_width(count(convolution)), 10)
    x = torch.rand(BATCH, length, 1)
    models = {"LSSL convolution": convolution, "LSSL recurrence": recurrence, "LSTM": lstm}
    measured, rows = {}, []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        times = interleaved({k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}, rounds)
        measured[threads] = med = medians(times)
        rows += [[threads, k, f"{v * 1e3:.1f}", f"{v / med['LSTM']:.2f}"] for k, v in med.items()]
    one = measured[1]
    summary = (f"Forward+backward, batch {BATCH}, length {length}, 1 thread: LSSL convolution view "
               f"{one['LSSL convolution'] * 1e3:.0f} ms, recurrence view {one['LSSL recurrence'] * 1e3:.0f} ms "
               f"({one['LSSL recurrence'] / one['LSSL convolution']:.1f}x the convolution), LSTM of equal parameter "
               f"count ({count(lstm):,} vs {count(convolution):,}) {one['LSTM'] * 1e3:.0f} ms. Median of {rounds} "
               f"interleaved rounds; the table also has {default_threads} thread(s).")
    print(summary)
    run.record(
        "perf", claim="the convolution view trains faster than the recurrence view of the same layer (paper Sec. 3.1), "
                      "and the LSSL's cost against an LSTM of equal size",
        verdict="measured", summary=summary,
        setup=f"LSSL: {LSSL_SIZE}, length {length}, batch {BATCH}; LSTM 1 layer, parameter count matched; "
              f"loss = mean square of the logits; interleaved rounds, medians; 1 and {default_threads} thread(s).",
        table={"columns": ["threads", "model", "median ms", "ratio to LSTM"], "rows": rows},
        data={"medians_s": {str(t): v for t, v in measured.items()}},
    )
