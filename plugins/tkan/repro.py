"""TKAN claim: recurrent KAN layers with memory gating give more accurate multi-step
forecasts than LSTM/GRU.

Same data, comparable parameter counts, several seeds: a TKAN layer (scaled down through config:
one layer of 32 units instead of the paper's two of 100, to fit this CPU; five RKAN sub-layers with
spline orders 0..4) against one-layer LSTM and GRU whose hidden size is chosen to match TKAN's
parameter count, each with a linear head to the whole horizon (the paper's setup: recurrent
layer(s), then Dense(horizon)).
Two tasks: `forecast/mackey-glass` (chaotic series, 16 -> 8 steps) and `forecast/goog` (real
daily prices, 30 -> 5 steps). Adam, early stopping on validation MSE; test MSE of the best epoch.
A task counts for the verdict only if some model beats the last-value (no-change) forecast there
(decided before running). Checks (zoo.verdicts, per seed, on every counted task): TKAN's test MSE
is below the LSTM's, and below the GRU's, on the same seed. The paper's own sizes (two layers of
100 units for TKAN, LSTM and GRU) are run by `repro_paper_size.py`, the principled experiment of
this claim. TKAN's seed-0 model on `forecast/goog` is kept as the checkpoint `tkan.goog` (the Mackey-Glass
models read 16 steps and predict 8, not the 24 -> 12 of that task as named, so they cannot be
evaluated by name).

    zoo reproduce tkan --part repro
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

SEEDS = (0, 1, 2)
NAIVE = "last value (naive)"
TASKS = {"forecast/mackey-glass": {"lookback": 16, "horizon": 8}, "forecast/goog": {}}
TKAN_CONFIG = dict(hidden=[32])
BATCH, LR, PATIENCE = 256, 1e-2, 6
KEPT = ("forecast/goog", "TKAN", 0, "goog")  # (task, model, seed, checkpoint tag)


class RecurrentForecaster(nn.Module):
    """Stacked LSTM or GRU layers and a linear head on the last hidden state."""

    def __init__(self, cell: str, hidden: int, horizon: int, layers: int = 1):
        super().__init__()
        self.rnn = getattr(nn, cell)(1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_hidden(cell: str, target: int, horizon: int) -> int:
    return min(range(2, 200), key=lambda h: abs(n_params(RecurrentForecaster(cell, h, horizon)) - target))


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from a record's data ({"<task>|<model>": per-seed test MSEs, the naive
    forecast's as one number}): on every task where some model beats the no-change forecast, TKAN's
    test MSE below the LSTM's and below the GRU's, seed by seed."""
    tasks = list(dict.fromkeys(key.partition("|")[0] for key in data if "|" in key))
    count = len(data[f"{tasks[0]}|TKAN"])
    seeds = list(data.get("seeds", SEEDS[:count]))
    checks = []
    for task in tasks:
        mse = {model: data[f"{task}|{model}"] for model in ("TKAN", "LSTM", "GRU")}
        if min(float(np.mean(v)) for v in mse.values()) >= data[f"{task}|{NAIVE}"][0]:
            continue  # nothing learned there: every model is behind the no-change forecast
        checks += [Check(f"{task} test MSE: TKAN < {rival}", ours=mse["TKAN"], versus=mse[rival], better="lower")
                   for rival in ("LSTM", "GRU")]
    return seeds, checks


