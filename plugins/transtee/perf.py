"""Speed of `transtee`: forward+backward (outcome MSE + propensity NLL) of TransTEE's default config
on a batch of 128 units with 10 covariates and a binary treatment, against TARNet widened to about
the same parameter count (hidden 160, as in `repro`), the MLP estimator it replaces; and the same
for a continuous dosage (6 covariates) against VCNet (hidden 120). At 1 thread and the default
count; interleaved rounds, medians.

    zoo reproduce transtee --part perf --out plugins/transtee
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

from .baselines import TARNet, VCNet
from .model import propensity_nll
from .repro import TARNET_HIDDEN, VCNET_HIDDEN, parameters

BATCH = 128


def step(model, x, t, y, continuous: bool) -> float:
    start = time.perf_counter()
    outcome, propensity = model(x, t)
    loss = F.mse_loss(outcome, y)
    if propensity is not None:
        loss = loss + 0.5 * propensity_nll(propensity, t, continuous)
    loss.backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(30, 3)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    pairs = {
        "binary": (zoo.create("transtee"), TARNet(10, TARNET_HIDDEN), torch.randn(BATCH, 10),
                   torch.randint(0, 2, (BATCH,)), False),
        "dosage": (zoo.create("transtee", variant="dosage"), VCNet(6, VCNET_HIDDEN), torch.rand(BATCH, 6),
                   torch.rand(BATCH), True),
    }
    y = torch.randn(BATCH)
    ms, rows = {}, []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        for setting, (ours, mlp_model, x, t, continuous) in pairs.items():
            med = medians(interleaved({"transtee": lambda: step(ours, x, t, y, continuous),
                                       "mlp": lambda: step(mlp_model, x, t, y, continuous)}, rounds))
            ms[f"{setting}, {threads} thread(s)"] = {k: v * 1e3 for k, v in med.items()}
            baseline = "TARNet" if setting == "binary" else "VCNet"
            rows.append([setting, threads, f"{med['transtee'] * 1e3:.2f}", baseline, f"{med['mlp'] * 1e3:.2f}",
                         f"{med['transtee'] / med['mlp']:.2f}", f"{parameters(ours):,} / {parameters(mlp_model):,}"])
    torch.set_num_threads(1)
    summary = ("Forward+backward, batch 128, 1 thread: " + "; ".join(
        f"{r[0]}: TransTEE {r[2]} ms vs {r[3]} {r[4]} ms (ratio {r[5]})" for r in rows if r[1] == 1)
        + ". TransTEE's attention over covariate tokens costs several times an MLP of the same parameter count.")
    print(summary)
    run.record(
        "perf", claim="forward+backward cost of TransTEE against the MLP estimator it replaces, at equal parameters",
        verdict="measured", summary=summary,
        setup=f"default configs (binary: 10 covariates; dosage: 6 covariates); TARNet hidden {TARNET_HIDDEN}, VCNet "
              f"hidden {VCNET_HIDDEN}; loss MSE + 0.5 propensity NLL where the model has the head; {rounds} "
              f"interleaved "
              f"rounds, medians, at 1 and {default_threads} threads; a shared 2-core machine.",
        table={"columns": ["setting", "threads", "TransTEE ms", "baseline", "baseline ms", "ratio", "parameters"],
               "rows": rows},
        data={"ms": ms},
    )
