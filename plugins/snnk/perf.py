"""Speed of `snnk`: forward+backward of the SNNK network (digits shape, 64 inputs, hidden 64, m = 16
random features, batch 256) against the regular feed-forward network it replaces, at 1 thread and
the default thread count; interleaved rounds, medians.

    zoo reproduce snnk --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

BATCH = 256


def reproduce(run: Run) -> None:
    rounds = run.pick(50, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    shape = {"input_dim": 64, "output_dim": 10, "hidden_dim": 64}
    models = {"SNNK, m=16": zoo.create("snnk", features=16, **shape),
              "SNNK, m=64": zoo.create("snnk", features=64, **shape),
              "regular": zoo.create("snnk", layer="regular", **shape)}
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    x = torch.rand(BATCH, 64)
    ms = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}, rounds,
                                  warmup=3))
        ms[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    rows = [[f"{t}", k, params[k], f"{v:.4f}", f"{v / ms[t]['regular']:.2f}"] for t in ms for k, v in ms[t].items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, 1 thread: SNNK m=16 {one['SNNK, m=16']:.4f} ms = "
               f"{one['SNNK, m=16'] / one['regular']:.2f}x the regular network, m=64 "
               f"{one['SNNK, m=64'] / one['regular']:.2f}x; trainable parameters {params['SNNK, m=16']} / "
               f"{params['SNNK, m=64']} vs {params['regular']}.")
    print(summary)
    run.record("perf", claim="Cost of an SNNK layer against the regular feed-forward layer", verdict="measured",
               summary=summary,
               setup=f"{rounds} interleaved rounds after 3 warm-up, medians, at 1 and {default_threads} threads; "
                     f"float32, CPU; the machine was shared, so absolute times are loose",
               table={"columns": ["threads", "model", "trainable params", "median ms", "this / regular"], "rows": rows},
               data={"ms": {str(k): v for k, v in ms.items()}, "params": params})
