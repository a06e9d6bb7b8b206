"""Speed of `bilinear-layer`: forward+backward of the one-hidden-layer bilinear MLP (digits shape,
64 -> 64 -> 10, batch 256) against the ReLU and GELU MLPs of the same width and the ReLU MLP of the
same parameter count, at 1 thread and the default thread count; interleaved rounds, medians.

    zoo reproduce bilinear-layer --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH, HIDDEN = 256, 64


def reproduce(run: Run) -> None:
    rounds = run.pick(50, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    shape = {"input_dim": 64, "output_dim": 10}
    models = {"bilinear": zoo.create("bilinear-layer", hidden_dim=HIDDEN, **shape),
              "relu": zoo.create("bilinear-layer", activation="relu", hidden_dim=HIDDEN, **shape),
              "gelu": zoo.create("bilinear-layer", activation="gelu", hidden_dim=HIDDEN, **shape),
              "relu (matched params)": zoo.create("bilinear-layer", activation="relu", hidden_dim=119, **shape)}
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    x = torch.randn(BATCH, 64)
    ms = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}, rounds,
                                  warmup=3))
        ms[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    rows = [[f"{t}", k, params[k], f"{v:.4f}", f"{ms[t]['bilinear'] / v:.2f}"] for t in ms for k, v in ms[t].items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, 1 thread: bilinear {one['bilinear']:.4f} ms = "
               f"{one['bilinear'] / one['relu']:.2f}x the ReLU MLP of the same width, "
               f"{one['bilinear'] / one['gelu']:.2f}x GELU, {one['bilinear'] / one['relu (matched params)']:.2f}x the "
               f"ReLU MLP with the same parameter count ({params['relu (matched params)']} vs {params['bilinear']}).")
    print(summary)
    run.record("perf", claim="Cost of the bilinear layer against the MLP layers it replaces", verdict="measured",
               summary=summary,
               setup=f"{rounds} interleaved rounds after 3 warm-up, medians, at 1 and {default_threads} threads; "
                     f"float32, CPU; the machine was shared, so absolute times are loose",
               table={"columns": ["threads", "model", "params", "median ms", "bilinear / this"], "rows": rows},
               data={"ms": {str(k): v for k, v in ms.items()}, "params": params})
