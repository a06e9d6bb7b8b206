"""Speed of `arm-net`: forward+backward of ARM-Net against the baselines of its reproduction (an embedding MLP
300-300 and an FM, embedding 10) and ARM-Net+, on the twelve fields of ctr/planted, batch 256, interleaved, at
1 thread and the default count.

    zoo reproduce arm-net --part perf
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

CARDINALITIES = [1000, 500, 200, 100, 50, 50, 20, 20, 10, 10, 5, 2]  # ctr/planted's fields
BATCH = 256


def _step(model, ids, labels) -> float:
    model.zero_grad(set_to_none=True)
    return seconds(lambda: F.cross_entropy(model(ids), labels).backward())


def reproduce(run: Run) -> None:
    from .baselines import EmbeddingMLP, FactorizationMachine

    rounds = run.pick(15, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    models = {"ARM-Net": zoo.create("arm-net", field_cardinalities=CARDINALITIES),
              "ARM-Net+": zoo.create("arm-net", variant="plus", field_cardinalities=CARDINALITIES),
              "MLP": EmbeddingMLP(CARDINALITIES, 0, 10, [300, 300]),
              "FM": FactorizationMachine(CARDINALITIES, 0, 10)}
    ids = (torch.rand(BATCH, len(CARDINALITIES)) * torch.tensor(CARDINALITIES)).long()
    labels = torch.randint(0, 2, (BATCH,))
    measured = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        measured[threads] = medians(interleaved({n: (lambda m=m: _step(m, ids, labels)) for n, m in models.items()},
                                                rounds))
    torch.set_num_threads(default_threads)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    rows = [[str(t)] + [f"{m[n] * 1e3:.2f}" for n in models] + [f"{m['ARM-Net'] / m['MLP']:.2f}"]
            for t, m in measured.items()]
    summary = (f"Forward+backward (cross entropy), batch {BATCH}, 12 fields, medians of {rounds} interleaved rounds: "
               + "; ".join(f"{t} thread(s): " + ", ".join(f"{n} {m[n] * 1e3:.2f} ms" for n in models)
                           + f" (ARM-Net / MLP {m['ARM-Net'] / m['MLP']:.2f}x)" for t, m in measured.items())
               + ". Parameters: " + ", ".join(f"{n} {p:,}" for n, p in params.items()) + " (embeddings included).")
    print(summary)
    run.record("perf", claim="the cost of ARM-Net's adaptive relation module against an embedding MLP and an FM",
               verdict="measured", summary=summary,
               setup=f"default ARM-Net config (4 heads x 16 neurons, alpha 1.7, MLP 300-300), ARM-Net+ (DNN 300-300), "
                     f"baselines.py's MLP (300-300) and FM, embedding 10, random ids on ctr/planted's 12 fields, batch "
                     f"{BATCH}, zoo.timing.interleaved, {rounds} rounds; threads 1 and {default_threads}; the machine "
                     f"was shared.",
               table={"columns": ["threads"] + [f"{n} ms" for n in models] + ["ARM-Net / MLP"], "rows": rows},
               data={"medians_s": {str(t): m for t, m in measured.items()}, "parameters": params})
