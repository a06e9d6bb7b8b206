"""Reproduction for `gg-moe` ((GG) MoE vs. MLP on Tabular Data, Chernov 2025, arXiv:2502.03608).

Claim: a mixture of experts with a Gumbel-Softmax gate and an embedding layer (GG MoE) matches or
beats an MLP on tabular data, with far fewer parameters; it also does at least as well as the
standard (softmax-gated) MoE.

Protocol, fixed before running:
- Data: the bundled sklearn tables breast-cancer and wine (classification) and diabetes
  (regression, target standardised), the zoo's standardised split of each seed (64/16/20).
  Seeds 0, 1, 2 (split, initialisation, batch order).
- Arms, one recipe for all (AdamW lr 1e-3, weight decay 1e-4, batch 32, up to 200 epochs,
  early stopping on the validation loss with patience 16, best epoch restored):
  MLP (3 hidden layers of 256 ReLU units, dropout 0.1: the usual tabular MLP baseline);
  MoE (softmax gate, linear-ReLU embedding, K = 16 linear experts);
  GG MoE (the same with the Gumbel-Softmax gate, tau = 1, 10 gate draws averaged at evaluation);
  GG MoE without the embedding layer (ablation, reported, not checked).
- Metrics on the test split: accuracy and log-loss (classification), RMSE in target std
  (regression); parameters of every model.
Checks (per seed, zoo.verdicts):
  1-3. on each table, GG MoE matches or beats the MLP: accuracy no more than 2 test samples lower
     (classification), RMSE no more than 5% higher (regression);
  4. GG MoE has fewer than half the MLP's parameters on every table (largest ratio);
  5. GG MoE matches or beats the standard MoE on at least 2 of the 3 tables (same tolerances).
Control, fixed before running, for a table and seed where GG MoE loses to the MLP: GG MoE with
one-hidden-layer experts (32 units, dropout 0.1), still smaller than the MLP, on the same split. If
it matches the MLP, our choice of linear experts (the simplest reading of the paper) was to blame;
if not, the claim fails on that table at this scale.

    zoo reproduce gg-moe --part repro
"""

from __future__ import annotations

import time

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .loop import evaluate, fit

TABLES = ("breast-cancer", "wine", "diabetes")
RECIPE = {"lr": 1e-3, "weight_decay": 1e-4, "batch_size": 32, "epochs": 200, "patience": 16}
ARMS = {"MLP": None, "MoE": {"gating": "softmax"}, "GG MoE": {"gating": "gumbel"},
        "GG MoE, no embedding": {"gating": "gumbel", "embedding": "none"}}
CONTROL = {"gating": "gumbel", "expert_dim": 32, "dropout": 0.1}
REGRESSION_TOLERANCE = 1.05


def mlp(d_in: int, d_out: int, width: int = 256, depth: int = 3, dropout: float = 0.1) -> nn.Sequential:
    """The MLP baseline: depth x (Linear, ReLU, Dropout), then a linear head."""
    layers, size = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, d_out))


def train_arm(table: str, arm: str, seed: int, recipe: dict, options: dict | None) -> dict:
    task = zoo.get_task(table, seed=seed)
    torch.manual_seed(seed)
    if options is None:
        d_out = task.info.num_classes if task.kind == "classification" else task.info.output_dim
        model = mlp(task.info.input_shape[0], d_out)
    else:
        model = zoo.create("gg-moe", task=task, **options)
    start = time.perf_counter()
    trained = fit(model, task, seed=seed, **recipe)
    scores = evaluate(model, task, "test")
    primary = scores["accuracy"] if task.kind == "classification" else scores["rmse"]
    return {"table": table, "arm": arm, "seed": seed, "kind": task.kind, "primary": primary, "log_loss_or_mse":
            scores["loss"], "params": sum(p.numel() for p in model.parameters()),
            "n_test": len(task.splits()["test"]), "seconds": time.perf_counter() - start, **trained}


