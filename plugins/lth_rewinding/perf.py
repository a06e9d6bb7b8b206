"""Speed of `lth-rewinding`: a whole procedure (train k steps, keep theta_k, round 0 dense, one pruning round)
against plain training for the same number of optimizer steps, timed in the same run, at the default thread
count and at one.

What is compared: the procedure's cost per optimizer step (masked layers, the rewinding snapshot, pruning,
rewinding and the stage bookkeeping between its runs) against a plain zoo.train of the same conv net for the
same total number of steps. A ratio of 1.0 means the procedure adds nothing to the training it wraps.

    zoo reproduce lth-rewinding --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds
from zoo_plugins.lth_rewinding.repro import WIDTH, conv_net

K = 10


def reproduce(run: Run) -> None:
    width, rounds = run.pick(WIDTH, 8), run.pick(3, 1)
    options = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 60, "device": "cpu", "epochs": 1,
               "progress": False, "eval_splits": [], "final_splits": []}
    steps_per_epoch = -(-len(zoo.get_task("digits").splits()["train"]) // options["batch_size"])
    total_steps = K + 2 * steps_per_epoch  # the rewinding run, round 0 (dense), round 1 (pruned)

    def procedure() -> float:
        model = conv_net(width)
        method = zoo.method("lth-rewinding", rewind_iteration=K, rounds=1)
        return seconds(lambda: method.run(model, "digits", **options)) / total_steps

    def plain() -> float:
        model = conv_net(width)
        plain_options = {**options, "epochs": 10**6, "max_steps": total_steps}
        return seconds(lambda: zoo.train(model, "digits", **plain_options)) / total_steps

    default_threads = torch.get_num_threads()
    results = {}
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        times = medians(interleaved({"plain": plain, "procedure": procedure}, rounds=rounds))
        results[threads] = {"plain_step_s": times["plain"], "procedure_step_s": times["procedure"],
                            "ratio": times["procedure"] / times["plain"]}
    torch.set_num_threads(default_threads)
    rows = [[t, f"{1000 * r['plain_step_s']:.2f}", f"{1000 * r['procedure_step_s']:.2f}", f"{r['ratio']:.2f}"]
            for t, r in results.items()]
    summary = (f"Per optimizer step (conv {width}-{width}-{2 * width}-{2 * width}, batch 60, {total_steps} steps: "
               f"k={K}, round 0, one pruning round): " + ", ".join(
                   f"plain training {1000 * r['plain_step_s']:.2f} ms vs the procedure {1000 * r['procedure_step_s']:.2f} "
                   f"ms ({r['ratio']:.2f}x) at {t} thread(s)" for t, r in results.items()) + ".")
    run.record("lth-rewinding-speed", verdict="measured",
               claim="Cost of the IMP-with-rewinding procedure per optimizer step against plain training.",
               summary=summary,
               setup=(f"the procedure (rewind_iteration {K}, rounds 1, one epoch per run) against zoo.train for the "
                      f"same {total_steps} steps; {rounds} interleaved rounds per side after a warm-up, medians."),
               table={"columns": ["threads", "plain ms/step", "procedure ms/step", "ratio"], "rows": rows},
               data={str(t): r for t, r in results.items()})
    print(summary)
