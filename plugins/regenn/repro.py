"""Reproduction for `regenn` (Spadon et al., "Pay Attention to Evolution: Time Series Forecasting
with Deep Graph-Evolution Learning", TPAMI 2021).

Claim: recurrent graph-evolution learning of inter-series relations forecasts coupled multivariate
series better than statistical and ensemble baselines.

Protocol, fixed before running:
- Data: the shared task `dynamics/coupled` (8 series, a nonlinear VAR on a planted sparse directed
  graph plus a seasonal pattern per series; next step from the last 24; standardised; chronological
  70/10/20 split), one draw per seed s in (0, 1, 2).
- ReGENN: the `regenn` defaults (encoder 24 -> 12 steps, evolved graph, one graph convolution, LSTM
  with 32 units, linear decoder), Adam lr 0.005, cosine schedule, batch 64, 10 epochs, seed s.
- Statistical baseline: a least-squares VAR on the same windows (numpy lstsq of the next values on
  all 24 x 8 lagged values and an intercept: VAR(24)).
- Ensemble baseline: gradient-boosted trees (scikit-learn HistGradientBoostingRegressor with its
  defaults, one per series, random_state s) on the same flattened windows.
- Metric: test MSE (standardised units).

Verdict rule (written before the first full run), per seed: ReGENN's test MSE below the VAR's, and
below the boosted trees'. Also measured, not judged: how well the learned relation graph R + M * C
(C averaged over the training windows) finds the planted graph, as the ROC AUC of its absolute
off-diagonal entries against the planted edges.

Control, fixed before running, if a check fails on some seed: ReGENN on seed 0 trained 2x longer
(20 epochs). If it then beats the baseline it lost to, our short training is to blame ("our
protocol fails"); if not, the claim fails at this scale.

    zoo reproduce regenn --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .model import co_occurrence

SEEDS = (0, 1, 2)
TRAIN = {"optimizer": "adam", "lr": 0.005, "batch_size": 64, "schedule": "cosine"}
EPOCHS = 10


def arrays(task, split: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = task.splits()[split].tensors
    return x.double().numpy(), y.double().numpy()


def var_mse(task) -> float:
    """Least-squares VAR(lookback) with an intercept, fitted on the training windows."""
    (x, y), (xt, yt) = arrays(task, "train"), arrays(task, "test")
    design = lambda a: np.c_[a.reshape(len(a), -1), np.ones(len(a))]  # noqa: E731
    beta = np.linalg.lstsq(design(x), y, rcond=None)[0]
    return float(((design(xt) @ beta - yt) ** 2).mean())


def trees_mse(task, seed: int) -> float:
    """Gradient-boosted trees (scikit-learn defaults), one per series, on the flattened windows."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    (x, y), (xt, yt) = arrays(task, "train"), arrays(task, "test")
    flat, flat_test = x.reshape(len(x), -1), xt.reshape(len(xt), -1)
    pred = np.stack([HistGradientBoostingRegressor(random_state=seed).fit(flat, y[:, i]).predict(flat_test)
                     for i in range(y.shape[1])], 1)
    return float(((pred - yt) ** 2).mean())


def graph_auc(model, task) -> float:
    """ROC AUC of |learned graph| (off-diagonal) against the planted edges."""
    from sklearn.metrics import roc_auc_score

    x = task.splits()["train"].tensors[0]
    with torch.no_grad():
        graph = model.relation_graph(co_occurrence(x).mean(0)).abs().numpy()
    planted = np.asarray(task.info.extra["adjacency"]) != 0
    off = ~np.eye(len(planted), dtype=bool)
    if planted[off].all() or not planted[off].any():
        return float("nan")
    return float(roc_auc_score(planted[off], graph[off]))


