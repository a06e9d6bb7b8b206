"""Control for `dysymnet`'s reproduction (repro.py): on the benchmarks where the true structure,
fitted once by the search's short routine, was not recovered, can that structure's constants be
fitted at all with a fit closer to the paper's (longer training, several initialisations)?

Protocol, fixed before running: for each benchmark of the reproduction and seed 0, 1, 2, the
hand-written true structure fitted from 5 random initialisations, each with 1000 Adam steps (L1
1e-4), pruning at 0.01 and 100 L-BFGS iterations; the initialisation with the highest reward R is
kept and its expression compared with the truth by the same exact-recovery rule. If this recovers
where the short fit did not, the search's per-structure fit, not the symbolic network, limited
recovery; if not, constant fitting by gradient descent fails there at this size. Recorded as
measured numbers (a diagnosis, not a claim).

    zoo reproduce dysymnet --part repro_fit
"""

from __future__ import annotations

import time

import numpy as np
import torch

from zoo.reproduce import Run

from .repro import EQUATIONS, TRUE_STRUCTURES

RESTARTS, STEPS, LBFGS = 5, 1000, 100


def best_fit(task, seed: int, restarts: int, steps: int, lbfgs: int) -> dict:
    from .config import SymbolicNetworkConfig
    from .model import SymbolicNetwork, equivalent, fit_network, reward
    from .task import truth

    x, y = task.splits()["train"].tensors
    best = None
    for restart in range(restarts):
        torch.manual_seed(100 * seed + restart)
        net = SymbolicNetwork(SymbolicNetworkConfig(n_inputs=x.shape[1], layers=TRUE_STRUCTURES[task.equation]))
        fit_network(net, x, y, steps=steps, lbfgs_iterations=lbfgs)
        r = reward(net, x, y)
        if best is None or r > best[0]:
            best = (r, net)
    expr = best[1].expression()
    return {"reward": best[0], "recovered": bool(equivalent(expr, truth(task.equation))), "expression": str(expr)[:400]}


def reproduce(run: Run) -> None:
    from .task import NguyenTask

    seeds = list(run.pick((0, 1, 2), (0,)))
    equations = run.pick(EQUATIONS, ("nguyen-1",))
    restarts, steps, lbfgs = run.pick(RESTARTS, 1), run.pick(STEPS, 20), run.pick(LBFGS, 5)
    torch.set_num_threads(1)
    start = time.time()
    results = {}
    for eq in equations:
        for seed in seeds:
            results[f"{eq}/{seed}"] = best_fit(NguyenTask(eq, seed=seed), seed, restarts, steps, lbfgs)
            print(eq, seed, results[f"{eq}/{seed}"], flush=True)
    rate = {eq: float(np.mean([results[f"{eq}/{s}"]["recovered"] for s in seeds])) for eq in equations}
    summary = (f"True structures fitted with {restarts} initialisations x ({steps} Adam steps + {lbfgs} L-BFGS "
               f"iterations), best reward kept: recovery rate " + ", ".join(f"{eq} {v:.2f}" for eq, v in rate.items())
               + f" over seeds {seeds}.")
    print(summary)
    run.record(
        "dysymnet-fit", claim="Diagnosis of missed recoveries: can the true structure's constants be fitted by "
                              "gradient descent with a longer fit and restarts?",
        verdict="measured", summary=summary,
        setup=f"Benchmarks {list(equations)}, the training points of repro.py's seeds; the hand-written true "
              f"structures {({eq: TRUE_STRUCTURES[eq] for eq in equations})}; {restarts} initialisations (N(0, 0.5^2) "
              f"weights), {steps} Adam steps (lr 0.05, L1 1e-4), pruning at 0.01, {lbfgs} L-BFGS iterations; same "
              f"exact-recovery rule.",
        table={"columns": ["benchmark", "seed", "recovered", "reward", "expression"],
               "rows": [[k.split("/")[0], int(k.split("/")[1]), v["recovered"], f"{v['reward']:.6f}",
                         v["expression"][:120]] for k, v in results.items()]},
        data={"results": results, "recovery_rate": rate, "seconds": time.time() - start},
    )
