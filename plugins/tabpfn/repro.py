"""Reproduction for `tabpfn` (Hollmann, Müller, Eggensperger & Hutter, 2022, arXiv:2207.01848).

Claim: a transformer trained once on synthetic SCM-prior datasets classifies small tabular datasets
in one forward pass, competitive with tuned boosted trees.

Protocol, fixed before running:
- Model: the tiny TabPFN pretrained by `repro_pretrain` (checkpoint `tabpfn.scm-tiny`: width 64,
  3 layers, <= 10 features, <= 4 classes, 1,000 steps of 32 prior datasets of 100 rows). It is not
  trained on the tables below: each prediction is forward passes over the table's training rows,
  averaged over an ensemble of 32 views (class permutations and feature rotations, Sec. 4.4).
- Data: scikit-learn's iris (4 features, 3 classes), wine (13 features, 3 classes) and
  breast-cancer (30 features, 2 classes) tables, cut to their first 10 features (what the tiny
  model reads). Per seed s in (0, 1, 2) and table: a stratified random subset of 80 training rows
  (the prior's datasets have 100 rows, of which up to 90 are training rows), every other row is a
  test row.
- Baselines on the same rows: HistGradientBoosting tuned by 3-fold grid search over learning rate
  (0.05, 0.2) and min_samples_leaf (2, 8) with 100 boosting rounds of trees with up to 31 leaves
  (ROC AUC scored), and logistic regression on standardised features (C = 1).
- Metric: test ROC AUC (one-vs-one macro for three classes, the paper's metric) and accuracy.

Checks, per seed (zoo.verdicts): for each table, AUC(TabPFN) >= AUC(tuned HGB) - 0.01 ("competitive").

Controls, fixed before running:
(a) the prior: on 100 held-out SCM-prior datasets (80 training rows, 20 scored) TabPFN against
    HGB (default settings, min_samples_leaf 5) and logistic regression, accuracy. If a check
    fails while TabPFN matches HGB (within 0.01) on its own prior, the model has learned its prior
    and the gap is transfer to real tables: "the claim fails at this scale". If it is below HGB
    on its own prior too, the tiny pretraining has not converged: "our protocol (budget) fails".
(b) an untrained TabPFN of the same size on the tables: it must sit near chance (AUC ~ 0.5), so
    the numbers above come from the pretraining.

    zoo reproduce tabpfn --part repro --out plugins/tabpfn     (after --part repro_pretrain)
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

import zoo
from zoo.errors import ZooError
from zoo.reproduce import Run
from zoo.verdicts import Check

TAG, TRAIN_ROWS, ENSEMBLE, MAX_FEATURES = "scm-tiny", 80, 32, 10
TABLES = ("iris", "wine", "breast-cancer")
HGB_GRID = {"learning_rate": [0.05, 0.2], "min_samples_leaf": [2, 8]}


def load_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"iris": datasets.load_iris, "wine": datasets.load_wine,
              "breast-cancer": datasets.load_breast_cancer}[name]
    x, y = loader(return_X_y=True)
    return x[:, :MAX_FEATURES].astype(np.float32), y


def pretrained(run: Run):
    """The checkpoint this run's pretraining kept, else the one shipped in the package."""
    for folder in (run.out / "weights" / TAG, Path(__file__).parent / "weights" / TAG):
        if (folder / "model.safetensors").exists():
            return zoo.load(folder), str(folder)
    raise ZooError(f"no tabpfn.{TAG} checkpoint found; run `zoo reproduce tabpfn --part repro_pretrain` first")


def auc(y, probs) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, probs[:, 1]) if probs.shape[1] == 2 else
                 roc_auc_score(y, probs, multi_class="ovo", average="macro"))


def tuned_hgb(x, y, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    scoring = "roc_auc" if len(np.unique(y)) == 2 else "roc_auc_ovo"
    search = GridSearchCV(HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=seed),
                          HGB_GRID, scoring=scoring, cv=StratifiedKFold(3, shuffle=True, random_state=seed))
    return search.fit(x, y)


