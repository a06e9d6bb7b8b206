"""Speed of `dyad`: forward+backward of DyAd (encoder, AdaIN, adaptive padding; batch 64, 20 steps in,
20 out) against the same forecaster without the encoder (the `baseline` variant), at 1 thread and
at the default thread count. Interleaved rounds, medians.

    zoo reproduce dyad --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH = 64


def reproduce(run: Run) -> None:
    rounds = run.pick(30, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    dyad, plain = zoo.create("dyad"), zoo.create("dyad", variant="baseline")
    x = torch.randn(BATCH, dyad.config.lookback, dyad.config.channels)
    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"DyAd": lambda: fwd_bwd_seconds(dyad, dyad, x),
                                   "forecaster alone": lambda: fwd_bwd_seconds(plain, plain, x)}, rounds))
        results[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    ratios = {t: d["DyAd"] / d["forecaster alone"] for t, d in results.items()}
    summary = ("Forward+backward, batch 64: " + "; ".join(
        f"{t} thread(s): DyAd {d['DyAd']:.3f} ms, forecaster alone {d['forecaster alone']:.3f} ms ({ratios[t]:.2f}x)"
        for t, d in results.items()) + ". Shared 2-core machine: absolute times are loose.")
    print(summary)
    run.record("perf", claim="DyAd's encoder and modulation cost against the forecaster alone.", verdict="measured",
               summary=summary, setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads; the "
                                      f"default config (32 channels, 2 residual blocks, code 8).",
               table={"columns": ["threads", "model", "median ms"],
                      "rows": [[t, k, f"{v:.3f}"] for t, d in results.items() for k, v in d.items()]},
               data={"ms": {str(k): v for k, v in results.items()}, "ratio": {str(k): v for k, v in ratios.items()}})
