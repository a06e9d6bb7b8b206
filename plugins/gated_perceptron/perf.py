"""Speed of `gated-perceptron`: forward+backward of the gated unit against the plain perceptron
(an nn.Linear over the same inputs, the layer it extends), breast-cancer sized (30 features, two
classes, one unit), batch 256, at 1 thread and at the default thread count; interleaved rounds,
medians, as a ratio.

    zoo reproduce gated-perceptron --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH, FEATURES = 256, 30


def reproduce(run: Run) -> None:
    rounds = run.pick(200, 5)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    gated = zoo.create("gated-perceptron", in_features=FEATURES)
    plain = nn.Linear(FEATURES, 1)
    x = torch.randn(BATCH, FEATURES)
    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"gated": lambda: fwd_bwd_seconds(gated, gated, x),
                                   "linear": lambda: fwd_bwd_seconds(plain, plain, x)}, rounds))
        results[threads] = {"gated_us": med["gated"] * 1e6, "linear_us": med["linear"] * 1e6,
                            "ratio": med["gated"] / med["linear"]}
    torch.set_num_threads(default_threads)
    rows = [[t, f"{r['gated_us']:.1f}", f"{r['linear_us']:.1f}", f"{r['ratio']:.2f}"] for t, r in results.items()]
    summary = "; ".join(f"{t} thread(s): gated unit {r['gated_us']:.1f} us vs nn.Linear {r['linear_us']:.1f} us per "
                        f"forward+backward (ratio {r['ratio']:.2f})" for t, r in results.items())
    print(summary)
    run.record(
        "perf", claim="The gated input adds a product and one weight: a few element-wise operations per sample.",
        verdict="measured", summary=summary,
        setup=f"batch {BATCH} x {FEATURES} features, one unit; {rounds} interleaved rounds, medians; the machine "
              f"was shared, so absolute times are loose. The gated unit also builds the (0, z) logits.",
        table={"columns": ["threads", "gated unit (us)", "nn.Linear (us)", "ratio"], "rows": rows},
        data={str(k): v for k, v in results.items()},
    )
