"""Speed of `concept-subspace-net`: forward+backward of the CSN's full training loss (two concepts,
variational encoder, decoder, prototype, KL and alignment terms; default config, batch 128) against
the obvious baseline, an MLP classifier with the same encoder body and one linear head per concept
trained by cross entropy alone; and against the CSN without the alignment term, to show what the
subspace alignment (QR of the prototype differences) costs. At 1 thread and the default count;
interleaved rounds, medians.

    zoo reproduce concept-subspace-net --part perf --out plugins/concept_subspace_net
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 128


def timed(loss_fn) -> float:
    start = time.perf_counter()
    loss_fn().backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(30, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    csn = zoo.create("concept-subspace-net").train()
    plain = zoo.create("concept-subspace-net", alignment="none").train()
    c = csn.config
    body = nn.Sequential(*list(csn.encoder.children())[:-1])  # same hidden layers, then linear heads
    heads = nn.ModuleList(nn.Linear(c.hidden_dim, k) for k in c.concepts)
    x = torch.randn(BATCH, c.input_dim)
    labels = torch.stack([torch.randint(0, k, (BATCH,)) for k in c.concepts], 1)

    def mlp_loss():
        h = body(x)
        return sum(F.cross_entropy(head(h), labels[:, i]) for i, head in enumerate(heads))

    ms = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"csn (full loss)": lambda: timed(lambda: csn.losses(x, labels)["loss"]),
                                   "csn without alignment": lambda: timed(lambda: plain.losses(x, labels)["loss"]),
                                   "mlp + linear heads (CE)": lambda: timed(mlp_loss)}, rounds))
        ms[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(1)
    one = ms[1]
    ratio = one["csn (full loss)"] / one["mlp + linear heads (CE)"]
    summary = (f"Forward+backward, batch {BATCH}, default config, 1 thread: CSN full loss {one['csn (full loss)']:.2f} "
               f"ms, without the alignment term {one['csn without alignment']:.2f} ms, MLP with linear heads "
               f"{one['mlp + linear heads (CE)']:.2f} ms (ratio CSN / MLP {ratio:.2f}).")
    print(summary)
    run.record(
        "perf", claim="cost of the CSN's training step against an MLP classifier with the same body",
        verdict="measured", summary=summary,
        setup=f"default config (8 inputs, 32-D latent, hidden 128, concepts [2, 2]); {rounds} interleaved rounds, "
              f"medians, at 1 and {default_threads} threads; a shared 2-core machine.",
        table={"columns": ["threads", "implementation", "median ms", "ratio to MLP"],
               "rows": [[t, k, f"{v:.2f}", f"{v / d['mlp + linear heads (CE)']:.2f}"] for t, d in ms.items()
                        for k, v in d.items()]},
        data={"ms": {str(k): v for k, v in ms.items()}, "ratio_1_thread": ratio},
    )
