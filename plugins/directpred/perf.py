"""Speed of `directpred`: one BYOL/DirectPred step (two views, online + target forward, EMA, F update and
eigendecomposition every step) against one plain supervised step of the same encoder on digits, timed
in the same run with zoo.timing.method_overhead, at the default thread count and at one thread.

    zoo reproduce directpred --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import method_overhead


def encoder() -> nn.Module:  # 10 outputs, so that the plain side can train it on digits' labels
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))


def reproduce(run: Run) -> None:
    steps, rounds = run.pick((20, 5), (3, 1))
    threads = torch.get_num_threads()
    rows, data = [], {}
    for n in (threads, 1):
        torch.set_num_threads(n)
        for predictor in ("direct", "linear"):
            m = method_overhead(encoder, "digits", lambda p=predictor: [zoo.method("directpred", predictor=p)],
                                steps=steps, rounds=rounds, batch_size=128, optimizer="sgd", lr=0.03)
            data[f"{predictor}/threads={n}"] = m
            rows.append([predictor, n, f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}",
                         f"{m['ratio']:.2f}"])
    torch.set_num_threads(threads)
    summary = ("Per training step, batch 128, encoder MLP 64-256-10, projector 512-128: "
               + "; ".join(f"predictor={r[0]} at {r[1]} thread(s): {r[3]} ms vs plain {r[2]} ms ({r[4]}x)" for r in rows)
               + ". The method runs the encoder on two views, the target network, the projector and (direct) a "
                 "128x128 eigendecomposition per step.")
    print(summary)
    run.record("perf", claim="overhead of a DirectPred step over a plain supervised step of the same encoder",
               verdict="measured", summary=summary,
               setup=f"zoo.timing.method_overhead, {steps} steps x {rounds} interleaved rounds, medians; SGD lr 0.03, "
                     f"batch 128; threads {threads} and 1.",
               table={"columns": ["predictor", "threads", "plain ms/step", "method ms/step", "ratio"], "rows": rows},
               data=data)
