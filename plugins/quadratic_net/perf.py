"""Speed of `quadratic-net`: forward+backward of the quadratic network (digits shape, 64 -> 32 -> 10,
batch 256) against the conventional network of the same width and the one of the same parameter
count, at 1 thread and the default thread count; interleaved rounds, medians.

    zoo reproduce quadratic-net --part perf
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
    shape = {"input_dim": 64, "output_dim": 10}
    models = {"quadratic": zoo.create("quadratic-net", hidden_dims=[32], **shape),
              "conventional, same width": zoo.create("quadratic-net", neuron="conventional", hidden_dims=[32], **shape),
              "conventional, same params": zoo.create("quadratic-net", neuron="conventional", hidden_dims=[96], **shape)}
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    x = torch.randn(BATCH, 64)
    ms = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}, rounds,
                                  warmup=3))
        ms[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(default_threads)
    rows = [[f"{t}", k, params[k], f"{v:.4f}", f"{ms[t]['quadratic'] / v:.2f}"] for t in ms for k, v in ms[t].items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, 1 thread: quadratic network {one['quadratic']:.4f} ms = "
               f"{one['quadratic'] / one['conventional, same width']:.2f}x the conventional network of the same width "
               f"and {one['quadratic'] / one['conventional, same params']:.2f}x the one with the same parameter count "
               f"({params['conventional, same params']} vs {params['quadratic']}).")
    print(summary)
    run.record("perf", claim="Cost of quadratic neurons against conventional ones", verdict="measured",
               summary=summary,
               setup=f"{rounds} interleaved rounds after 3 warm-up, medians, at 1 and {default_threads} threads; "
                     f"float32, CPU; the machine was shared, so absolute times are loose",
               table={"columns": ["threads", "model", "params", "median ms", "quadratic / this"], "rows": rows},
               data={"ms": {str(k): v for k, v in ms.items()}, "params": params})
