"""Reproduction for `nau-nmu` (Madsen & Johansen, 2020, arXiv:2001.05016), the arithmetic dataset task (Sec. 4.1).

Claim: the NAU learns exact addition and subtraction and the NMU exact multiplication of subsets of an input
vector, extrapolating outside the training range, and they converge more consistently than the NALU.

Protocol, fixed before running:
- Tasks nau-nmu/arithmetic-{add,sub,mul} with INPUT_SIZE = 10 inputs instead of the paper's 100 (subsets of
  round(0.25 * 10) = 2 that overlap by 1; the paper's ratios), target a + b, a - b or a * b; training batches
  of 128 drawn fresh at every iteration from U[1, 2]; a fixed extrapolation set of 10000 rows from U[2, 6].
  Subset places and data are seeded by the run's seed. Why 10: a pilot with the paper's 100 inputs (2 seeds,
  20000 iterations, warm-up from 4000 to 8000) ended with extrapolation MSE 1.8 and 1.1 on a + b against a
  threshold of 6e-5: with inputs in [1, 2] every input looks alike to the loss (their mean dominates), and the
  paper's 5*10^6 iterations, which sort them out, are 250 times the budget; 10 inputs make the problem ten
  times better conditioned.
- Models, the paper's: NAU -> NAU (2 hidden units) for + and -, NAU -> NMU for *, NALU -> NALU for all three.
- Training, the paper's recipe: Adam lr 1e-3, batch 128, MSE + lambda_sparse(t) R_sparse with lambda_hat 10,
  weights clamped after each step. Length: STEPS = 45000 iterations instead of 5*10^6 (budget), with the
  regulariser's warm-up at the paper's share of training (10^6 to 2*10^6 of 5*10^6: 20% to 40%).
- Seeds 0..4 for every model and operation, trained side by side as stacked copies (each seed has its own
  initialisation, subsets, batches, Adam state and clamping; the losses are summed, so gradients do not mix).
- Success (the paper's criterion as we read it): the extrapolation MSE, evaluated every 500 iterations, falls
  below the MSE of a nearly perfect solution (every first-layer weight off by 1e-5 in the worst direction) at
  some evaluation. A seed that diverges (NaN) has not succeeded.

Checks (written before running; zoo.verdicts over the seeds):
  1. NAU -> NAU solves a + b (1 per seed where solved, against 0.5);
  2. NAU -> NAU solves a - b;
  3. NAU -> NMU solves a * b;
  4. operations solved (of 3) on a seed: NAU/NMU more than NALU;
  5. on every operation the final extrapolation MSE is below NALU's (count of the 3 operations > 2.5).

Control, if check 1, 2 or 3 does not hold on every seed (fixed before running): the first such operation, on its
first failing seed, trained again for 3x as many iterations (warm-up at the same shares); if it is then solved
our length is to blame, else the claim fails at this scale.

The first record trained 15000 iterations: a + b was solved on 1 of 5 seeds, a - b on 4, a * b on 2, because the
regulariser's warm-up (from 20% of training) started before the plain fit had converged and snapped the seeds
still at a wrong solution to wrong discrete weights. Its control (a + b, seed 0, 45000 iterations) was solved,
so the length was our protocol's fault; 45000 iterations became the protocol.

    zoo reproduce nau-nmu
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

from .model import nalu, nau, nmu

STEPS, SEEDS, EVAL_EVERY = 45_000, 5, 500
INPUT_SIZE = 10  # the paper's 100 inputs do not fit the budget (see the module docstring)
BATCH, LR, SPARSITY_SCALE = 128, 1e-3, 10.0
WARMUP = (0.2, 0.4)  # the paper's lambda_sparse ramp (10^6 .. 2*10^6 of 5*10^6 steps), as shares of training
EXTRAPOLATION_ROWS = 10_000
CONTROL_FACTOR = 3
OURS = {"add": "addition", "sub": "addition", "mul": "default"}
OPS = ("add", "sub", "mul")


def _unit(kind: str, x: torch.Tensor, p: dict, name: str, eps: float) -> torch.Tensor:
    if kind == "nau":
        return nau(x, p[f"{name}.weight"])
    if kind == "nmu":
        return nmu(x, p[f"{name}.weight"])
    return nalu(x, p[f"{name}.w_hat"], p[f"{name}.m_hat"], p[f"{name}.gate"], eps)


def train_copies(variant: str, jobs: list[tuple[str, int]], steps: int, input_size: int) -> list[dict]:
    """Train one `variant` model per (operation, seed) job, all side by side as stacked copies: each has its
    own task (subsets), initialisation, batches, Adam state (Adam is element-wise) and clamping; the copies'
    losses are summed, so their gradients do not mix. Extrapolation MSE every EVAL_EVERY steps, success."""
    start, end = int(WARMUP[0] * steps), int(WARMUP[1] * steps)
    tasks = [zoo.get_task(f"nau-nmu/arithmetic-{op}", seed=s, input_size=input_size) for op, s in jobs]
    models = []
    for (op, s), task in zip(jobs, tasks):
        torch.manual_seed(s)
        models.append(zoo.create("nau-nmu", variant=variant, task=task, sparsity_scale=SPARSITY_SCALE,
                                 sparsity_start=start, sparsity_end=end))
    config = models[0].config
    kinds = (config.first, config.second)
    params = {k: torch.stack([dict(m.named_parameters())[k].detach() for m in models]).requires_grad_()
              for k, _ in models[0].named_parameters()}

    def forward(x):
        hidden = _unit(kinds[0], x, params, "first", config.nalu_eps)
        return _unit(kinds[1], hidden, params, "second", config.nalu_eps)

    def sparsity():  # R_sparse of every copy: the mean of min(|W|, 1 - |W|) of each NAU / NMU layer, summed
        total = 0.0
        for kind, name in zip(kinds, ("first", "second")):
            if kind in ("nau", "nmu"):
                w = params[f"{name}.weight"].abs()
                total = total + torch.minimum(w, 1.0 - w).mean(dim=(1, 2))
        return total

    optimizer = torch.optim.Adam(list(params.values()), lr=LR)
    generators = [torch.Generator().manual_seed(1000 + s) for _, s in jobs]
    test = [t.sample(EXTRAPOLATION_ROWS, t.extrapolation, torch.Generator().manual_seed(2000 + s))
            for t, (_, s) in zip(tasks, jobs)]
    x_test, y_test = torch.stack([x for x, _ in test]), torch.stack([y for _, y in test])
    thresholds = [t.success_threshold(x) for t, (x, _) in zip(tasks, test)]
    curve, solved_at = [], [None] * len(jobs)
    for step in range(1, steps + 1):
        batch = [t.sample(BATCH, t.interpolation, g) for t, g in zip(tasks, generators)]
        x, y = torch.stack([b[0] for b in batch]), torch.stack([b[1] for b in batch])
        loss = ((forward(x) - y) ** 2).mean(dim=(1, 2)).sum()
        lam = models[0].regularizer_weight(step - 1)
        if lam > 0 and kinds != ("nalu", "nalu"):
            loss = loss + lam * sparsity().sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # clamp as ArithmeticNet.clamp_weights_ does
            for kind, name in zip(kinds, ("first", "second")):
                if kind != "nalu":
                    params[f"{name}.weight"].clamp_(-1.0 if kind == "nau" else 0.0, 1.0)
        if step % EVAL_EVERY == 0 or step == steps:
            with torch.no_grad():
                err = ((forward(x_test) - y_test) ** 2).double().mean(dim=(1, 2))
            values = [float(e) if math.isfinite(float(e)) else float("inf") for e in err]
            curve.append((step, values))
            for i, (v, thr) in enumerate(zip(values, thresholds)):
                if solved_at[i] is None and v < thr:
                    solved_at[i] = step
    out = []
    for i, (op, s) in enumerate(jobs):
        weights = {k: [round(float(w), 5) for w in v[i].detach().reshape(-1)] for k, v in params.items()} \
            if variant != "nalu" else None
        out.append({"operation": op, "seed": s, "variant": variant, "steps": steps, "threshold": thresholds[i],
                    "final_extrapolation_mse": curve[-1][1][i], "solved_at": solved_at[i],
                    "solved": solved_at[i] is not None, "curve": [(st, v[i]) for st, v in curve], "weights": weights})
    return out


def figure(run: Run, results: dict, steps: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "nau_nmu_extrapolation.png"
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
    for ax, op in zip(axes, OPS):
        for arm, color in (("ours", "tab:blue"), ("nalu", "tab:red")):
            for k, r in enumerate(results[(op, arm)]):
                xs = [st for st, _ in r["curve"]]
                ys = [max(v / r["threshold"], 1e-3) if math.isfinite(v) else 1e12 for _, v in r["curve"]]
                label = ({"add": "NAU-NAU", "sub": "NAU-NAU", "mul": "NAU-NMU"}[op] if arm == "ours" else "NALU-NALU")
                ax.plot(xs, ys, color=color, alpha=0.6, lw=1, label=label if k == 0 else None)
        ax.axhline(1.0, color="gray", ls=":", lw=1)
        ax.axvspan(WARMUP[0] * steps, WARMUP[1] * steps, color="gray", alpha=0.1)
        ax.set_yscale("log")
        ax.set_title({"add": "a + b", "sub": "a - b", "mul": "a * b"}[op], fontsize=9)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("extrapolation MSE / success threshold")
    fig.suptitle("below the dotted line: solved; shaded: lambda_sparse warm-up", fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    steps = run.pick(STEPS, 300)
    seeds = list(range(run.pick(SEEDS, 2)))
    begin = time.time()
    results = {}
    groups = (("addition", ("add", "sub"), "ours"), ("default", ("mul",), "ours"), ("nalu", OPS, "nalu"))
    for variant, ops, arm in groups:
        t = time.time()
        trained = train_copies(variant, [(op, s) for op in ops for s in seeds], steps, INPUT_SIZE)
        for op in ops:
            results[(op, arm)] = [r for r in trained if r["operation"] == op]
            print(f"{op} {arm}: solved {[r['solved_at'] for r in results[(op, arm)]]} final extrapolation MSE "
                  f"{['%.2g' % r['final_extrapolation_mse'] for r in results[(op, arm)]]} threshold "
                  f"{results[(op, arm)][0]['threshold']:.2g}", flush=True)
        print(f"  {variant}: {time.time() - t:.0f} s", flush=True)

    def solved(op, arm):
        return [1.0 if r["solved"] else 0.0 for r in results[(op, arm)]]

    def count(arm):
        return [sum(solved(op, arm)[i] for op in OPS) for i in range(len(seeds))]

    def lower_mse():
        return [float(sum(results[(op, "ours")][i]["final_extrapolation_mse"]
                          < results[(op, "nalu")][i]["final_extrapolation_mse"] for op in OPS))
                for i in range(len(seeds))]

    checks = [
        Check("NAU -> NAU solves a + b (1 = solved)", ours=solved("add", "ours"), versus=0.5),
        Check("NAU -> NAU solves a - b (1 = solved)", ours=solved("sub", "ours"), versus=0.5),
        Check("NAU -> NMU solves a * b (1 = solved)", ours=solved("mul", "ours"), versus=0.5),
        Check("operations solved (of 3): NAU/NMU > NALU", ours=count("ours"), versus=count("nalu")),
        Check("operations (of 3) where the final extrapolation MSE is below NALU's: all 3", ours=lower_mse(),
              versus=2.5),
    ]
    control = None
    for op, check in zip(OPS, checks[:3]):
        failed = failing_seeds(seeds, [check])
        if failed and not run.quick:
            longer = CONTROL_FACTOR * steps
            r = train_copies(OURS[op], [(op, failed[0])], longer, INPUT_SIZE)[0]
            control = {"operation": op, "seed": failed[0], "steps": longer, "solved_at": r["solved_at"],
                       "final_extrapolation_mse": r["final_extrapolation_mse"], "threshold": r["threshold"],
                       "curve": r["curve"], "weights": r["weights"],
                       "conclusion": (f"solved with {CONTROL_FACTOR}x the steps: our length is to blame" if r["solved"]
                                      else f"still not solved with {CONTROL_FACTOR}x the steps: the claim fails at "
                                           f"this scale")}
            print("control", op, control["conclusion"], flush=True)
            break
    figure_name = figure(run, results, steps)
    rows = []
    for op in OPS:
        for arm in ("ours", "nalu"):
            rs = results[(op, arm)]
            model = {"add": "NAU -> NAU", "sub": "NAU -> NAU", "mul": "NAU -> NMU"}[op] if arm == "ours" else "NALU -> NALU"
            done = [r["solved_at"] for r in rs if r["solved"]]
            rows.append([op, model, f"{sum(r['solved'] for r in rs)}/{len(rs)}",
                         f"{np.median(done):.0f}" if done else "-",
                         " ".join(f"{r['final_extrapolation_mse']:.2g}" for r in rs), f"{rs[0]['threshold']:.2g}"])
    rate = {arm: {op: sum(solved(op, arm)) / len(seeds) for op in OPS} for arm in ("ours", "nalu")}
    summary = (f"Arithmetic dataset task with {INPUT_SIZE} inputs, {steps} iterations, {len(seeds)} seeds: success rate "
               f"(extrapolation MSE below the nearly-perfect solution's at some evaluation) NAU -> NAU a + b "
               f"{rate['ours']['add']:.0%}, a - b {rate['ours']['sub']:.0%}; NAU -> NMU a * b {rate['ours']['mul']:.0%}; "
               f"NALU -> NALU {rate['nalu']['add']:.0%}, {rate['nalu']['sub']:.0%}, {rate['nalu']['mul']:.0%}. "
               f"Paper (100 inputs, 5*10^6 iterations, Table 1): NAU and NMU solve their operations on nearly every "
               f"seed, NALU far less often.")
    if control:
        summary += (f" Control ({control['operation']}, seed {control['seed']}, {control['steps']} iterations): "
                    f"{'solved at ' + str(control['solved_at']) if control['solved_at'] else 'not solved'}, final "
                    f"extrapolation MSE {control['final_extrapolation_mse']:.2g} (threshold {control['threshold']:.2g}): "
                    f"{control['conclusion']}.")
    print(summary)
    setup = (f"Tasks nau-nmu/arithmetic-add/sub/mul with input_size {INPUT_SIZE} (subsets of "
             f"{round(0.25 * INPUT_SIZE)} overlapping by {round(0.5 * round(0.25 * INPUT_SIZE))}), fresh U[1, 2] batches of "
             f"{BATCH} every iteration, {EXTRAPOLATION_ROWS} extrapolation rows from U[2, 6]; data and subset places "
             f"seeded by the seed. Adam lr {LR}, {steps} iterations, lambda_hat {SPARSITY_SCALE} ramped from "
             f"{int(WARMUP[0] * steps)} to {int(WARMUP[1] * steps)} (the paper's 20%-40% of training), weights clamped "
             f"after each step; hidden size 2. Extrapolation MSE every {EVAL_EVERY} iterations; success: below the "
             f"MSE of the exact solution with every first-layer weight off by 1e-5 in the worst direction. Seeds "
             f"trained side by side as stacked copies (independent). Departures (budget): {INPUT_SIZE} inputs instead "
             f"of 100 and {steps} iterations instead of 5*10^6 (one core; the run's seconds are in data); {len(seeds)} seeds instead "
             f"of 100; the warm-up moved with the length.")
    run.record("nau-nmu", claim="The NAU learns exact addition and subtraction and the NMU exact multiplication of input "
                                "subsets, extrapolating outside the training range, and they converge more "
                                "consistently than the NALU (arithmetic dataset task, Sec. 4.1, Table 1).",
               seeds=seeds, checks=checks, summary=summary, setup=setup, figures=[figure_name],
               paper={"note": "Table 1 of the paper (arithmetic dataset task, 100 inputs, 5*10^6 iterations, many seeds "
                              "per model): NAU and NMU solve +, - and * on nearly every seed, NALU far less often; "
                              "success defined by the extrapolation error of a nearly perfect solution (exact rates not "
                              "copied here)."},
               table={"columns": ["operation", "model", "solved", "median solved at", "final extrapolation MSE per seed",
                                  "threshold (seed 0)"], "rows": rows},
               data={"results": {f"{op} {arm}": rs for (op, arm), rs in results.items()}, "control": control,
                     "input_size": INPUT_SIZE, "steps": steps, "seconds": time.time() - begin})
