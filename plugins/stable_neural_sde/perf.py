"""Speed of `stable-neural-sde`: forward+backward of the Langevin-type, linear-noise and geometric
SDEs against the naive neural SDE (the same solver, networks and step) and against a GRU classifier
(32 units) reading the raw observations, on a batch of 128 series of 50 irregular observations
(3 channels), at 1 thread and at the default thread count. Interleaved rounds, medians, ratios to
the naive SDE.

    zoo reproduce stable-neural-sde --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

BATCH, LENGTH = 128, 50
KINDS = ("langevin", "linear-noise", "geometric", "naive")


class GRUClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru, self.head = nn.GRU(3, 32, batch_first=True), nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.gru(x)[0][:, -1])


def fwd_bwd(model, x, y) -> float:
    model.zero_grad(set_to_none=True)
    return seconds(lambda: nn.functional.cross_entropy(model(x), y).backward())


def reproduce(run: Run) -> None:
    rounds = run.pick(10, 2)
    default_threads = torch.get_num_threads()
    task = zoo.get_task("dynamics/irregular", n_train=BATCH, n_val=0, n_test=4, missing_rate=0.5, seed=0)
    x, y = task.splits()["train"].tensors
    torch.manual_seed(0)
    models = {kind: zoo.create("stable-neural-sde", task=task, sde_type=kind) for kind in KINDS}
    models["gru-32"] = GRUClassifier()
    ms: dict[int, dict[str, float]] = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        runs = {name: (lambda m=m: fwd_bwd(m, x, y)) for name, m in models.items()}
        ms[threads] = {k: v * 1e3 for k, v in medians(interleaved(runs, rounds)).items()}
    torch.set_num_threads(default_threads)
    rows = [[t, name, f"{value:.1f} ms", f"{value / d['naive']:.2f}"] for t, d in ms.items() for name, value in d.items()]
    one = ms[1]
    summary = (f"Forward+backward, batch {BATCH}, {LENGTH} observations, dt 0.05 (20 Euler-Maruyama steps), 1 thread: "
               + ", ".join(f"{k} {one[k]:.1f} ms ({one[k] / one['naive']:.2f}x naive)" for k in KINDS[:3])
               + f", naive {one['naive']:.1f} ms, GRU-32 on the raw observations {one['gru-32']:.1f} ms.")
    print(summary)
    run.record(
        "perf", claim="Cost of the stable SDE classes against the naive neural SDE and a GRU", verdict="measured",
        summary=summary,
        setup=f"{rounds} interleaved rounds after one warm-up, medians, at 1 and {default_threads} thread(s); "
              f"stable-neural-sde defaults (latent 16, width 32, torchsde Euler-Maruyama, dt 0.05); the machine "
              f"is shared, so absolute times are loose; ratios are from the same run.",
        table={"columns": ["threads", "model", "fwd+bwd median", "/ naive SDE"], "rows": rows},
        data={"ms": {str(k): v for k, v in ms.items()}},
    )
