"""powernorm forward+backward: a PowerNorm layer against nn.LayerNorm and nn.BatchNorm1d of the same
size, and the whole `small` encoder with each norm.

PowerNorm's training step is a Python autograd function (the running-statistic backward of
Algorithm 1 is not a torch op); LayerNorm and BatchNorm are fused native kernels, so the layer ratio
shows what the custom backward costs, and the encoder ratio what it costs inside a transformer.
Timed in alternation (zoo.timing.interleaved, medians) at 1 thread and at torch's default thread
count; layers on 4096 rows (a batch of tokens) of width 512 (the paper's IWSLT width), the encoder on
a seq/sort batch of 128 sequences.

    zoo reproduce powernorm --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .model import PowerNorm


def timed(models: dict, x: torch.Tensor, rounds: int) -> dict:
    times = interleaved({name: (lambda m=m: fwd_bwd_seconds(m, m, x)) for name, m in models.items()}, rounds)
    return {"ms": {name: 1e3 * t for name, t in medians(times).items()}, "times_s": times}


def reproduce(run: Run) -> None:
    rounds = run.pick(7, 2)
    rows_n, width = run.pick((4096, 512), (256, 64))
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    layers = {"powernorm": PowerNorm(width, warmup_iters=0).train(), "layernorm": nn.LayerNorm(width),
              "batchnorm": nn.BatchNorm1d(width)}
    x_layer = torch.randn(rows_n, width, requires_grad=True)
    encoders = {norm: zoo.create("powernorm", variant="small", norm=norm, max_len=10, num_classes=10, in_features=1,
                                 warmup_iters=0).train() for norm in layers}
    x_seq = torch.rand(run.pick(128, 8), 10, 1)
    results, rows = {}, []
    for threads in run.pick(sorted({1, default_threads}), [1]):
        torch.set_num_threads(threads)
        for label, models, x in ((f"layer, {rows_n} x {width}", layers, x_layer),
                                 ("small encoder, seq/sort batch", encoders, x_seq)):
            r = timed(models, x, rounds)
            results[f"{label}, {threads} thread(s)"] = r
            ms = r["ms"]
            rows.append([label, threads, *(round(ms[n], 3) for n in layers),
                         round(ms["powernorm"] / ms["layernorm"], 2), round(ms["powernorm"] / ms["batchnorm"], 2)])
    torch.set_num_threads(default_threads)
    summary = "; ".join(f"{r[0]} at {r[1]} thread(s): PowerNorm {r[2]} ms, LayerNorm {r[3]} ms, BatchNorm {r[4]} ms "
                        f"(PN/LN {r[5]}, PN/BN {r[6]})" for r in rows)
    run.record(
        "perf_forward_backward",
        claim="PowerNorm's forward+backward cost against LayerNorm and BatchNorm of the same size (layer and in the "
              "small encoder).",
        verdict="measured",
        summary=summary + ". PowerNorm is timed past warmup (running statistics, Algorithm 1's backward).",
        setup=(f"fwd+bwd of mean squared output; medians of {rounds} interleaved rounds after one warmup round; "
               f"threads 1 and {default_threads} (torch default) on a shared 2-core machine"),
        table={"columns": ["input", "threads", "PowerNorm ms", "LayerNorm ms", "BatchNorm ms", "PN/LN", "PN/BN"],
               "rows": rows},
        data=results,
    )
    print(summary)
