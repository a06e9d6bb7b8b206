"""Diagnosis for `decoding-regression`'s first reproduction (repro.py): where the decoder's RMSE
missed the MSE head's by more than 5% (checks 1-2 of results/decoding-regression.json), is it
because the decoder was early-stopped on its validation token cross entropy, a criterion other
than the RMSE the check measures? The 3x-budget control of repro.py did not change the restored
epoch (the validation cross entropy stops improving after 3-10 epochs), so it could not tell.

Protocol, fixed before running: for every table and seed whose check failed in the recorded run,
the same decoder (same data, initialisation, recipe: Adam lr 1e-3, batch 64, up to 100 epochs,
patience 10) but early-stopped on the validation RMSE of its point prediction (mean of 64
samples), best epoch restored, and its test RMSE compared with the recorded MSE head's with the
same 5% tolerance. If it then passes, the stopping criterion (our protocol) was to blame; if not,
the decoder's point predictions are worse at this data size whatever the stopping rule (the claim
fails at this scale). Recorded as measured numbers: the diagnosis of a failed check, not a claim.

    zoo reproduce decoding-regression --part repro_rmse_stopping
"""

from __future__ import annotations

import copy
import json
import time

import torch

import zoo
from zoo.reproduce import Run

from .loop import LoopStep
from .repro import RECIPE, TOLERANCE, build, rmse


def failed(run: Run) -> list[tuple[str, int, float, float]]:
    """(table, seed, decoder RMSE, MSE head RMSE) where check 1 or 2 failed in the recorded run."""
    path = run.results / "decoding-regression.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for check in record["checks"][:2]:
        table = check["name"].split(":")[0]
        for seed, held, ours, versus in zip(record["seeds"], check["held"], check["ours"], check["versus"]):
            if not held:
                found.append((table, seed, ours, versus))
    return found


def fit_on_rmse(model, task, *, epochs: int, batch_size: int, lr: float, patience: int, seed: int) -> int:
    """Train the decoder, early-stopped on the validation RMSE of its point prediction; returns the best epoch."""
    x, y = task.splits()["train"].tensors
    xv, yv = task.splits()["val"].tensors
    generator = torch.Generator().manual_seed(seed)
    step = LoopStep(task, torch.optim.Adam(model.parameters(), lr=lr))
    best, best_state, best_epoch = float("inf"), None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            model.training_step((x[index], y[index]), step)
        model.eval()
        with torch.no_grad():
            val = float((model(xv) - yv).square().mean().sqrt())
        if val < best:
            best, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return best_epoch


def reproduce(run: Run) -> None:
    cases = run.pick(failed(run), [("diabetes", 0, float("nan"), float("nan"))])
    recipe = run.pick(RECIPE, {**RECIPE, "epochs": 2})
    torch.set_num_threads(1)
    start = time.time()
    rows, data = [], {}
    for table, seed, recorded, head in cases:
        task = zoo.get_task(table, seed=seed)
        model = build(task, seed, head="decoder")
        best_epoch = fit_on_rmse(model, task, seed=seed, **recipe)
        found = rmse(model, task)
        passes = found < head * TOLERANCE
        data[f"{table}, seed {seed}"] = {"decoder_stopped_on_cross_entropy": recorded, "mse_head": head,
                                         "decoder_stopped_on_rmse": found, "best_epoch": best_epoch,
                                         "within_5_percent": passes}
        rows.append([table, seed, f"{recorded:.4f}", f"{found:.4f} (epoch {best_epoch})", f"{head:.4f}",
                     "yes" if passes else "no"])
        print(table, seed, data[f"{table}, seed {seed}"], flush=True)
    fixed = sum(d["within_5_percent"] for d in data.values())
    summary = (f"Decoder early-stopped on validation RMSE instead of token cross entropy, on the {len(data)} "
               f"table/seed pairs whose RMSE check failed: " + "; ".join(
                   f"{k}: {d['decoder_stopped_on_cross_entropy']:.4f} -> {d['decoder_stopped_on_rmse']:.4f} "
                   f"(MSE head {d['mse_head']:.4f})" for k, d in data.items()) + ". "
               + ("Within 5% of the MSE head on every one: the stopping criterion (our protocol) was to blame."
                  if fixed == len(data) else
                  f"Within 5% on {fixed} of {len(data)}: " + ("the stopping rule is not the cause; the decoder's point "
                                                              "predictions are worse at this data size (the claim "
                                                              "fails at this scale)." if fixed == 0 else
                                                              "the stopping rule explains part of the gap.")))
    print(summary)
    run.record(
        "decoding-regression-rmse-stopping",
        claim="Diagnosis of the failed RMSE checks: the decoder early-stopped on validation RMSE reaches the MSE head",
        verdict="measured", summary=summary,
        setup=f"Table/seed pairs where check 1 or 2 of decoding-regression.json failed; the decoder of repro.py (same "
              f"data, init and recipe: Adam lr {recipe['lr']}, batch {recipe['batch_size']}, up to {recipe['epochs']} "
              f"epochs, patience {recipe['patience']}) early-stopped on the validation RMSE of its 64-sample mean.",
        table={"columns": ["table", "seed", "decoder (stopped on CE)", "decoder (stopped on RMSE)", "MSE head",
                           "within 5%"], "rows": rows},
        data={"cases": data, "seconds": time.time() - start},
    )
