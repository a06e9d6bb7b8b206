"""Speed of `multistage-nn`: the procedure (two stages of 3 x 20, Adam then L-BFGS each) against what it
replaces, one network of the same total parameter count (3 x 29: 1,828 against 1,802 parameters) trained by
zoo.train with the same number of Adam steps and L-BFGS iterations, on the same 300 points, in the same
run (interleaved rounds), at the default thread count and at one thread.

    zoo reproduce multistage-nn --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians, seconds

from .repro import data


def reproduce(run: Run) -> None:
    adam, lbfgs, rounds = run.pick((200, 100, 3), (20, 20, 1))
    x, y = data(300)
    staged = {"adam_steps": adam, "later_adam_steps": adam, "lbfgs_iterations": lbfgs}
    single = {"adam_steps": 2 * adam, "lbfgs_iterations": 3 * lbfgs}  # stage k runs k * lbfgs iterations

    def procedure(stages: int, width: int, schedule: dict):
        def timed() -> float:
            model = zoo.create("multistage-net", stages=stages, hidden_dim=width)
            return seconds(lambda: zoo.method("multistage-nn", **schedule).run(model, (x, y)))
        return timed

    threads = torch.get_num_threads()
    rows, data_out = [], {}
    for n in (threads, 1):
        torch.set_num_threads(n)
        times = interleaved({"multistage": procedure(2, 20, staged), "single": procedure(1, 29, single)}, rounds)
        med = medians(times)
        data_out[f"threads={n}"] = times
        rows.append([n, f"{med['multistage']:.2f}", f"{med['single']:.2f}", f"{med['multistage'] / med['single']:.2f}"])
    torch.set_num_threads(threads)
    summary = (f"Two stages ({2 * adam} Adam steps, {3 * lbfgs} L-BFGS iterations in all) against one network of "
               f"equal size and budget: " + "; ".join(f"{r[0]} thread(s): {r[1]} s vs {r[2]} s ({r[3]}x)" for r in rows)
               + ". The multistage side pays for twice the zoo.train runs (one per optimiser phase and stage) and "
                 "the residue FFT between stages.")
    print(summary)
    run.record("perf", claim="cost of the multistage procedure against one network of equal size and budget",
               verdict="measured", summary=summary,
               setup=f"300 points of the repro's 1D function, float64; medians of {rounds} interleaved rounds; threads "
                     f"{threads} and 1.",
               table={"columns": ["threads", "multistage s", "single network s", "ratio"], "rows": rows},
               data=data_out)
