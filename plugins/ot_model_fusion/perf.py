"""Cost of `ot-model-fusion` against what it replaces, timed in the same run (interleaved rounds).

Fusion is not a training step, so it is timed as a whole: OT fusion of two MLPNets (digits
sizes, 64-400-200-100-10) with the weight cost and with the activation cost (200 inputs), against
vanilla parameter averaging and against 100 SGD steps of training one MLPNet (batch 64): the
retraining that one-shot fusion avoids, in units of steps. At inference, the fused model costs one
network's forward; the prediction ensemble it replaces costs two: both are timed on the 360 test
digits. Untrained parents: the timings do not depend on the weights' values.

    zoo reproduce ot-model-fusion --part perf
"""

from __future__ import annotations

import os

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

from .method import average, fuse, predict_ensemble, training_inputs
from .repro import BATCH, LR, MOMENTUM, SAMPLES, TASK, mlpnet

TRAIN_STEPS = 50


def _train_steps(x, y) -> float:
    model = mlpnet()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def steps():
        for i in range(TRAIN_STEPS):
            batch = slice((i * BATCH) % (len(x) - BATCH), (i * BATCH) % (len(x) - BATCH) + BATCH)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return seconds(steps)


def measure(rounds: int) -> tuple[dict, dict]:
    torch.manual_seed(0)
    parents = [mlpnet(), mlpnet()]
    splits = zoo.get_task(TASK).splits()
    x, y = splits["train"].tensors
    x_test = splits["test"].tensors[0]
    inputs = training_inputs(TASK, SAMPLES, seed=0)
    fused = fuse(parents, inputs=inputs)[0].eval()
    with torch.no_grad():
        runs = {
            "OT fusion, weight cost": lambda: seconds(lambda: fuse(parents, alignment="weights", inputs=inputs)),
            "OT fusion, activation cost": lambda: seconds(lambda: fuse(parents, alignment="activations",
                                                                       inputs=inputs)),
            "vanilla averaging": lambda: seconds(lambda: average(parents)),
            "fused model, test forward": lambda: seconds(lambda: fused(x_test)),
            "ensemble of 2, test forward": lambda: seconds(lambda: predict_ensemble(parents, (x_test,))),
        }
        times = interleaved(runs, rounds)
    times[f"{TRAIN_STEPS} SGD steps, one MLPNet"] = interleaved({"t": lambda: _train_steps(x, y)}, rounds)["t"]
    return medians(times), times


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    results = {}
    # the machine's default (torch's own default may have been lowered by a part run before this one)
    for threads in (os.cpu_count() or 1, 1):
        torch.set_num_threads(threads)
        results[threads] = measure(rounds)
    rows = []
    for threads, (med, _) in results.items():
        step = med[f"{TRAIN_STEPS} SGD steps, one MLPNet"] / TRAIN_STEPS
        for name, value in med.items():
            rows.append([threads, name, f"{value * 1e3:.2f}", f"{value / step:.0f}"])
    med1 = results[1][0]
    step1 = med1[f"{TRAIN_STEPS} SGD steps, one MLPNet"] / TRAIN_STEPS
    summary = (f"1 thread: OT fusion of two MLPNets takes {med1['OT fusion, weight cost'] * 1e3:.0f} ms (weight cost) "
               f"and {med1['OT fusion, activation cost'] * 1e3:.0f} ms (activation cost, {SAMPLES} inputs), the time "
               f"of {med1['OT fusion, weight cost'] / step1:.0f} and {med1['OT fusion, activation cost'] / step1:.0f} "
               f"SGD steps of one MLPNet ({step1 * 1e3:.2f} ms a step); vanilla averaging "
               f"{med1['vanilla averaging'] * 1e3:.1f} ms. At inference the fused model costs "
               f"{med1['fused model, test forward'] / med1['ensemble of 2, test forward']:.2f}x the ensemble of two "
               f"it replaces. Medians of {rounds} interleaved rounds on a shared machine.")
    print(summary)
    run.record(
        "perf", claim="what one-shot fusion costs against the retraining and the ensemble it replaces",
        verdict="measured", summary=summary,
        setup=(f"Two MLPNets (64-400-200-100-10, no biases), {SAMPLES} activation inputs, exact OT (ot.emd); "
               f"{TRAIN_STEPS} SGD steps at batch {BATCH}; test forward on 360 digits; default thread count "
               f"({list(results)[0]}) and 1 thread; interleaved rounds, medians."),
        table={"columns": ["threads", "what", "median ms", "in SGD steps of one MLPNet"], "rows": rows},
        data={str(threads): {"medians_s": med, "times_s": times} for threads, (med, times) in results.items()},
    )
