"""Follow-up to `ewc`'s reproduction: is EWC's lower accuracy on the new task a matter of training time?

The main part (repro.py) found EWC keeping the earlier tasks far better than SGD and L2, but ending
the last task about 0.07 below plain SGD, with its accuracy on that task still rising when the 20
epochs ended (its figure). The paper trains 20 epochs over 60000 MNIST images; 20 epochs over 1150
digits are about 50 times fewer updates, and the penalty slows the descent on the new task. This
part tells "the claim fails at this scale" from "our protocol trains too briefly": the same
sequence (seed 0, permutations 1, 2, 3, the same lambda as the main part selected: 1000) with 3x
the epochs per task (60), for EWC and plain SGD.

Rule (written before running): with 60 epochs per task, if new(EWC) >= new(SGD) - 0.03 and
old(EWC) >= old(SGD) + 0.10, the gap of the main part came from short training ("reproduced": the
claim holds with enough updates); otherwise the new-task cost of EWC persists at this scale
("not reproduced").

    zoo reproduce ewc --part repro_longer
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run

from .repro import sequence

EWC_LAMBDA = 1000.0  # the main part's selection (held-out permutations, validation split)


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    start, cpu_start = time.time(), time.process_time()
    epochs = run.pick(60, 1)
    tasks = [zoo.get_task("digits/permuted", permutation=k + 1, seed=0) for k in range(run.pick(3, 2))]
    results, curves = {}, {}
    for name, importance in (("SGD", 0.0), ("EWC", EWC_LAMBDA)):
        matrix, curve = sequence(name, importance, tasks, 0, epochs)
        last = matrix[-1]
        results[name] = {"after_each_task": matrix.tolist(), "old": float(last[:-1].mean()), "new": float(last[-1]),
                         "mean": float(last.mean())}
        curves[name] = curve[:, -1].tolist()  # the last task's accuracy, epoch by epoch
        print(f"{name}, {epochs} epochs per task:\n{matrix.round(3)}", flush=True)
    ewc, sgd = results["EWC"], results["SGD"]
    holds = ewc["new"] >= sgd["new"] - 0.03 and ewc["old"] >= sgd["old"] + 0.10
    verdict = "reproduced" if holds else "not reproduced"
    last_start = (len(tasks) - 1) * epochs
    at_20 = {n: curves[n][last_start + min(20, epochs) - 1] for n in curves}
    summary = (f"With {epochs} epochs per task (seed 0), EWC ends the last task at {ewc['new']:.3f} against SGD's "
               f"{sgd['new']:.3f} (after 20 of those epochs: {at_20['EWC']:.3f} and {at_20['SGD']:.3f}), and keeps "
               f"{ewc['old']:.3f} on the earlier tasks against SGD's {sgd['old']:.3f}. "
               + f"EWC's gap to SGD on the last task narrows from {at_20['SGD'] - at_20['EWC']:.3f} after 20 epochs to "
               f"{sgd['new'] - ewc['new']:.3f} after {epochs}: "
               + ("within the rule's 0.03, so the main part's gap came from the short protocol."
                  if holds else "smaller, but not within the rule's 0.03: part of EWC's new-task cost persists with "
                                "3x the training at this scale."))
    rows = [[n, f"{r['old']:.3f}", f"{r['new']:.3f}", f"{r['mean']:.3f}", f"{at_20[n]:.3f}"]
            for n, r in results.items()]
    run.record(
        "ewc_longer",
        claim="EWC's accuracy on the new task matches plain SGD's once the new task is trained long enough, while it "
              "keeps the earlier tasks (follow-up to the main part's new-task gap).",
        verdict=verdict, summary=summary,
        setup=f"As the main part (MLP 64-400-400-10, SGD lr 1e-3, batch 10, true Fisher, lambda {EWC_LAMBDA:g}), seed "
              f"0, {len(tasks)} tasks (permutations 1..{len(tasks)}), {epochs} epochs per task instead of 20. Rule: "
              f"reproduced if new(EWC) >= new(SGD) - 0.03 and old(EWC) >= old(SGD) + 0.10.",
        table={"columns": ["method", "old tasks", "last task", "all tasks", "last task after 20 epochs"], "rows": rows},
        data={"results": results, "last_task_curve": curves, "seconds": time.time() - start,
              "cpu_seconds": time.process_time() - cpu_start, "mean_new_gap": float(sgd["new"] - ewc["new"])},
    )
    print(summary)
