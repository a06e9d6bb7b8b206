"""Speed of `finalmlp`: forward+backward of FinalMLP against the baselines of its reproduction (DeepFM and DCN,
embedding 10, DNN 400-400-400) and DualMLP (the same streams without gates and bilinear fusion: the cost the
two layers add), on the twelve fields of ctr/planted, batch 256, interleaved, at 1 thread and the default count.

    zoo reproduce finalmlp --part perf
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

CARDINALITIES = [1000, 500, 200, 100, 50, 50, 20, 20, 10, 10, 5, 2]  # ctr/planted's fields
BATCH = 256


def _step(model, ids, clicks) -> float:
    model.zero_grad(set_to_none=True)
    return seconds(lambda: F.cross_entropy(model(ids), clicks).backward())


def reproduce(run: Run) -> None:
    from .baselines import DCN, DeepFM

    rounds = run.pick(15, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    models = {"FinalMLP": zoo.create("finalmlp", field_cardinalities=CARDINALITIES),
              "DualMLP": zoo.create("finalmlp", variant="dualmlp", field_cardinalities=CARDINALITIES),
              "DeepFM": DeepFM(CARDINALITIES, 10, [400, 400, 400]),
              "DCN": DCN(CARDINALITIES, 10, [400, 400, 400], cross_layers=3)}
    ids = (torch.rand(BATCH, len(CARDINALITIES)) * torch.tensor(CARDINALITIES)).long()
    clicks = torch.randint(0, 2, (BATCH,))
    measured = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        measured[threads] = medians(interleaved({n: (lambda m=m: _step(m, ids, clicks)) for n, m in models.items()},
                                                rounds))
    torch.set_num_threads(default_threads)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    rows = [[str(t)] + [f"{m[n] * 1e3:.2f}" for n in models] + [f"{m['FinalMLP'] / m['DeepFM']:.2f}",
                                                                 f"{m['FinalMLP'] / m['DCN']:.2f}"]
            for t, m in measured.items()]
    summary = (f"Forward+backward (cross entropy), batch {BATCH}, 12 fields, medians of {rounds} interleaved rounds: "
               + "; ".join(f"{t} thread(s): " + ", ".join(f"{n} {m[n] * 1e3:.2f} ms" for n in models)
                           + f" (FinalMLP / DeepFM {m['FinalMLP'] / m['DeepFM']:.2f}x, / DCN {m['FinalMLP'] / m['DCN']:.2f}x)"
                           for t, m in measured.items())
               + ". Parameters: " + ", ".join(f"{n} {p:,}" for n, p in params.items()) + " (embeddings included).")
    print(summary)
    run.record("perf", claim="the cost of FinalMLP against the two-stream baselines DeepFM and DCN and the plain "
                             "two-stream MLP", verdict="measured", summary=summary,
               setup=f"default FinalMLP config, DualMLP variant, DeepFM and DCN of baselines.py (embedding 10, DNN "
                     f"400-400-400, 3 cross layers), random ids on ctr/planted's 12 fields, batch {BATCH}, "
                     f"zoo.timing.interleaved, {rounds} rounds; threads 1 and {default_threads}; the machine was shared.",
               table={"columns": ["threads"] + [f"{n} ms" for n in models] + ["FinalMLP / DeepFM", "FinalMLP / DCN"],
                      "rows": rows},
               data={"medians_s": {str(t): m for t, m in measured.items()}, "parameters": params})
