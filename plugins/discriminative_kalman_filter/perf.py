"""Speed of `discriminative-kalman-filter`: filtering a sequence (batch 4, 100 steps, 20 channels,
2-D state) with the DKF (the network f on every step, then the closed-form recursion) against the
Kalman filter with a linear-Gaussian observation model, the baseline it replaces, at 1 thread and
at the default thread count. Interleaved rounds, medians.

    zoo reproduce discriminative-kalman-filter --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

from .model import kalman_filter

BATCH, STEPS, OBS, STATE = 4, 100, 20, 2


def reproduce(run: Run) -> None:
    rounds = run.pick(10, 2)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = zoo.create("discriminative-kalman-filter", obs_dim=OBS, state_dim=STATE).eval()
    x = torch.randn(BATCH, STEPS, OBS)
    h, b, r = torch.randn(OBS, STATE), torch.zeros(OBS), 0.1 * torch.eye(OBS)
    a, gamma, s = model.transition, model.process_cov, model.prior_cov
    results = {}
    with torch.no_grad():
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            med = medians(interleaved({"DKF": lambda: seconds(lambda: model(x)),
                                       "Kalman filter": lambda: seconds(lambda: kalman_filter(x, a, gamma, h, b, r, s))},
                                      rounds))
            results[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    ratios = {t: d["DKF"] / d["Kalman filter"] for t, d in results.items()}
    summary = (f"Filtering {BATCH} sequences of {STEPS} steps: " + "; ".join(
        f"{t} thread(s): DKF {d['DKF']:.1f} ms, Kalman filter {d['Kalman filter']:.1f} ms ({ratios[t]:.2f}x)"
        for t, d in results.items()) + ". Shared 2-core machine: absolute times are loose.")
    print(summary)
    run.record("perf", claim="The DKF's cost per filtered sequence against the Kalman filter.", verdict="measured",
               summary=summary, setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads; f the "
                                      f"default MLP (20-64-64-2); the Kalman filter inverts its 20x20 innovation "
                                      f"covariance each step, the DKF 2x2 matrices.",
               table={"columns": ["threads", "filter", "median ms"],
                      "rows": [[t, k, f"{v:.2f}"] for t, d in results.items() for k, v in d.items()]},
               data={"ms": {str(k): v for k, v in results.items()}, "ratio": {str(k): v for k, v in ratios.items()}})
