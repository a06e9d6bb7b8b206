"""TKAN claim at the paper's sizes: the principled experiment of `repro.py`.

`repro.py` tests the claim (TKAN gives more accurate multi-step forecasts than LSTM/GRU) with one
TKAN layer of 32 units against parameter-matched one-layer LSTM and GRU, and TKAN loses on
Mackey-Glass. Shrinking the model is a departure that could by itself make TKAN lose, so this
script runs the paper's configuration on the same series: TKAN, LSTM and GRU each with two
recurrent layers of 100 units and a dense head to the horizon (Genet & Inzirillo 2024, experiments;
the three models share this structure; the baselines are not parameter-matched), trained as in the
authors' released example: Adam lr 1e-3, batch 128, early stopping on validation MSE with patience
10, the best epoch's weights restored. Departures, forced by the budget: at most EPOCHS epochs (the
authors allow 1000; the record lists the epochs each run took, so a run cut by the cap shows), and
no reduce-on-plateau learning-rate schedule (zoo.train has none). Only `forecast/mackey-glass`
(16 -> 8) is run: it is the task where the models learn (the no-change forecast's MSE is hundreds of times
theirs); on `forecast/goog` no model beats the no-change forecast.

Checks (the same function as repro.py, fixed before running): TKAN's test MSE below the LSTM's
and below the GRU's on every seed. Read: if TKAN wins here, the small protocol of repro.py is what
failed; if it still loses at the paper's sizes, the claim fails at this scale (this series and
budget), not because the model was shrunk.

    zoo reproduce tkan --part repro_paper_size
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo_plugins.tkan.repro import NAIVE, SEEDS, RecurrentForecaster, claim_checks, n_params

TASK, TASK_OPTIONS = "forecast/mackey-glass", {"lookback": 16, "horizon": 8}
UNITS = [100, 100]  # the paper's two recurrent layers of 100 units, for all three models
BATCH, LR, PATIENCE, EPOCHS = 128, 1e-3, 10, 30
MODELS = ("TKAN", "LSTM", "GRU")


def build(name: str, task) -> torch.nn.Module:
    if name == "TKAN":
        return zoo.create("tkan", task=task, hidden=UNITS)
    return RecurrentForecaster(name, UNITS[0], task.info.output_dim, layers=len(UNITS))


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    epochs = run.pick(EPOCHS, 1)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    task = zoo.get_task(TASK, **TASK_OPTIONS)
    test_x, test_y = task.splits()["test"][:]
    naive = float((test_y - test_x[:, -1]).pow(2).mean())
    mse = {m: [] for m in MODELS}
    epochs_run = {m: [] for m in MODELS}
    params, started = {}, time.time()
    for seed in seeds:
        for name in MODELS:
            torch.manual_seed(seed)
            model = build(name, task)
            params[name] = n_params(model)
            result = zoo.train(model, task, epochs=epochs, batch_size=BATCH, lr=LR, optimizer="adam",
                               patience=PATIENCE, seed=seed, progress=False)
            mse[name].append(result.final["test_mse"])
            epochs_run[name].append(result.epochs)
            print(f"{name} seed={seed}: test MSE {mse[name][-1]:.5f} ({result.epochs} epochs, "
                  f"{time.time() - started:.0f}s)", flush=True)
    data = {"seeds": seeds, **{f"{TASK}|{m}": v for m, v in mse.items()}, f"{TASK}|{NAIVE}": [naive],
            "epochs_run": epochs_run, "epoch_cap": epochs, "seconds": time.time() - started}
    checked_seeds, checks = claim_checks(data)
    capped = sum(e >= epochs for v in epochs_run.values() for e in v)
    lost = {rival: sum(not c.holds(o, v) for o, v in c.per_seed())
            for rival, c in zip(("LSTM", "GRU"), checks)}
    finding = ("TKAN wins at the paper's sizes, so the shrunk protocol of repro.py is what failed"
               if not any(lost.values()) else
               "TKAN still loses at the paper's sizes, so the claim fails at this scale, not because the model "
               "was shrunk" + (f" ({capped} of {len(seeds) * len(MODELS)} runs reached the {epochs}-epoch cap)"
                               if capped else " (every run was ended by early stopping, before the epoch cap)"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, name in enumerate(MODELS):
        ax.scatter([i] * len(mse[name]), mse[name], color=f"C{i}")
        ax.hlines(np.mean(mse[name]), i - 0.25, i + 0.25, color=f"C{i}")
    ax.set_xticks(range(len(MODELS)), [f"{m}\n({params[m] / 1000:.0f}k params)" for m in MODELS])
    ax.set_yscale("log")
    ax.set_ylabel("test MSE (per seed, bar = mean)")
    ax.set_title(f"{TASK}, two layers of 100 units")
    fig.tight_layout()
    fig.savefig(run.figure("repro_paper_size.png"), dpi=100)

    means = {m: float(np.mean(v)) for m, v in mse.items()}
    rows = [[m, params[m], round(means[m], 5), round(float(np.std(mse[m])), 5), [round(v, 5) for v in mse[m]],
             epochs_run[m]] for m in MODELS]
    rows.append([NAIVE, 0, round(naive, 5), "-", "-", "-"])
    run.record(
        "repro_paper_size",
        claim="TKAN (recurrent KAN layers with memory gating) gives more accurate multi-step forecasts than LSTM/GRU.",
        seeds=checked_seeds, checks=checks,
        summary=(f"{TASK} (16 -> 8), the paper's sizes (two recurrent layers of 100 units each), {len(seeds)} seeds: "
                 f"test MSE TKAN {means['TKAN']:.4f}, LSTM {means['LSTM']:.4f}, GRU {means['GRU']:.4f} (no-change "
                 f"forecast {naive:.3f}). TKAN below the LSTM on {len(seeds) - lost['LSTM']} of {len(seeds)} seeds "
                 f"and below the GRU on {len(seeds) - lost['GRU']}: {finding}."),
        setup=(f"{TASK} {TASK_OPTIONS}; TKAN {UNITS} (sub-layer spline orders 0..4, grid 3), LSTM and GRU of "
               f"{len(UNITS)} layers of {UNITS[0]} units, each with a linear head to the horizon ({params}); Adam "
               f"lr={LR}, batch {BATCH}, up to {epochs} epochs with early stopping on validation MSE (patience "
               f"{PATIENCE}, best epoch restored); seeds {seeds}; trained with zoo.train, 1 thread. Departures "
               f"(budget): the epoch cap (the authors allow 1000) and no reduce-on-plateau schedule; the paper's "
               f"Binance data are not available offline, a generated chaotic series stands in."),
        table={"columns": ["model", "params", "test MSE (mean)", "std", "per seed", "epochs run"], "rows": rows},
        paper={"source": "Genet & Inzirillo 2024, experiments (Bitcoin notional volume, 1-15 steps ahead, R^2)",
               "note": "the paper reports TKAN ahead of GRU/LSTM mainly at longer horizons"},
        figures=["repro_paper_size.png"],
        data=data,
    )
    print(finding)
