"""Reproduction for `multiplet-nn` (Frick, 2020, "An Informal Introduction to Multiplet Neural
Networks").

Claim: multiplet neurons (weighted Lehmer / Gini means with learned exponents) solve XOR in two
layers and represent multiplication and division.

Protocol, fixed before running:
- Networks, two layers (2 inputs -> 2 hidden -> 1 output), constant input 1 in each multiplet layer:
  Lehmer multiplets, Gini multiplets, and the ReLU network of the same widths (the baseline).
- XOR (`multiplet/xor`: inputs and targets {0, 1} shifted to {1, 2}): full batch (the four points
  x 64), Adam lr 0.03, 300 steps, MSE. Solved = every one of the four outputs within 0.5 of its
  target (each point on the right side of 1.5).
- Multiplication / division (`multiplet/multiply`, `multiplet/divide`: x ~ U[0.5, 2]^2, 1000 train /
  500 test points of seed s): Adam lr 0.03, batch 64, cosine schedule, 100 epochs, MSE. Measured:
  test RMSE in the training range, and RMSE relative to the targets' RMS on the extrapolation set
  U[2, 4]^2 (a network that represents the operation extrapolates; one that fits it does not).
- Seeds 0, 1, 2 (initialisation; data for the arithmetic tasks).
Checks per seed:
  1. XOR: the Lehmer network solves it; 2. XOR: the Gini network solves it;
  3. multiply: Gini test RMSE below the ReLU network's; 4. multiply: Gini relative extrapolation
  error below 0.05; 5-6. the same for divide.
Control, fixed before running: the hand-built two-layer Lehmer network (hidden p = +-20 with equal
weights: max- and min-like; output p = 1 with weights (1, -1, 1) on (h1, h2, 1): h1 - h2 + 1)
is evaluated on XOR, showing whether XOR is representable; for the first seed where check 1 or 2
fails, that network is trained again 3x longer. If the longer run solves XOR, our training length
is to blame (our protocol fails); if not while the hand-built network solves it, gradient training
does not find the solution from this start (the claim's "solve" holds for representation only).

    zoo reproduce multiplet-nn --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .task import XOR_INPUTS, XOR_TARGETS

MEANS = ("lehmer", "gini", "relu")
XOR_STEPS, ARITH_EPOCHS, LR = 300, 100, 0.03


def hand_built_xor() -> torch.nn.Module:
    """Two Lehmer layers that compute max(a, b) - min(a, b) + 1 (approximately) on inputs in {1, 2}."""
    model = zoo.create("multiplet-nn", input_dim=2, output_dim=1, hidden_dims=[2])
    with torch.no_grad():
        hidden, out = model.layers
        hidden.weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]))
        hidden.p.copy_(torch.tensor([20.0, -20.0]))
        out.weight.copy_(torch.tensor([[1.0, -1.0, 1.0]]))
        out.p.fill_(1.0)
    return model


@torch.no_grad()
def xor_error(model) -> float:
    return float((model(torch.tensor(XOR_INPUTS)) - torch.tensor(XOR_TARGETS)).abs().max())


def fit_xor(mean: str, seed: int, steps: int) -> float:
    torch.manual_seed(seed)
    model = zoo.create("multiplet-nn", task="multiplet/xor", mean=mean)
    zoo.train(model, "multiplet/xor", optimizer="adam", lr=LR, batch_size=256, epochs=steps, seed=seed,
              eval_splits=[], final_splits=[], progress=False)
    return xor_error(model)


def fit_arithmetic(task_name: str, mean: str, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    task = zoo.get_task(task_name, seed=seed)
    model = zoo.create("multiplet-nn", task=task, mean=mean)
    zoo.train(model, task, optimizer="adam", lr=LR, batch_size=64, epochs=epochs, schedule="cosine", seed=seed,
              eval_splits=[], final_splits=[], progress=False)
    with torch.no_grad():
        x, y = (torch.as_tensor(a) for a in task.splits()["test"][:])
        rmse = float((model(x) - y).pow(2).mean().sqrt())
        xe, ye = (torch.as_tensor(a) for a in task.extrapolation)
        extrapolation = float((model(xe) - ye).pow(2).mean().sqrt() / ye.pow(2).mean().sqrt())
    return {"rmse": rmse, "extrapolation_relative_rmse": extrapolation}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    steps, epochs = run.pick(XOR_STEPS, 5), run.pick(ARITH_EPOCHS, 2)
    start = time.time()
    xor = {mean: [fit_xor(mean, seed, steps) for seed in seeds] for mean in MEANS}
    print("xor max error", xor, flush=True)
    arithmetic = {}
    for op in ("multiply", "divide"):
        for mean in MEANS:
            arithmetic.setdefault(op, {})[mean] = [fit_arithmetic(f"multiplet/{op}", mean, s, epochs) for s in seeds]
            print(op, mean, arithmetic[op][mean], flush=True)
    hand = xor_error(hand_built_xor())

    def arith(op, mean, key):
        return [r[key] for r in arithmetic[op][mean]]

    checks = [Check("XOR: the two-layer Lehmer network solves it (every output within 0.5 of its target)",
                    ours=xor["lehmer"], versus=0.5, better="lower"),
              Check("XOR: the two-layer Gini network solves it (every output within 0.5 of its target)",
                    ours=xor["gini"], versus=0.5, better="lower")]
    for op in ("multiply", "divide"):
        checks.append(Check(f"{op}: Gini network test RMSE below the ReLU network's", ours=arith(op, "gini", "rmse"),
                            versus=arith(op, "relu", "rmse"), better="lower"))
        checks.append(Check(f"{op}: Gini network extrapolates (relative RMSE on U[2, 4]^2 below 0.05)",
                            ours=arith(op, "gini", "extrapolation_relative_rmse"), versus=0.05, better="lower"))

    control = {"hand_built_xor_max_error": hand}
    failing = [(mean, s) for mean in ("lehmer", "gini") for s, e in zip(seeds, xor[mean]) if e >= 0.5]
    if failing and not run.quick:
        mean, seed = failing[0]
        longer = fit_xor(mean, seed, 3 * steps)
        solved = longer < 0.5
        control.update(mean=mean, seed=seed, steps=3 * steps, max_error=longer, solved=solved,
                       conclusion="3x longer training solves XOR: our training length was to blame (our protocol "
                                  "fails)" if solved else
                                  "3x longer training does not solve it while the hand-built network does: gradient "
                                  "training does not find the solution from this start on this seed")
        print("control", control, flush=True)

    rows = [["XOR", mean, "max |error|", " ".join(f"{e:.4f}" for e in xor[mean]),
             f"{sum(e < 0.5 for e in xor[mean])} / {len(seeds)} solved"] for mean in MEANS]
    for op in arithmetic:
        for mean in MEANS:
            for key, label in (("rmse", "test RMSE"), ("extrapolation_relative_rmse", "extrapolation rel. RMSE")):
                vals = arith(op, mean, key)
                rows.append([op, mean, label, " ".join(f"{v:.4f}" for v in vals), f"{np.mean(vals):.4f}"])
    solved = {m: sum(e < 0.5 for e in xor[m]) for m in MEANS}
    summary = (f"Seeds {seeds}. XOR solved by the two-layer Lehmer network on {solved['lehmer']}, Gini on "
               f"{solved['gini']}, ReLU (same widths) on {solved['relu']} of {len(seeds)} seeds; the hand-built Lehmer "
               f"network's largest XOR error is {hand:.2e}. " + " ".join(
                   f"{op}: test RMSE Lehmer {np.mean(arith(op, 'lehmer', 'rmse')):.4f}, Gini "
                   f"{np.mean(arith(op, 'gini', 'rmse')):.4f}, ReLU {np.mean(arith(op, 'relu', 'rmse')):.4f}; relative "
                   f"extrapolation error Lehmer {np.mean(arith(op, 'lehmer', 'extrapolation_relative_rmse')):.3f}, Gini "
                   f"{np.mean(arith(op, 'gini', 'extrapolation_relative_rmse')):.3f}, ReLU "
                   f"{np.mean(arith(op, 'relu', 'extrapolation_relative_rmse')):.3f}." for op in arithmetic))
    if "conclusion" in control:
        summary += (f" Control ({control['mean']}, seed {control['seed']}, {control['steps']} steps): max error "
                    f"{control['max_error']:.3f}; {control['conclusion']}.")
    print(summary)
    run.record(
        "multiplet-nn",
        claim="Multiplet neurons (weighted Lehmer/Gini means with learned exponents) solve XOR in two layers and "
              "represent multiplication and division.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Two layers (2 -> 2 -> 1), constant input 1 per multiplet layer, weights uniform in [0.1, 1], Lehmer p = "
              f"1 and Gini (r, s) = (1, 0) at the start; ReLU network of the same widths as baseline. XOR: inputs and "
              f"targets shifted to {{1, 2}}, full batch, Adam lr {LR}, {steps} steps. Arithmetic: x ~ U[0.5, 2]^2, "
              f"1000 / 500 points, Adam lr {LR}, batch 64, cosine, {epochs} epochs; extrapolation on U[2, 4]^2. "
              f"Departures: the paper's note gives no training recipe we could read; hidden outputs and the means' "
              f"sums are clamped to >= 1e-3 to keep powers and logs defined; XOR's targets are shifted with its "
              f"inputs, since a mean of positive numbers plus a constant input cannot output 0.",
        table={"columns": ["task", "network", "measure", "per seed", "summary"], "rows": rows},
        paper={"note": "The paper shows constructions: two layers of multiplets solving XOR, and multiplets computing "
                       "products and quotients; it reports no trained benchmarks."},
        data={"xor_max_error": xor, "arithmetic": arithmetic, "control": control, "seconds": time.time() - start},
    )
