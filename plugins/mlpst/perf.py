"""Speed of `mlpst`: forward+backward of MLPST (defaults, 16 x 8 grid, closeness 3 / period 1 /
trend 1) against ST-ResNet at the size the reproduction trains (32 filters, 2 residual units) and at
its BikeNYC configuration (64 filters, 4 units), on a batch of 32, at 1 thread and at the default
thread count. Interleaved rounds, medians, ratios ST-ResNet / MLPST; parameter counts beside them.

    zoo reproduce mlpst --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .baselines import STResNet

BATCH = 32


def reproduce(run: Run) -> None:
    rounds = run.pick(10, 2)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    models = {"mlpst": zoo.create("mlpst"),
              "st-resnet 32x2": STResNet(3, 1, 1, 2, 16, 8, filters=32, units=2),
              "st-resnet 64x4": STResNet(3, 1, 1, 2, 16, 8, filters=64, units=4)}
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    x = torch.rand(BATCH, 5, 2, 16, 8) * 2 - 1
    ms: dict[int, dict[str, float]] = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        runs = {k: (lambda m=m: fwd_bwd_seconds(m, m, x)) for k, m in models.items()}
        ms[threads] = {k: v * 1e3 for k, v in medians(interleaved(runs, rounds)).items()}
    torch.set_num_threads(default_threads)
    rows = [[t, k, params[k], f"{v:.2f} ms", f"{v / d['mlpst']:.1f}"] for t, d in ms.items() for k, v in d.items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, 1 thread: MLPST {one['mlpst']:.2f} ms ({params['mlpst']} parameters); "
               f"ST-ResNet 32x2 {one['st-resnet 32x2']:.2f} ms ({one['st-resnet 32x2'] / one['mlpst']:.1f}x, "
               f"{params['st-resnet 32x2']} parameters); ST-ResNet 64x4 {one['st-resnet 64x4']:.2f} ms "
               f"({one['st-resnet 64x4'] / one['mlpst']:.1f}x, {params['st-resnet 64x4']} parameters).")
    print(summary)
    run.record(
        "perf", claim="MLPST's cost and size against the convolutional ST-ResNet", verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds after one warm-up, medians, at 1 and {default_threads} thread(s); the "
              f"machine is shared, so absolute times are loose; ratios are from the same run.",
        table={"columns": ["threads", "model", "parameters", "fwd+bwd median", "/ MLPST"], "rows": rows},
        data={"ms": {str(k): v for k, v in ms.items()}, "parameters": params},
    )