def fit_regenn(task, seed: int, epochs: int):
    torch.manual_seed(seed)
    model = zoo.create("regenn", task=task)
    result = zoo.train(model, task, seed=seed, epochs=epochs, eval_splits=[], final_splits=["test"], progress=False,
                       **TRAIN)
    return model, float(result.final["test_mse"])


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    epochs = run.pick(EPOCHS, 1)
    sizes = run.pick({}, {"length": 500})
    torch.set_num_threads(1)
    start = time.time()
    results: dict[str, dict] = {}
    for seed in seeds:
        task = zoo.get_task("dynamics/coupled", seed=seed, **sizes)
        model, mse = fit_regenn(task, seed, epochs)
        results[str(seed)] = {"regenn": mse, "var": var_mse(task), "trees": trees_mse(task, seed),
                              "naive": task.info.extra["naive_mse"], "graph_auc": graph_auc(model, task)}
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[str(seed)].items()), flush=True)

    ours = [results[str(s)]["regenn"] for s in seeds]
    checks = [Check("ReGENN test MSE below the least-squares VAR's", ours=ours,
                    versus=[results[str(s)]["var"] for s in seeds], better="lower"),
              Check("ReGENN test MSE below the gradient-boosted trees'", ours=ours,
                    versus=[results[str(s)]["trees"] for s in seeds], better="lower")]
    lost = {name for name in ("var", "trees") for s in seeds if results[str(s)]["regenn"] >= results[str(s)][name]}
    control = None
    if lost:
        seed = seeds[0]
        task = zoo.get_task("dynamics/coupled", seed=seed, **sizes)
        _, longer = fit_regenn(task, seed, 2 * epochs)
        beats = {name: longer < results[str(seed)][name] for name in sorted(lost)}
        control = {"seed": seed, "epochs": 2 * epochs, "regenn_mse": longer, "beats": beats,
                   "conclusion": "our protocol fails (too short training)" if all(beats.values()) else
                   "the claim fails at this scale"}
        print(f"control: ReGENN {2 * epochs} epochs on seed {seed}: {longer:.4f}; beats {beats}", flush=True)

    mean = {k: float(np.nanmean([results[str(s)][k] for s in seeds])) for k in results[str(seeds[0])]}
    summary = (f"Test MSE on dynamics/coupled (8 series, lookback 24), mean over {len(seeds)} seed(s): ReGENN "
               f"{mean['regenn']:.4f}, least-squares VAR(24) {mean['var']:.4f}, gradient-boosted trees "
               f"{mean['trees']:.4f}, no-change forecast {mean['naive']:.4f}. The learned relation graph ranks the "
               f"planted edges with ROC AUC {mean['graph_auc']:.2f} (0.5: chance).")
    if control:
        summary += (f" Control: ReGENN trained {control['epochs']} epochs on seed {control['seed']} reaches "
                    f"{control['regenn_mse']:.4f} ({', '.join(f'beats {k}: {v}' for k, v in control['beats'].items())}): "
                    f"{control['conclusion']}.")
    print(summary)
    rows = [[s] + [f"{results[str(s)][k]:.4f}" for k in ("naive", "var", "trees", "regenn")]
            + [f"{results[str(s)]['graph_auc']:.2f}"] for s in seeds]
    run.record(
        "regenn",
        claim="Recurrent graph-evolution learning of inter-series relationships forecasts coupled multivariate series "
              "better than statistical and ensemble baselines.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"dynamics/coupled (8 series, lookback 24, horizon 1), one draw per seed. ReGENN defaults, Adam lr "
              f"{TRAIN['lr']}, cosine, batch {TRAIN['batch_size']}, {epochs} epochs. VAR(24) by numpy lstsq with "
              f"an intercept; HistGradientBoostingRegressor (defaults) per series on the flattened windows. Rule "
              f"(fixed before running): ReGENN's test MSE below each baseline's, per seed. Control: ReGENN 2x longer "
              f"on seed {seeds[0]}. Departures: generated coupled series instead of the paper's data sets (e.g. "
              f"COVID-19 cases, brazilian weather, PhysioNet), one-step horizon, one VAR and one boosted-tree "
              f"ensemble instead of the paper's dozens of baselines; the simplest reading of the architecture "
              f"(model.py).",
        table={"columns": ["seed", "no-change", "VAR(24)", "boosted trees", "ReGENN", "graph AUC"], "rows": rows},
        paper={"note": "The paper reports improvements of up to 64.87% over dozens of ensemble and statistical "
                       "forecasters on its real data sets; those are not used here."},
        data={"test_mse": results, "epochs": epochs, "control": control, "seconds": time.time() - start},
    )
