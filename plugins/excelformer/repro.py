"""Reproduction for `excelformer` (Chen et al., ExcelFormer: Can a DNN be a Sure Bet for Tabular
Prediction?, 2023).

Claim: ExcelFormer, untuned (the paper's fixed settings), matches or beats GBDTs and MLPs on
tabular prediction.

Protocol, fixed before running:
- Data: the bundled sklearn tables breast-cancer and wine (classification) and diabetes
  (regression, target standardised), the zoo's standardised split of each seed (64/16/20).
  Seeds 0, 1, 2 (split, initialisation, batch order, mixing draws).
- ExcelFormer with its untuned recipe: features ranked by mutual information on the training
  split, 3 layers, head dimension 8, attention dropout 0.3, interaction-attenuated init (1e-4),
  Hidden-Mix with Beta(0.5, 0.5) on every batch; AdamW, weight decay 0, batch 64, early stopping
  on validation loss (patience 8, best epoch restored), at most 40 epochs. Smaller and faster than
  the paper's fixed setting to fit two shared CPU cores: d = 32 and 4 heads (paper 256 and 32),
  lr 1e-3 (paper 1e-4), 40 epochs (paper up to 500, patience 32).
- Baselines on the same splits: sklearn HistGradientBoosting (Classifier / Regressor) with
  default settings, trained on the training split; an MLP (3 x 256 ReLU, dropout 0.1) with the same
  optimiser, batch, epochs and early stopping as ExcelFormer (no mixing).
- Metrics on the test split: accuracy (classification), RMSE in target std (regression).
Checks (per seed, zoo.verdicts), "matches or beats" meaning accuracy no more than 2 test samples
lower, or RMSE no more than 5% higher:
  1. ExcelFormer matches or beats the GBDT on at least 2 of the 3 tables;
  2. ExcelFormer matches or beats the MLP on at least 2 of the 3 tables.
Control, fixed before running, for a table and seed where ExcelFormer loses to a baseline: the same
ExcelFormer trained with 3x the epoch budget (120 epochs, patience 24). If it then matches, our
short schedule was to blame; if not, the claim fails there at this scale.

    zoo reproduce excelformer --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .loop import evaluate, fit

TABLES = ("breast-cancer", "wine", "diabetes")
SIZE = {"d_token": 32, "n_heads": 4, "n_layers": 3}
RECIPE = {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, "epochs": 40, "patience": 8}
REGRESSION_TOLERANCE = 1.05
ARMS = ("ExcelFormer", "GBDT (HistGradientBoosting)", "MLP")
EXCEL, GBDT, MLP = ARMS


def mlp(d_in: int, d_out: int, width: int = 256, depth: int = 3, dropout: float = 0.1) -> nn.Sequential:
    layers, size = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, d_out))


def gbdt(task, seed: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    (x, y), (xt, yt) = (task.splits()[s].tensors for s in ("train", "test"))
    x, xt = x.numpy(), xt.numpy()
    if task.kind == "classification":
        model = HistGradientBoostingClassifier(random_state=seed).fit(x, y.numpy())
        return {"primary": float((model.predict(xt) == yt.numpy()).mean())}
    model = HistGradientBoostingRegressor(random_state=seed).fit(x, y.numpy()[:, 0])
    return {"primary": float(np.sqrt(((model.predict(xt) - yt.numpy()[:, 0]) ** 2).mean()))}


def train_arm(table: str, arm: str, seed: int, recipe: dict) -> dict:
    task = zoo.get_task(table, seed=seed)
    torch.manual_seed(seed)
    start = time.perf_counter()
    entry = {"table": table, "arm": arm, "seed": seed, "kind": task.kind, "n_test": len(task.splits()["test"])}
    if arm == GBDT:
        entry.update(gbdt(task, seed))
    else:
        if arm == EXCEL:
            model = zoo.create("excelformer", task=task, **SIZE)
        else:
            d_out = task.info.num_classes if task.kind == "classification" else task.info.output_dim
            model = mlp(task.info.input_shape[0], d_out)
        entry.update(fit(model, task, seed=seed, **recipe))
        scores = evaluate(model, task, "test")
        entry["primary"] = scores["accuracy"] if task.kind == "classification" else scores["rmse"]
        entry["params"] = sum(p.numel() for p in model.parameters())
        if arm == EXCEL:
            entry["feature_order"] = model.order.tolist()
    entry["seconds"] = time.perf_counter() - start
    return entry


def matches(ours: dict, versus: dict) -> bool:
    """Ours matches or beats versus: <= 2 test samples less accurate, or RMSE <= 5% higher."""
    if ours["kind"] == "classification":
        return ours["primary"] >= versus["primary"] - 2.0 / ours["n_test"] - 1e-9
    return ours["primary"] <= REGRESSION_TOLERANCE * versus["primary"]


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    recipe = run.pick(RECIPE, {**RECIPE, "epochs": 2})
    torch.set_num_threads(1)
    start = time.time()
    runs = []
    for seed in seeds:
        for table in TABLES:
            for arm in ARMS:
                runs.append(train_arm(table, arm, seed, recipe))
                r = runs[-1]
                print(f"seed {seed} {table} {arm}: {r['primary']:.4f} ({r['seconds']:.0f}s, best epoch "
                      f"{r.get('best_epoch')})", flush=True)
    by = {(r["table"], r["arm"], r["seed"]): r for r in runs}
    won = lambda versus, s: sum(matches(by[(t, EXCEL, s)], by[(t, versus, s)]) for t in TABLES)  # noqa: E731
    checks = [Check(f"ExcelFormer matches or beats the {name} on at least 2 of 3 tables (tables)",
                    ours=[won(versus, s) for s in seeds], versus=2, better="higher", margin=-0.5)
              for name, versus in (("GBDT", GBDT), ("MLP", MLP))]

    control = {}
    longer = {**recipe, "epochs": 3 * recipe["epochs"], "patience": 3 * recipe["patience"]}
    for table in TABLES:
        for seed in seeds:
            lost = [arm for arm in (GBDT, MLP) if not matches(by[(table, EXCEL, seed)], by[(table, arm, seed)])]
            if not lost:
                continue
            again = train_arm(table, EXCEL, seed, longer)
            fixed = all(matches(again, by[(table, arm, seed)]) for arm in lost)
            control[f"{table}, seed {seed}"] = {
                "lost_to": lost, "excelformer": by[(table, EXCEL, seed)]["primary"],
                "baselines": {arm: by[(table, arm, seed)]["primary"] for arm in lost},
                "excelformer_3x_budget": again["primary"], "best_epoch_3x": again["best_epoch"],
                "conclusion": ("matches with 3x the epoch budget: our short schedule was to blame" if fixed else
                               "still loses with 3x the epoch budget: the claim fails there at this scale")}
            print("control", table, seed, control[f"{table}, seed {seed}"], flush=True)

    rows = [[s, t, *(f"{by[(t, arm, s)]['primary']:.4f}" for arm in ARMS)] for s in seeds for t in TABLES]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    summary = " ".join(
        f"{t} ({'accuracy' if by[(t, EXCEL, seeds[0])]['kind'] == 'classification' else 'RMSE'}, mean of "
        f"{len(seeds)} seeds): " + ", ".join(f"{arm} {mean([by[(t, arm, s)]['primary'] for s in seeds]):.4f}"
                                             for arm in ARMS) + "." for t in TABLES)
    summary += (f" Tables where ExcelFormer matches or beats the GBDT: {[won(GBDT, s) for s in seeds]}, the MLP: "
                f"{[won(MLP, s) for s in seeds]} (per seed).")
    if control:
        summary += " Control (3x epoch budget where ExcelFormer lost): " + "; ".join(
            f"{k}: {v['excelformer']:.4f} -> {v['excelformer_3x_budget']:.4f} vs "
            + ", ".join(f"{a} {b:.4f}" for a, b in v["baselines"].items()) + f", {v['conclusion']}"
            for k, v in control.items()) + "."
    print(summary)
    run.record(
        "excelformer",
        claim="ExcelFormer with its fixed, untuned settings matches or beats GBDTs and MLPs on tabular prediction.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Tables {', '.join(TABLES)} (zoo splits, standardised). ExcelFormer d {SIZE['d_token']}, "
              f"{SIZE['n_heads']} heads, {SIZE['n_layers']} layers, MI-ranked features, Hidden-Mix Beta(0.5, 0.5), "
              f"attenuated init 1e-4; AdamW lr {recipe['lr']}, batch {recipe['batch_size']}, up to {recipe['epochs']} "
              f"epochs, patience {recipe['patience']} on validation loss; MLP 3 x 256 with the same recipe; "
              f"HistGradientBoosting with sklearn defaults. Minimal loop calling ExcelFormer's own training_step "
              f"(zoo.train's per-epoch overhead was too slow). Departures, all forced by the 2-core budget: d 32 / 4 "
              f"heads instead of 256 / 32, lr 1e-3 instead of 1e-4, at most 40 epochs instead of 500; three small "
              f"bundled tables instead of the paper's 96 data sets.",
        table={"columns": ["seed", "table", *ARMS], "rows": rows},
        paper={"note": "The paper reports ExcelFormer, untuned, ranking above tuned GBDTs and DNNs on average over "
                       "its benchmark of real-world data sets."},
        data={"runs": runs, "control": control or None, "seconds": time.time() - start},
    )
