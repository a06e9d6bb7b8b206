"""Cost of a Forward-Forward and a collaborative-FF training step against a backprop step, timed in
the same run.

The three train the reproduction's MLP (3 hidden ReLU layers of 500 units; backprop's has a linear
output layer added) on digits with zoo.train for a fixed number of steps, batch 128, Adam, in turn
(zoo.timing.interleaved, medians), at the default thread count and at one thread. An FF step runs
every layer twice (positive and negative data) and updates each layer from its own loss; CFF adds
only a sum of the detached goodnesses, so it should cost the same as FF. Plain training is timed on
the backprop MLP because an FF network has no output layer to train with cross-entropy.

    zoo reproduce collaborative-ff --part perf
"""

from __future__ import annotations

import os

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

from .repro import BATCH, LR, THRESHOLD, ff_mlp


def reproduce(run: Run) -> None:
    steps, rounds = run.pick(20, 3), run.pick(3, 1)
    task = zoo.get_task("digits")
    options = {"epochs": 10**6, "max_steps": steps, "eval_splits": [], "final_splits": [], "progress": False,
               "batch_size": BATCH, "optimizer": "adam", "device": "cpu"}

    def timed(kind: str):
        def one() -> float:
            if kind == "backprop":
                model = ff_mlp(output=True)
                return seconds(lambda: zoo.train(model, task, lr=1e-3, **options)) / steps
            method = zoo.method("collaborative-ff", collaboration=kind == "CFF", threshold=THRESHOLD)
            model = ff_mlp()
            return seconds(lambda: zoo.train(model, task, methods=[method], lr=LR, **options)) / steps
        return one

    default_threads = os.cpu_count() or 1  # torch's default; a script run before may have set 1
    rows, data = [], {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        times = medians(interleaved({k: timed(k) for k in ("backprop", "FF", "CFF")}, rounds))
        data[f"{threads} thread(s)"] = {**times, "FF/backprop": times["FF"] / times["backprop"],
                                        "CFF/FF": times["CFF"] / times["FF"]}
        rows.append([threads, f"{1e3 * times['backprop']:.2f}", f"{1e3 * times['FF']:.2f}", f"{1e3 * times['CFF']:.2f}",
                     f"{times['FF'] / times['backprop']:.2f}", f"{times['CFF'] / times['FF']:.2f}"])
        print(rows[-1], flush=True)
    torch.set_num_threads(default_threads)
    summary = "Seconds per training step (same run, interleaved medians): " + "; ".join(
        f"at {r[0]} thread(s) FF/backprop {r[4]}x, CFF/FF {r[5]}x" for r in rows) + "."
    run.record("perf_step", claim="Cost of an FF and a CFF step against a backprop step on the same MLP.",
               verdict="measured", summary=summary,
               setup=f"digits, 3x500 ReLU MLP, batch {BATCH}, Adam; {steps} steps x {rounds} interleaved rounds per "
                     f"side (zoo.timing.interleaved), threads {default_threads} and 1; backprop's MLP has a 500->10 "
                     f"output layer, FF's none",
               table={"columns": ["threads", "backprop ms/step", "FF ms/step", "CFF ms/step", "FF/backprop", "CFF/FF"],
                      "rows": rows},
               data=data)
    print(summary)