def matches(ours: dict, versus: dict) -> bool:
    """Ours matches or beats versus: <= 2 test samples less accurate, or RMSE <= 5% higher."""
    if ours["kind"] == "classification":
        return ours["primary"] >= versus["primary"] - 2.0 / ours["n_test"] - 1e-9
    return ours["primary"] <= REGRESSION_TOLERANCE * versus["primary"]


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    recipe = run.pick(RECIPE, {**RECIPE, "epochs": 3})
    torch.set_num_threads(1)
    start = time.time()
    runs = []
    for seed in seeds:
        for table in TABLES:
            for arm, options in ARMS.items():
                runs.append(train_arm(table, arm, seed, recipe, options))
                r = runs[-1]
                print(f"seed {seed} {table} {arm}: {r['primary']:.4f} ({r['params']} params, best epoch "
                      f"{r['best_epoch']})", flush=True)
    by = {(r["table"], r["arm"], r["seed"]): r for r in runs}
    checks = []
    for table in TABLES:
        kind = by[(table, "MLP", seeds[0])]["kind"]
        if kind == "classification":
            n_test = by[(table, "MLP", seeds[0])]["n_test"]
            checks.append(Check(f"{table}: GG MoE accuracy no more than 2 test samples below the MLP's",
                                ours=[by[(table, "GG MoE", s)]["primary"] for s in seeds],
                                versus=[by[(table, "MLP", s)]["primary"] for s in seeds], better="higher",
                                margin=-2.0 / n_test - 1e-9))
        else:
            checks.append(Check(f"{table}: GG MoE RMSE no more than 5% above the MLP's",
                                ours=[by[(table, "GG MoE", s)]["primary"] for s in seeds],
                                versus=[by[(table, "MLP", s)]["primary"] for s in seeds], better="lower",
                                factor=1.0 / REGRESSION_TOLERANCE))  # lower: ours < versus / factor
    ratios = [max(by[(t, "GG MoE", s)]["params"] / by[(t, "MLP", s)]["params"] for t in TABLES) for s in seeds]
    checks.append(Check("GG MoE has under half the MLP's parameters (largest ratio over the tables)", ours=ratios,
                        versus=0.5, better="lower"))
    checks.append(Check("GG MoE matches or beats the standard MoE on at least 2 of 3 tables (tables)",
                        ours=[sum(matches(by[(t, "GG MoE", s)], by[(t, "MoE", s)]) for t in TABLES) for s in seeds],
                        versus=2, better="higher", margin=-0.5))

    control = {}
    for table in TABLES:
        for seed in seeds:
            if matches(by[(table, "GG MoE", seed)], by[(table, "MLP", seed)]):
                continue
            hidden = train_arm(table, "GG MoE, hidden-layer experts", seed, recipe, CONTROL)
            ok = matches(hidden, by[(table, "MLP", seed)])
            control[f"{table}, seed {seed}"] = {
                "gg_moe": by[(table, "GG MoE", seed)]["primary"], "mlp": by[(table, "MLP", seed)]["primary"],
                "gg_moe_hidden_experts": hidden["primary"], "params_hidden_experts": hidden["params"],
                "conclusion": ("matches the MLP with one-hidden-layer experts: our choice of linear experts was to "
                               "blame" if ok else "does not match the MLP with hidden-layer experts either: the claim "
                               "fails on this table at this scale")}
            print("control", table, seed, control[f"{table}, seed {seed}"], flush=True)

    rows = []
    for seed in seeds:
        for table in TABLES:
            rows.append([seed, table, *(f"{by[(table, arm, seed)]['primary']:.4f}" for arm in ARMS)])
    params = {t: {arm: by[(t, arm, seeds[0])]["params"] for arm in ARMS} for t in TABLES}
    rows += [["params", t, *(str(params[t][arm]) for arm in ARMS)] for t in TABLES]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    summary = " ".join(
        f"{t} ({'accuracy' if by[(t, 'MLP', seeds[0])]['kind'] == 'classification' else 'RMSE'}, mean of "
        f"{len(seeds)} seeds): " + ", ".join(f"{arm} {mean([by[(t, arm, s)]['primary'] for s in seeds]):.4f}"
                                             for arm in ARMS) + "." for t in TABLES)
    summary += (" Parameters, GG MoE / MLP: " + ", ".join(f"{t} {params[t]['GG MoE']} / {params[t]['MLP']}"
                                                         for t in TABLES) + ".")
    if control:
        summary += " Control (hidden-layer experts where GG MoE lost): " + "; ".join(
            f"{k}: {v['gg_moe']:.4f} -> {v['gg_moe_hidden_experts']:.4f} vs MLP {v['mlp']:.4f}, {v['conclusion']}"
            for k, v in control.items()) + "."
    print(summary)
    run.record(
        "gg-moe",
        claim="GG MoE (Gumbel-Softmax gate, with an embedding layer) matches or beats an MLP on tabular data with "
              "far fewer parameters, and matches or beats the standard MoE.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Tables {', '.join(TABLES)} (zoo splits, standardised). One recipe for all arms: AdamW lr "
              f"{recipe['lr']}, weight decay {recipe['weight_decay']}, batch {recipe['batch_size']}, up to "
              f"{recipe['epochs']} epochs, early stopping on validation loss (patience {recipe['patience']}, best "
              f"restored), in a minimal loop (zoo.train's per-epoch overhead made 39+ runs too slow). MLP 3 x 256, "
              f"dropout 0.1. MoE / GG MoE: linear-ReLU embedding (16 per feature), K = 16 linear experts, tau 1, 10 "
              f"gate draws at evaluation. Departures: no hyperparameter tuning (the paper tunes every model per "
              f"data set), 3 small bundled tables instead of the paper's 38, linear experts and linear-ReLU "
              f"embeddings as the simplest reading of the architecture.",
        table={"columns": ["seed", "table", *ARMS], "rows": rows},
        paper={"note": "The paper reports GG MoE with an embedding layer as the best average performer over 38 data "
                       "sets against MoE and MLP, with significantly fewer parameters than the MLP."},
        data={"runs": runs, "control": control or None, "seconds": time.time() - start},
    )
