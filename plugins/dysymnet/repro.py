"""Reproduction for `dysymnet` (Li et al., ICML 2024), Nguyen benchmarks (Table 1).

Claim: the neural-guided dynamic symbolic network recovers the exact ground-truth expression on
standard symbolic-regression benchmarks, and fits constants well.

Protocol, fixed before running:
- Benchmarks: Nguyen-1 (x^3 + x^2 + x), Nguyen-2 (x^4 + x^3 + x^2 + x), Nguyen-9 (sin x + sin y^2),
  Nguyen-10 (2 sin x cos y); per seed s (0, 1, 2) 20 training points from the benchmark's range
  (seeded by s) and 1000 test points.
- DySymNet: controller (GRU, 32 units) sampling 1-3 layers of 2-4 operators from {identity, square,
  sin, cos, exp, mul}; per epoch 6 structures, each fitted (200 Adam steps with L1 1e-4, pruning at
  0.01, 30 L-BFGS iterations) and scored R = 1/(1 + NRMSE); risk-seeking policy gradient on the top
  half of the batch, entropy weight 0.01; 2 epochs at most (12 structures), stopping early at
  R >= 0.9999. The best structure's expression is read off.
- Baseline: gplearn SymbolicRegressor, functions {add, sub, mul, sin, cos}, population 500, 10
  generations (stopping at RMSE 1e-6), parsimony 0.001, constants in [-1, 1], random_state s: a budget
  of about the same wall time per run as DySymNet's search here (both recorded).
- Recovery: the expression's constants rounded to 2 decimals, made rational, and the difference to
  the truth simplified to 0 by sympy. Also recorded: test NRMSE.

Verdict rule (written before the first full run): per seed, the share of the 4 benchmarks DySymNet
recovers exactly is (1) at least the baseline's, and (2) at least 3 of 4 ("recovers on standard
benchmarks"); the per-equation recovery rate over the 3 seeds is reported for both.

Control, fixed before running, for a benchmark DySymNet misses on a seed: the true structure
(written by hand) fitted by the same routine. If that recovers it, the search budget, not the
network's constant fitting, was the limit; if not, the fitting protocol fails there.

Departures: a short search (12 structures; the paper samples hundreds) and a short fit per structure
with an L-BFGS refinement; a six-operator library; 4 of the 12 Nguyen benchmarks.

    zoo reproduce dysymnet --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

from zoo.reproduce import Run
from zoo.verdicts import Check

EQUATIONS = ("nguyen-1", "nguyen-2", "nguyen-9", "nguyen-10")
EPOCHS, BATCH = 2, 6
# hand-written structures able to express each benchmark exactly (for the control)
TRUE_STRUCTURES = {
    "nguyen-1": [["identity", "square"], ["identity", "mul"]],
    "nguyen-2": [["identity", "square"], ["identity", "square", "mul"]],
    "nguyen-3": [["identity", "square"], ["identity", "square", "mul"], ["identity", "mul"]],
    "nguyen-9": [["identity", "square"], ["sin", "sin"]],
    "nguyen-10": [["sin", "cos"], ["mul"]],
}


def test_nrmse(model, task) -> float:
    from .model import nrmse

    x, y = task.splits()["test"].tensors
    with torch.no_grad():
        return nrmse(model(x), y)


def run_dysymnet(task, seed: int, epochs: int, batch: int) -> dict:
    from .model import equivalent, search
    from .task import truth

    x, y = task.splits()["train"].tensors
    start = time.perf_counter()
    best = search(x, y, epochs=epochs, batch=batch, seed=seed)
    seconds = time.perf_counter() - start
    expr = best["network"].expression()
    return {"recovered": bool(equivalent(expr, truth(task.equation))), "expression": str(expr)[:400],
            "structure": best["structure"], "reward": best["reward"], "test_nrmse": test_nrmse(best["network"], task),
            "evaluated": best["evaluated"], "seconds": seconds}


def run_gplearn(task, seed: int, population: int, generations: int) -> dict:
    import sympy
    from gplearn.genetic import SymbolicRegressor

    from .model import equivalent
    from .task import truth

    x, y = (t.double().numpy() for t in task.splits()["train"].tensors)
    start = time.perf_counter()
    est = SymbolicRegressor(population_size=population, generations=generations, function_set=("add", "sub", "mul",
                            "sin", "cos"), metric="rmse", stopping_criteria=1e-6, parsimony_coefficient=0.001,
                            const_range=(-1.0, 1.0), random_state=seed, n_jobs=1)
    est.fit(x, y[:, 0])
    seconds = time.perf_counter() - start
    names = {f"X{i}": sympy.Symbol(f"x{i + 1}") for i in range(x.shape[1])}
    ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "sin": sympy.sin,
           "cos": sympy.cos}
    expr = sympy.sympify(str(est._program), locals={**names, **ops})
    xt, yt = (t.double().numpy() for t in task.splits()["test"].tensors)
    pred = est.predict(xt)
    return {"recovered": bool(equivalent(sympy.expand(expr), truth(task.equation))), "expression": str(expr)[:400],
            "test_nrmse": float(np.sqrt(np.mean((pred - yt[:, 0]) ** 2)) / yt.std()), "seconds": seconds}


def control_true_structure(task, seed: int) -> dict:
    from .config import SymbolicNetworkConfig
    from .model import SymbolicNetwork, equivalent, fit_network, reward
    from .task import truth

    x, y = task.splits()["train"].tensors
    torch.manual_seed(seed)
    net = SymbolicNetwork(SymbolicNetworkConfig(n_inputs=x.shape[1], layers=TRUE_STRUCTURES[task.equation]))
    fit_network(net, x, y)
    expr = net.expression()
    return {"recovered": bool(equivalent(expr, truth(task.equation))), "reward": reward(net, x, y),
            "expression": str(expr)[:400]}


def reproduce(run: Run) -> None:
    from .task import NguyenTask

    seeds = list(run.pick((0, 1, 2), (0,)))
    equations = run.pick(EQUATIONS, ("nguyen-1",))
    epochs, batch = run.pick(EPOCHS, 1), run.pick(BATCH, 2)
    population, generations = run.pick(500, 50), run.pick(10, 2)
    torch.set_num_threads(1)
    start = time.time()
    ours, theirs, controls = {}, {}, {}
    for seed in seeds:
        for eq in equations:
            task = NguyenTask(eq, seed=seed)
            ours[(eq, seed)] = run_dysymnet(task, seed, epochs, batch)
            theirs[(eq, seed)] = run_gplearn(task, seed, population, generations)
            o, t = ours[(eq, seed)], theirs[(eq, seed)]
            print(f"{eq} seed {seed}: DySymNet {'RECOVERED' if o['recovered'] else 'missed'} ({o['evaluated']} "
                  f"structures, {o['seconds']:.0f}s, R {o['reward']:.5f}) {o['expression'][:80]}; gplearn "
                  f"{'RECOVERED' if t['recovered'] else 'missed'} ({t['seconds']:.0f}s) {t['expression'][:60]}",
                  flush=True)
            if not o["recovered"] and eq in TRUE_STRUCTURES:
                controls[f"{eq}/{seed}"] = control_true_structure(task, seed)
                print(f"  control (true structure): {controls[f'{eq}/{seed}']}", flush=True)
    share = lambda results, seed: float(np.mean([results[(eq, seed)]["recovered"] for eq in equations]))  # noqa: E731
    ours_share, theirs_share = [share(ours, s) for s in seeds], [share(theirs, s) for s in seeds]
    checks = [Check("share of benchmarks recovered exactly, DySymNet at least gplearn's", ours=ours_share,
                    versus=theirs_share, better="higher", margin=-1e-9),
              Check("DySymNet recovers at least 3 of the 4 benchmarks exactly", ours=ours_share, versus=0.75,
                    better="higher", margin=-1e-9)]
    rate = lambda results, eq: float(np.mean([results[(eq, s)]["recovered"] for s in seeds]))  # noqa: E731
    rows = [[eq, f"{rate(ours, eq):.2f}", f"{rate(theirs, eq):.2f}",
             f"{np.mean([ours[(eq, s)]['test_nrmse'] for s in seeds]):.2e}",
             f"{np.mean([theirs[(eq, s)]['test_nrmse'] for s in seeds]):.2e}",
             f"{np.mean([ours[(eq, s)]['seconds'] for s in seeds]):.0f} / "
             f"{np.mean([theirs[(eq, s)]['seconds'] for s in seeds]):.0f}"] for eq in equations]
    summary = ("Exact recovery rate over seeds " + ", ".join(map(str, seeds)) + ": " + "; ".join(
        f"{eq} DySymNet {rate(ours, eq):.2f} vs gplearn {rate(theirs, eq):.2f}" for eq in equations)
        + f". Share per seed: DySymNet {ours_share}, gplearn {theirs_share}.")
    if controls:
        fixed = [k for k, c in controls.items() if c["recovered"]]
        summary += (f" Control (true structure, same fit) on the {len(controls)} missed runs: recovered on "
                    f"{len(fixed)} ({', '.join(fixed) or 'none'}): "
                    + ("the search budget, not the constant fitting, was the limit."
                       if len(fixed) == len(controls) else
                       "where the true structure is not recovered either, the fitting protocol fails; elsewhere the "
                       "search budget was the limit."))
    print(summary)
    run.record(
        "dysymnet",
        claim="DySymNet recovers the exact ground-truth expressions of standard symbolic-regression benchmarks "
              "(Nguyen) and fits their constants well.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Benchmarks {list(equations)}, 20 training points per seed (1000 test). DySymNet: GRU controller "
              f"(32), structures of 1-3 layers x 2-4 operators from identity, square, sin, cos, exp, mul; {batch} "
              f"structures per epoch, at most {epochs} epochs, early stop at R >= 0.9999; per structure 200 Adam "
              f"steps (lr 0.05, L1 1e-4), pruning at 0.01, 30 L-BFGS iterations; risk-seeking PG on the top half, "
              f"entropy 0.01, controller Adam lr 3e-3. gplearn: population {population}, {generations} generations, "
              f"{{add, sub, mul, sin, cos}}, parsimony 0.001, constants in [-1, 1]. Recovery: constants rounded to 2 "
              f"decimals, sympy difference simplifies to 0. Departures: a very short search ({epochs * batch} "
              f"structures at most) and short fits with an L-BFGS refinement; six operators; 4 of 12 benchmarks.",
        table={"columns": ["benchmark", "DySymNet recovery rate", "gplearn recovery rate", "DySymNet test NRMSE",
                           "gplearn test NRMSE", "seconds DySymNet / gplearn"], "rows": rows},
        paper={"note": "Table 1: DySymNet's recovery rate on the Nguyen benchmarks is high (near 100% on most), above "
                       "the GP and DSR baselines."},
        data={"dysymnet": {f"{k[0]}/{k[1]}": v for k, v in ours.items()},
              "gplearn": {f"{k[0]}/{k[1]}": v for k, v in theirs.items()}, "control": controls or None,
              "seconds": time.time() - start},
    )
