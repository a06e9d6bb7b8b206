"""Speed of `aila`: forward+backward of AILA (attention and gated connections) against the same stack
without connections (the ablation), the residual MLP, the LSTM and the Transformer baselines, on the
digits shape (64 inputs as 8 steps of 8, 10 outputs) and the goog shape (30 steps of 1, 5 outputs),
batch 256, at 1 thread and the default thread count; interleaved rounds, medians.

    zoo reproduce aila --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .baselines import LSTMBaseline, ResidualMLP, TransformerBaseline

BATCH = 256
SHAPES = {"digits (8 x 8 -> 10)": (8, 8, 10), "goog (30 x 1 -> 5)": (30, 1, 5)}


def reproduce(run: Run) -> None:
    rounds = run.pick(10, 3)
    default_threads = torch.get_num_threads()
    rows, data = [], {}
    for label, (steps, features, outputs) in SHAPES.items():
        torch.manual_seed(0)
        d = steps * features
        models = {"AILA (attention)": zoo.create("aila", input_dim=d, output_dim=outputs),
                  "AILA (gated)": zoo.create("aila", input_dim=d, output_dim=outputs, connection="gated"),
                  "plain stack": zoo.create("aila", input_dim=d, output_dim=outputs, connection="none"),
                  "residual MLP": ResidualMLP(d, outputs), "LSTM": LSTMBaseline(steps, features, outputs),
                  "Transformer": TransformerBaseline(steps, features, outputs)}
        x = torch.randn(BATCH, steps, features)
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            med = medians(interleaved({k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}, rounds,
                                      warmup=3))
            data[f"{label}, {threads} thread(s)"] = {k: v * 1e3 for k, v in med.items()}
            base = med["AILA (attention)"]
            rows += [[label, threads, k, f"{v * 1e3:.4f}", f"{v / base:.2f}"] for k, v in med.items()]
    torch.set_num_threads(default_threads)
    parts = []
    for label in SHAPES:
        one = data[f"{label}, 1 thread(s)"]
        a = one["AILA (attention)"]
        parts.append(f"{label}: AILA (attention) {a:.3f} ms; LSTM {one['LSTM'] / a:.2f}x, Transformer "
                     f"{one['Transformer'] / a:.2f}x, residual MLP {one['residual MLP'] / a:.2f}x, plain stack "
                     f"{one['plain stack'] / a:.2f}x, gated {one['AILA (gated)'] / a:.2f}x its time")
    summary = f"Forward+backward, batch {BATCH}, 1 thread: " + "; ".join(parts) + "."
    print(summary)
    run.record("perf", claim="Cost of AILA's inter-layer connections against the baselines and the plain stack",
               verdict="measured", summary=summary,
               setup=f"{rounds} interleaved rounds after 3 warm-up, medians, at 1 and {default_threads} threads; "
                     f"float32, CPU; the machine was shared, so absolute times are loose",
               table={"columns": ["shape", "threads", "model", "median ms", "this / AILA (attention)"], "rows": rows},
               data=data)
