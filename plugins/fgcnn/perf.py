"""Speed of `fgcnn`: forward+backward of FGCNN against IPNN alone (variant `ipnn`, the same network without
feature generation: the paper's baseline and the cost the generated features add), at the default config on
the twelve fields of ctr/planted, batch 256, interleaved, at 1 thread and the default count.

    zoo reproduce fgcnn --part perf
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
    rounds = run.pick(15, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    models = {"FGCNN": zoo.create("fgcnn", field_cardinalities=CARDINALITIES),
              "IPNN": zoo.create("fgcnn", variant="ipnn", field_cardinalities=CARDINALITIES)}
    ids = (torch.rand(BATCH, len(CARDINALITIES)) * torch.tensor(CARDINALITIES)).long()
    clicks = torch.randint(0, 2, (BATCH,))
    measured = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        measured[threads] = medians(interleaved({n: (lambda m=m: _step(m, ids, clicks)) for n, m in models.items()},
                                                rounds))
    torch.set_num_threads(default_threads)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    rows = [[str(t), f"{m['FGCNN'] * 1e3:.2f}", f"{m['IPNN'] * 1e3:.2f}", f"{m['FGCNN'] / m['IPNN']:.2f}"]
            for t, m in measured.items()]
    summary = (f"Forward+backward (cross entropy), batch {BATCH}, 12 fields, default config, medians of {rounds} "
               f"interleaved rounds: " + "; ".join(
                   f"{t} thread(s): FGCNN {m['FGCNN'] * 1e3:.2f} ms, IPNN {m['IPNN'] * 1e3:.2f} ms "
                   f"({m['FGCNN'] / m['IPNN']:.2f}x)" for t, m in measured.items())
               + f". Parameters: FGCNN {params['FGCNN']:,}, IPNN {params['IPNN']:,} (embeddings included).")
    print(summary)
    run.record("perf", claim="the cost of FGCNN's feature generation: forward+backward against IPNN alone",
               verdict="measured", summary=summary,
               setup=f"zoo.create('fgcnn') and variant 'ipnn' on ctr/planted's 12 fields, random ids, batch {BATCH}, "
                     f"zoo.timing.interleaved, {rounds} rounds; threads 1 and {default_threads}; the machine was shared.",
               table={"columns": ["threads", "FGCNN ms", "IPNN ms", "FGCNN / IPNN"], "rows": rows},
               data={"medians_s": {str(t): m for t, m in measured.items()}, "parameters": params})
