"""Speed of `nau-nmu`: forward+backward of the paper's arithmetic network (100 inputs, 2 hidden, 1 output,
batch 128) as NAU -> NMU and NAU -> NAU against the same shapes written as plain nn.Linear layers (the obvious
reference: an NAU is a linear layer without bias) and against the NALU -> NALU baseline, interleaved, at 1
thread and at the default thread count; and a wide stack (128 -> 128 -> 128, batch 128) where the NMU's product
over inputs costs more than a matmul.

    zoo reproduce nau-nmu --part perf
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .model import NALU, NAU, NMU

BATCH = 128


def _models(width_in: int, hidden: int, out: int) -> dict:
    torch.manual_seed(0)
    return {
        "NAU -> NMU": nn.Sequential(NAU(width_in, hidden), NMU(hidden, out)),
        "NAU -> NAU": nn.Sequential(NAU(width_in, hidden), NAU(hidden, out)),
        "nn.Linear -> nn.Linear": nn.Sequential(nn.Linear(width_in, hidden, bias=False), nn.Linear(hidden, out, bias=False)),
        "NALU -> NALU": nn.Sequential(NALU(width_in, hidden), NALU(hidden, out)),
    }


def _time(models: dict, x: torch.Tensor, rounds: int) -> dict:
    runs = {name: (lambda m=m: fwd_bwd_seconds(m, m, x)) for name, m in models.items()}
    return medians(interleaved(runs, rounds))


def reproduce(run: Run) -> None:
    rounds = run.pick(50, 3)
    default_threads = torch.get_num_threads()
    shapes = {"paper (100-2-1)": (100, 2, 1), "wide (128-128-128)": (128, 128, 128)}
    measured = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        for label, (width_in, hidden, out) in shapes.items():
            x = torch.rand(BATCH, width_in) + 1.0
            measured[(threads, label)] = _time(_models(width_in, hidden, out), x, rounds if hidden < 100 else max(3, rounds // 10))
    torch.set_num_threads(default_threads)
    names = list(next(iter(measured.values())))
    rows = [[str(t), label] + [f"{m[n] * 1e3:.3f}" for n in names] for (t, label), m in measured.items()]
    parts = []
    for (t, label), m in measured.items():
        ref = m["nn.Linear -> nn.Linear"]
        parts.append(f"{label}, {t} thread(s): NAU->NMU {m['NAU -> NMU'] * 1e3:.3f} ms "
                     f"({m['NAU -> NMU'] / ref:.2f}x nn.Linear), NAU->NAU {m['NAU -> NAU'] * 1e3:.3f} ms "
                     f"({m['NAU -> NAU'] / ref:.2f}x), NALU->NALU {m['NALU -> NALU'] * 1e3:.3f} ms ({m['NALU -> NALU'] / ref:.2f}x)")
    summary = ("Forward+backward, batch 128, medians of interleaved rounds: " + "; ".join(parts) + ".")
    print(summary)
    run.record("perf", claim="forward+backward cost of NAU and NMU stacks against plain linear layers of the same shapes "
                             "and the NALU baseline", verdict="measured", summary=summary,
               setup=f"zoo.timing.interleaved + fwd_bwd_seconds (loss: output squared, mean), batch {BATCH}, inputs "
                     f"U[1, 2]; {rounds} rounds (a tenth, at least 3, for the wide shape); threads 1 and "
                     f"{default_threads}.",
               table={"columns": ["threads", "shape"] + [f"{n} ms" for n in names], "rows": rows},
               data={"medians_s": {f"{t} threads, {label}": m for (t, label), m in measured.items()}})
