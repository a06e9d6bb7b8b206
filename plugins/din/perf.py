"""Speed of `din`: forward+backward of DIN (the local activation unit over every behaviour) against the
Embedding&MLP base model (sum pooling) of the same sizes, the paper's own baseline and the cost the
activation unit adds, at the default config (64 per field, activation unit 36, MLP 200-80-2, Dice), with
histories of 30 behaviours, batch 32 (the paper's) and 256, interleaved, at 1 thread and the default count.

    zoo reproduce din --part perf
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

LENGTH = 30


def _inputs(model, batch: int):
    g = torch.Generator().manual_seed(0)
    c = model.config
    limits = torch.tensor([c.num_goods, c.num_shops, c.num_categories])
    history = (torch.rand(batch, LENGTH, 3, generator=g) * limits).long() + 1
    candidate = (torch.rand(batch, 3, generator=g) * limits).long() + 1
    labels = torch.randint(0, 2, (batch,), generator=g)
    return history, candidate, labels


def _step(model, history, candidate, labels) -> float:
    model.zero_grad(set_to_none=True)
    return seconds(lambda: F.cross_entropy(model(history, candidate), labels).backward())


def reproduce(run: Run) -> None:
    rounds = run.pick(15, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    models = {"DIN": zoo.create("din"), "Base (sum pooling)": zoo.create("din", variant="base")}
    measured = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        for batch in (32, 256):
            data = _inputs(models["DIN"], batch)
            runs = {name: (lambda m=m: _step(m, *data)) for name, m in models.items()}
            measured[(threads, batch)] = medians(interleaved(runs, rounds))
    torch.set_num_threads(default_threads)
    rows = [[str(t), str(b), f"{m['DIN'] * 1e3:.2f}", f"{m['Base (sum pooling)'] * 1e3:.2f}",
             f"{m['DIN'] / m['Base (sum pooling)']:.2f}"] for (t, b), m in measured.items()]
    summary = ("Forward+backward (cross entropy), histories of 30 behaviours, default config, medians of "
               f"{rounds} interleaved rounds: " + "; ".join(
                   f"{t} thread(s), batch {b}: DIN {m['DIN'] * 1e3:.2f} ms, Base {m['Base (sum pooling)'] * 1e3:.2f} ms "
                   f"({m['DIN'] / m['Base (sum pooling)']:.2f}x)" for (t, b), m in measured.items()) + ".")
    print(summary)
    run.record("perf", claim="the cost of DIN's local activation unit: forward+backward against the sum-pooling base model",
               verdict="measured", summary=summary,
               setup=f"zoo.create('din') and variant 'base' (default sizes: 2000 goods, 200 shops, 40 categories), "
                     f"random ids, {LENGTH} behaviours per user, zoo.timing.interleaved, {rounds} rounds; threads 1 "
                     f"and {default_threads}.",
               table={"columns": ["threads", "batch", "DIN ms", "Base ms", "DIN / Base"], "rows": rows},
               data={"medians_s": {f"{t} threads, batch {b}": m for (t, b), m in measured.items()}})
