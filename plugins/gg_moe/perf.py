"""Speed of `gg-moe`: forward+backward (training mode, one Gumbel gate draw) of GG MoE at the
reproduction's size on breast cancer (30 features, 2 classes, linear-ReLU embedding 16, K = 16
linear experts) against the MLP it is meant to replace (3 x 256, dropout 0.1, the reproduction's
baseline) and the softmax-gated MoE, batch 256, at 1 thread and the default thread count;
interleaved rounds, medians, as ratios to the MLP. Parameter counts beside them.

    zoo reproduce gg-moe --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .repro import mlp

BATCH, FEATURES, CLASSES = 256, 30, 2


def reproduce(run: Run) -> None:
    rounds = run.pick(100, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    models = {"GG MoE": zoo.create("gg-moe", d_in=FEATURES, d_out=CLASSES),
              "MoE (softmax gate)": zoo.create("gg-moe", d_in=FEATURES, d_out=CLASSES, gating="softmax"),
              "MLP 3 x 256": mlp(FEATURES, CLASSES)}
    for model in models.values():
        model.train()
    x = torch.randn(BATCH, FEATURES)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    results = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({name: (lambda m=m: fwd_bwd_seconds(m, m, x)) for name, m in models.items()},
                                  rounds))
        results[threads] = {name: {"us": s * 1e6, "ratio_to_mlp": s / med["MLP 3 x 256"]} for name, s in med.items()}
    torch.set_num_threads(default_threads)
    rows = [[t, name, params[name], f"{r['us']:.1f}", f"{r['ratio_to_mlp']:.2f}"]
            for t, d in results.items() for name, r in d.items()]
    summary = "; ".join(f"{t} thread(s): GG MoE {d['GG MoE']['us']:.0f} us, "
                        f"MoE {d['MoE (softmax gate)']['us']:.0f} us, "
                        f"MLP {d['MLP 3 x 256']['us']:.0f} us per forward+backward (GG MoE / MLP "
                        f"{d['GG MoE']['ratio_to_mlp']:.2f})" for t, d in results.items())
    summary += f". Parameters: GG MoE {params['GG MoE']}, MLP {params['MLP 3 x 256']}."
    print(summary)
    run.record(
        "perf", claim="GG MoE is smaller than the MLP it replaces; its step costs what its size suggests.",
        verdict="measured", summary=summary,
        setup=f"batch {BATCH} x {FEATURES} features, {CLASSES} classes, training mode; {rounds} interleaved rounds, "
              f"medians; the machine was shared, so absolute times are loose.",
        table={"columns": ["threads", "model", "parameters", "forward+backward (us)", "ratio to MLP"], "rows": rows},
        data={"params": params, "timings": {str(k): v for k, v in results.items()}},
    )