def logistic(x, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y)


def prior_control(model, draws: int) -> dict:
    """Accuracy of TabPFN, default HGB and logistic regression on held-out prior datasets."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from .inference import classify
    from .prior import SCMPrior

    x, y, used = SCMPrior().sample(draws, 100, np.random.default_rng(12345))
    scores = {"tabpfn": [], "hgb": [], "logistic": []}
    for b in range(draws):
        f, lab = x[b, :, :used[b]], y[b]
        if len(np.unique(lab[:TRAIN_ROWS])) < 2:
            continue  # one class among the training rows: nothing for the baselines to fit
        probs, classes = classify(model, f[:TRAIN_ROWS], lab[:TRAIN_ROWS], f[TRAIN_ROWS:], ensemble=ENSEMBLE, seed=b)
        scores["tabpfn"].append(float((classes[probs.argmax(1)] == lab[TRAIN_ROWS:]).mean()))
        hgb = HistGradientBoostingClassifier(max_iter=100, min_samples_leaf=5, random_state=0)
        for name, fitted in (("hgb", hgb.fit(f[:TRAIN_ROWS], lab[:TRAIN_ROWS])),
                             ("logistic", logistic(f[:TRAIN_ROWS], lab[:TRAIN_ROWS]))):
            scores[name].append(float((fitted.predict(f[TRAIN_ROWS:]) == lab[TRAIN_ROWS:]).mean()))
    return {name: float(np.mean(v)) for name, v in scores.items()} | {"datasets": len(scores["tabpfn"])}


def reproduce(run: Run) -> None:
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from .inference import classify

    seeds = list(run.pick((0, 1, 2), (0,)))
    control_draws = run.pick(100, 10)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    start = time.time()
    model, source = pretrained(run)
    model.eval()
    torch.manual_seed(0)
    untrained = zoo.create("tabpfn", **model.config.to_dict()).eval()
    results = {t: {k: [] for k in ("tabpfn", "hgb", "logistic", "untrained", "tabpfn_acc", "hgb_acc",
                                   "logistic_acc", "tabpfn_seconds", "hgb_seconds")} for t in TABLES}
    rows = []
    with threadpool_limits(1):
        for seed in seeds:
            for table in TABLES:
                x, y = load_table(table)
                xt, xq, yt, yq = train_test_split(x, y, train_size=TRAIN_ROWS, stratify=y, random_state=seed)
                r = results[table]
                t0 = time.perf_counter()
                probs, _ = classify(model, xt, yt, xq, ensemble=ENSEMBLE, seed=seed)
                r["tabpfn_seconds"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                hgb = tuned_hgb(xt, yt, seed)
                r["hgb_seconds"].append(time.perf_counter() - t0)
                lr = logistic(xt, yt)
                blind, _ = classify(untrained, xt, yt, xq, ensemble=ENSEMBLE, seed=seed)
                for name, p in (("tabpfn", probs), ("hgb", hgb.predict_proba(xq)), ("logistic", lr.predict_proba(xq)),
                                ("untrained", blind)):
                    r[name].append(auc(yq, p))
                    if name != "untrained":
                        r[f"{name}_acc"].append(float((p.argmax(1) == yq).mean()))
                rows.append([seed, table, f"{r['tabpfn'][-1]:.4f}", f"{r['hgb'][-1]:.4f}", f"{r['logistic'][-1]:.4f}",
                             f"{r['untrained'][-1]:.3f}", f"{r['tabpfn_acc'][-1]:.3f}", f"{r['hgb_acc'][-1]:.3f}",
                             f"{r['logistic_acc'][-1]:.3f}", f"{r['tabpfn_seconds'][-1]:.2f}",
                             f"{r['hgb_seconds'][-1]:.2f}"])
                print(rows[-1], flush=True)
        control = prior_control(model, control_draws)
    print("prior control", control, flush=True)

    checks = [Check(f"{table}: ROC AUC of TabPFN >= tuned HGB - 0.01", ours=results[table]["tabpfn"],
                    versus=results[table]["hgb"], better="higher", margin=-0.01) for table in TABLES]
    failed = any(a < b - 0.01 for t in TABLES for a, b in zip(results[t]["tabpfn"], results[t]["hgb"]))
    learned_prior = control["tabpfn"] >= control["hgb"] - 0.01
    if not failed:
        conclusion = "no check failed"
    elif learned_prior:
        conclusion = ("TabPFN matches HGB on its own prior, so the gap on the real tables is transfer from the tiny "
                      "prior: the claim fails at this scale")
    else:
        conclusion = ("TabPFN is below HGB even on datasets from its own prior, so the tiny pretraining has not "
                      "converged: our protocol (the CPU budget) fails, not evidence against the claim")
    mean = lambda v: float(np.mean(v))  # noqa: E731
    summary = (f"Tiny TabPFN ({source.split('/weights/')[-1]}: width 64, 3 layers, pretrained on 32,000 SCM-prior "
               f"datasets), {ENSEMBLE}-view ensemble, {TRAIN_ROWS} training rows, {len(seeds)} seeds. Mean test "
               f"ROC AUC "
               + "; ".join(f"{t}: TabPFN {mean(results[t]['tabpfn']):.4f}, tuned HGB {mean(results[t]['hgb']):.4f}, "
                           f"logistic {mean(results[t]['logistic']):.4f}, untrained TabPFN "
                           f"{mean(results[t]['untrained']):.3f}" for t in TABLES)
               + f". Prior control ({control['datasets']} held-out prior datasets, accuracy): TabPFN "
               f"{control['tabpfn']:.3f}, HGB {control['hgb']:.3f}, logistic {control['logistic']:.3f}. "
               f"Conclusion: {conclusion}.")
    print(summary)
    run.record(
        "tabpfn",
        claim="A transformer trained once on synthetic SCM-prior datasets classifies small tabular datasets in one "
              "forward pass, competitive with tuned boosted trees.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Checkpoint tabpfn.{TAG} (see the pretrain record). Tables iris, wine, breast-cancer (scikit-learn), "
              f"first {MAX_FEATURES} features; per seed a stratified subset of {TRAIN_ROWS} training rows, the rest "
              f"test. TabPFN: {ENSEMBLE}-member ensemble (class permutations, feature rotations), no power transform. "
              f"Tuned HGB: 3-fold grid search {HGB_GRID}, 100 rounds, no early stopping. Logistic regression on "
              f"standardised features, C = 1. Metric: ROC AUC (OVO macro for 3 classes). Check: AUC(TabPFN) >= "
              f"AUC(HGB) - 0.01 per table and seed. Controls: {control_draws} held-out prior datasets (HGB default, "
              f"min_samples_leaf 5); an untrained TabPFN. Departures: tiny model and short pretraining (CPU), "
              f"<= 10 features, {TRAIN_ROWS} training rows, three tables instead of the paper's 30 OpenML-CC18 ones, "
              f"a smaller HGB search than the paper's hour-long tuning; one pretraining run (seed 0) serves every "
              f"seed, the seeds varying the tables' training rows (three pretrainings would not fit the budget).",
        table={"columns": ["seed", "table", "AUC TabPFN", "AUC tuned HGB", "AUC logistic", "AUC untrained TabPFN",
                           "acc TabPFN", "acc HGB", "acc logistic", "TabPFN s", "HGB search s"], "rows": rows},
        paper={"note": "Paper Table 1 / Fig. 5: on small numerical OpenML-CC18 datasets TabPFN's mean ROC AUC "
                       "matches or beats tuned GBDTs and AutoML systems given up to an hour, in about a "
                       "second; its model is 512 wide with 12 layers, trained for a day on 8 GPUs."},
        data={"results": results, "prior_control": control, "conclusion": conclusion, "checkpoint": source,
              "seconds": time.time() - start},
    )
