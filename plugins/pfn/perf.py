"""Speed of `pfn`: forward+backward of the default config (6 layers, width 512, 1000 bars) on a
batch of 2 datasets with 20 training and 10 query points, against the obvious way to get the
same predictions without the PFN attention mask: one transformer pass per query point over
[training points; that query] (the mask is what lets all queries share one pass), interleaved.
The same nn.TransformerEncoder weights serve both, so outputs agree.

    zoo reproduce pfn --part perf
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH, N_TRAIN, N_QUERY = 2, 20, 10


def per_query(model, x, y, q) -> torch.Tensor:
    return torch.cat([model(x, y, q[:, i:i + 1]) for i in range(q.shape[1])], dim=1)


def timed(fn, y_query, bar) -> float:
    start = time.perf_counter()
    (-bar.log_prob(fn(), y_query).mean()).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(3, 1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = zoo.create("pfn").train()
    x, y = torch.rand(BATCH, N_TRAIN, 1), torch.randn(BATCH, N_TRAIN)
    q, yq = torch.rand(BATCH, N_QUERY, 1), torch.randn(BATCH, N_QUERY)
    with torch.no_grad():
        torch.testing.assert_close(model(x, y, q), per_query(model, x, y, q), atol=1e-4, rtol=1e-4)
    runs = {"zoo pfn (masked, one pass)": lambda: model(x, y, q), "one pass per query": lambda: per_query(model, x, y, q)}
    times = interleaved({k: (lambda fn=fn: timed(fn, yq, model.bar)) for k, fn in runs.items()}, rounds, warmup=0)
    med = medians(times)
    ratio = med["zoo pfn (masked, one pass)"] / med["one pass per query"]
    summary = (f"forward+backward, default config, {BATCH} datasets x ({N_TRAIN} train + {N_QUERY} query) points: "
               f"masked single pass {med['zoo pfn (masked, one pass)'] * 1e3:.0f} ms, one pass per query "
               f"{med['one pass per query'] * 1e3:.0f} ms (ratio {ratio:.3f}); same outputs (checked). "
               f"Median of {rounds} interleaved rounds, 1 thread.")
    print(summary)
    run.record(
        "perf", claim="forward+backward of the default config is no more than 1.2x slower than the most "
                             "direct plain-PyTorch alternative",
        verdict="measured", summary=summary,
        setup=f"1 torch thread, default config, batch {BATCH}, {N_TRAIN}+{N_QUERY} points, interleaved, medians.",
        table={"columns": ["implementation", "median ms", "ratio to per-query passes"],
               "rows": [[k, f"{v * 1e3:.0f}", f"{v / med['one pass per query']:.3f}"] for k, v in med.items()]},
        data={"times_s": times},
    )
