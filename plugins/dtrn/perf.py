"""Speed of `dtrn`: forward+backward of DTRN against the baselines of its reproduction (MMoE with 4 experts, PLE
with 2 shared + 1 per-task experts; the same embeddings and interest blocks) and DTRN without its hypernetwork
(variant `no-tim`), on dtrn/conflict's inputs (6 fields, 2 behaviour sequences of 8 items), batch 256,
interleaved, at 1 thread and the default count.

    zoo reproduce dtrn --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

BATCH, LENGTH = 256, 8


def _step(model, ids, histories, labels) -> float:
    model.zero_grad(set_to_none=True)
    loss = lambda: torch.nn.functional.binary_cross_entropy_with_logits(model(ids, histories), labels)  # noqa: E731
    return seconds(lambda: loss().backward())


def reproduce(run: Run) -> None:
    from .baselines import MMoE, PLE
    from .task import CARDINALITIES, ITEM_FIELD

    rounds = run.pick(15, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    cards = list(CARDINALITIES)
    models = {"DTRN": zoo.create("dtrn", field_cardinalities=cards),
              "DTRN no-TIM": zoo.create("dtrn", variant="no-tim", field_cardinalities=cards),
              "MMoE": MMoE(cards, dim=8, experts=4), "PLE": PLE(cards, dim=8, shared_experts=2, task_experts=1)}
    ids = (torch.rand(BATCH, len(cards)) * torch.tensor(cards)).long()
    histories = torch.randint(0, cards[ITEM_FIELD], (BATCH, 2, LENGTH))
    labels = torch.randint(0, 2, (BATCH, 2)).float()
    measured = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        measured[threads] = medians(interleaved(
            {n: (lambda m=m: _step(m, ids, histories, labels)) for n, m in models.items()}, rounds))
    torch.set_num_threads(default_threads)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    rows = [[str(t)] + [f"{m[n] * 1e3:.2f}" for n in models] + [f"{m['DTRN'] / m['MMoE']:.2f}",
                                                                 f"{m['DTRN'] / m['PLE']:.2f}"]
            for t, m in measured.items()]
    summary = (f"Forward+backward (sum of the tasks' BCE), batch {BATCH}, medians of {rounds} interleaved rounds: "
               + "; ".join(f"{t} thread(s): " + ", ".join(f"{n} {m[n] * 1e3:.2f} ms" for n in models)
                           + f" (DTRN / MMoE {m['DTRN'] / m['MMoE']:.2f}x, / PLE {m['DTRN'] / m['PLE']:.2f}x)"
                           for t, m in measured.items())
               + ". Parameters: " + ", ".join(f"{n} {p:,}" for n, p in params.items()) + " (embeddings included).")
    print(summary)
    run.record("perf", claim="the cost of DTRN's task-specific bottoms against the shared-bottom MMoE and PLE",
               verdict="measured", summary=summary,
               setup=f"default DTRN config (embedding 8), variant no-tim, baselines.py's MMoE and PLE, random inputs of "
                     f"dtrn/conflict's shape, batch {BATCH}, zoo.timing.interleaved, {rounds} rounds; threads 1 and "
                     f"{default_threads}; the machine was shared.",
               table={"columns": ["threads"] + [f"{n} ms" for n in models] + ["DTRN / MMoE", "DTRN / PLE"], "rows": rows},
               data={"medians_s": {str(t): m for t, m in measured.items()}, "parameters": params})