def fit(run: Run, model: nn.Module, task, seed: int, epochs: int, keep: str | None) -> tuple[float, int]:
    """zoo.train with Adam, gradient clipping and early stopping on validation MSE (best epoch
    restored); returns (test MSE, epochs run). Saved as checkpoint `keep` unless None."""
    with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
        result = zoo.train(model, task, out_dir=run_dir if keep else None, epochs=epochs, batch_size=BATCH, lr=LR,
                           optimizer="adam", clip_grad_norm=1.0, patience=PATIENCE, seed=seed)
        if keep:
            run.keep(model, keep, run=run_dir)
    return result.final["test_mse"], result.epochs


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    EPOCHS = run.pick(30, 1)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    results, params, started = {}, {}, time.time()
    for task_name, options in TASKS.items():
        task = zoo.get_task(task_name, **options)
        horizon = task.info.output_dim
        naive = float((task.splits()["test"][:][1] - task.splits()["test"][:][0][:, -1]).pow(2).mean())
        probe = zoo.create("tkan", task=task, **TKAN_CONFIG)
        hidden = {cell: matched_hidden(cell, n_params(probe), horizon) for cell in ("LSTM", "GRU")}
        for seed in seeds:
            builders = {
                "TKAN": lambda: zoo.create("tkan", task=task, **TKAN_CONFIG),
                "LSTM": lambda: RecurrentForecaster("LSTM", hidden["LSTM"], horizon),
                "GRU": lambda: RecurrentForecaster("GRU", hidden["GRU"], horizon),
            }
            for name, build in builders.items():
                torch.manual_seed(seed)
                model = build()
                params[(task_name, name)] = n_params(model)
                kept = KEPT[3] if (task_name, name, seed) == KEPT[:3] else None
                mse, epochs = fit(run, model, task, seed, EPOCHS, kept)
                results.setdefault((task_name, name), []).append(mse)
                print(f"{task_name} {name} seed={seed}: test MSE {mse:.4f} ({epochs} epochs, "
                      f"{time.time() - started:.0f}s)", flush=True)
        results[(task_name, NAIVE)] = [naive]
        params[(task_name, NAIVE)] = 0

    rows, wins, learnable = [], {}, {}
    for task_name in TASKS:
        means = {m: float(np.mean(v)) for (t, m), v in results.items() if t == task_name}
        for name, mean in means.items():
            vals = results[(task_name, name)]
            rows.append([task_name, name, params[(task_name, name)], round(mean, 5),
                         round(float(np.std(vals)), 5) if len(vals) > 1 else "-", len(vals)])
        # a task only counts where the models learn something: beating the no-change forecast
        learnable[task_name] = min(means["LSTM"], means["GRU"], means["TKAN"]) < means["last value (naive)"]
        wins[task_name] = means["TKAN"] < min(means["LSTM"], means["GRU"])

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 3.5))
    for ax, task_name in zip(np.atleast_1d(axes), TASKS):
        names = ["TKAN", "LSTM", "GRU"]
        for i, name in enumerate(names):
            vals = results[(task_name, name)]
            ax.scatter([i] * len(vals), vals, color=f"C{i}")
            ax.hlines(np.mean(vals), i - 0.25, i + 0.25, color=f"C{i}")
        ax.axhline(results[(task_name, "last value (naive)")][0], color="grey", ls="--", label="last value")
        ax.set_xticks(range(len(names)), names)
        ax.set_title(task_name)
        ax.set_ylabel("test MSE (per seed, bar = mean)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(run.figure("repro_forecasting.png"), dpi=100)

    data = {"seeds": seeds, **{f"{t}|{m}": v for (t, m), v in results.items()}}
    checked_seeds, checks = claim_checks(data)
    summary = "; ".join(
        f"{t}: TKAN {np.mean(results[(t, 'TKAN')]):.4f} vs LSTM {np.mean(results[(t, 'LSTM')]):.4f} vs "
        f"GRU {np.mean(results[(t, 'GRU')]):.4f} (naive {results[(t, 'last value (naive)')][0]:.4f})"
        for t in TASKS)
    run.record(
        "repro_forecasting",
        claim="TKAN (recurrent KAN layers with memory gating) gives more accurate multi-step forecasts than LSTM/GRU.",
        seeds=checked_seeds, checks=checks,
        summary=(f"Mean test MSE over {len(seeds)} seeds, parameter-matched models. {summary}. "
                 f"TKAN beats both baselines on: {[t for t, w in wins.items() if w] or 'no task'}; tasks where "
                 f"some model beats the last-value forecast (the only ones counted for the verdict): "
                 f"{[t for t in TASKS if learnable[t]] or 'none'}."),
        setup=(f"One-layer TKAN {TKAN_CONFIG} (sub-layer spline orders 0..4, grid 3) vs one-layer LSTM/GRU "
               f"with hidden sizes matched to TKAN's parameter count; linear head to the horizon. Adam "
               f"lr={LR}, batch {BATCH}, up to {EPOCHS} epochs, early stopping on validation MSE (patience "
               f"{PATIENCE}), gradient clipping 1.0; seeds {seeds}; trained with zoo.train. Departures: one layer of "
               f"32 units instead of the paper's two of 100 and parameter-matched baselines (the paper's sizes "
               f"run in repro_paper_size); the paper's data (Binance notional volumes) are not available offline."),
        table={"columns": ["task", "model", "params", "test MSE (mean)", "std", "seeds"], "rows": rows},
        paper={"source": "TKAN paper, Bitcoin notional volume, 1-15 steps ahead (R^2)",
               "note": "the paper reports TKAN ahead of GRU/LSTM mainly at longer horizons; its data are not available offline"},
        figures=["repro_forecasting.png"],
        data=data,
    )
    print(summary)
