"""Reproduction for `adafnn-basis-layer` (Yao, Mueller & Wang, ICML 2021), Sec. 5 (simulations).

Claim: a network whose first layer learns its basis (AdaFNN) predicts a scalar from functional data
better than the same network on the scores of an a-priori basis, FPCA or B-splines.

Protocol, fixed before running:
- Data (`task.py`): per seed s (0, 1, 2) and setting, 1000 training, 500 validation, 2000 test curves
  X = sum_{k<=20} c_k phi_k + noise (Fourier phi, Var c_k = k^-2, 51 grid points, noise sd 0.05), and
  y = z_a + (z_b^2 - 1)/sqrt(2) + N(0, 0.1^2) with z the standardised scores of components a, b:
  `leading` (a, b) = (1, 2); `minor` (a, b) = (7, 9), small-variance components.
- Arms, all with the same head (MLP [128, 128, 128], ReLU, dropout 0.1) and the same training (Adam,
  lr 1e-3, batch 128, 100 epochs, the epoch with the lowest validation MSE kept), seed s:
  AdaFNN (K = 4 bases, micro networks [64, 64, 64], the paper's sizes; lambda_1 = lambda_2 = 0 as in the
  authors' example); FPCA + MLP (the 4 leading principal-component scores of the training curves,
  sklearn PCA on the regular grid, standardised); B-splines + MLP (least-squares coefficients on 10
  cubic B-splines with equally spaced knots, standardised). Reference (not a check): the head on the
  true z_a, z_b (the error floor).
- Metric: test MSE.

Verdict rule (written before the first full run), per seed: AdaFNN's test MSE below (1) FPCA + MLP's
and (2) B-splines + MLP's in the `minor` setting; (3) and (4) the same in the `leading` setting.

Control, fixed before running, for a failing check: AdaFNN trained 3x longer on the first seed on
which it lost, per setting (one seed: the budget). If it then beats the baseline, our training
length was to blame ("our protocol fails"); if not, the claim fails at this scale.

Departures: our own simulation (the paper's cases use other components and link functions); 1000
training curves; lambdas fixed at 0 instead of tuned on validation; 4 scores for FPCA (matched to K)
and 10 B-splines (fewer make cubic B-splines nearly polynomials) instead of tuned numbers.

    zoo reproduce adafnn-basis-layer --part repro
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LR, BATCH, EPOCHS, K, SPLINES = 1e-3, 128, 100, 4, 10
HEAD = [128, 128, 128]


def fit(model: torch.nn.Module, data: dict, epochs: int, seed: int) -> tuple[float, float]:
    """Adam on the training MSE; returns (test MSE, val MSE) at the epoch of lowest validation MSE."""
    torch.manual_seed(seed)
    x, y = (torch.as_tensor(a, dtype=torch.float32) for a in data["train"])
    xv, yv = (torch.as_tensor(a, dtype=torch.float32) for a in data["val"])
    xt, yt = (torch.as_tensor(a, dtype=torch.float32) for a in data["test"])
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    best, best_state = float("inf"), None
    regularised = hasattr(model, "regularization")
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(BATCH):
            loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
            if regularised:
                loss = loss + model.regularization()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val = torch.nn.functional.mse_loss(model(xv), yv).item()
        if val < best:
            best, best_state = val, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(xt), yt).item(), best


def head(inputs: int) -> torch.nn.Module:
    from .model import mlp

    return mlp([inputs, *HEAD, 1], dropout=0.1)


def standardised(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, sd = train.mean(0), train.std(0) + 1e-12
    return [(a - mean) / sd for a in (train, *others)]


def fpca_features(splits: dict) -> dict:
    """The K leading principal-component scores (PCA on the discretised training curves)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=K).fit(splits["train"][0])
    feats = standardised(*(pca.transform(splits[k][0]) for k in ("train", "val", "test")))
    return {k: (f, splits[k][1]) for k, f in zip(("train", "val", "test"), feats)}


def bspline_design(grid: np.ndarray, count: int, degree: int = 3) -> np.ndarray:
    """(len(grid), count) cubic B-splines with equally spaced knots on [0, 1]."""
    from scipy.interpolate import BSpline

    inner = np.linspace(0.0, 1.0, count - degree + 1)
    knots = np.r_[[0.0] * degree, inner, [1.0] * degree]
    return BSpline.design_matrix(np.clip(grid, 0, 1 - 1e-12), knots, degree).toarray()


def bspline_features(splits: dict, grid: np.ndarray) -> dict:
    design = bspline_design(grid, SPLINES)
    coef = {k: np.linalg.lstsq(design, splits[k][0].T, rcond=None)[0].T for k in ("train", "val", "test")}
    feats = standardised(coef["train"], coef["val"], coef["test"])
    return {k: (f, splits[k][1]) for k, f in zip(("train", "val", "test"), feats)}


def oracle_features(task) -> dict:
    from .task import component_variances

    z = task.coefficients / np.sqrt(component_variances())
    a, b = task.info.extra["relevant_components"]
    arrays = task.split_arrays()
    n = {k: len(v[0]) for k, v in arrays.items()}
    cuts = np.cumsum([0, n["train"], n["val"], n["test"]])
    return {k: (z[cuts[i]:cuts[i + 1]][:, [a - 1, b - 1]], arrays[k][1])
            for i, k in enumerate(("train", "val", "test"))}


def run_arms(setting: str, seed: int, epochs: int, sizes: dict, arms=("adafnn", "fpca", "bspline", "oracle")):
    from .task import FunctionalRegressionTask

    task = FunctionalRegressionTask(setting=setting, seed=seed, **sizes)
    splits = task.split_arrays()
    out = {}
    for arm in arms:
        torch.manual_seed(seed)
        start = time.perf_counter()
        if arm == "adafnn":
            model, data = zoo.create("adafnn-basis-layer", task=task, n_bases=K), splits
        elif arm == "fpca":
            model, data = head(K), fpca_features(splits)
        elif arm == "bspline":
            model, data = head(SPLINES), bspline_features(splits, task.grid)
        else:
            model, data = head(2), oracle_features(task)
        test, val = fit(model, data, epochs, seed)
        out[arm] = test
        print(f"{setting} seed {seed} {arm}: test MSE {test:.4f} (val {val:.4f}) {time.perf_counter() - start:.0f}s",
              flush=True)
    out["var_y"] = float(np.var(splits["test"][1]))
    return out


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 3)
    sizes = run.pick({}, {"train": 200, "val": 100, "test": 200})
    torch.set_num_threads(1)
    start = time.time()
    results = {s: {seed: run_arms(s, seed, epochs, sizes) for seed in seeds} for s in ("minor", "leading")}

    def per_seed(setting, arm):
        return [results[setting][seed][arm] for seed in seeds]

    checks = [Check(f"{setting}: AdaFNN test MSE below {name} + MLP", ours=per_seed(setting, "adafnn"),
                    versus=per_seed(setting, arm), better="lower")
              for setting in ("minor", "leading") for arm, name in (("fpca", "FPCA"), ("bspline", "B-spline"))]

    control = {}
    for setting in ("minor", "leading"):
        for seed in seeds:
            r = results[setting][seed]
            lost = [arm for arm in ("fpca", "bspline") if r["adafnn"] >= r[arm]]
            if lost and not any(key.startswith(setting) for key in control):
                longer = run_arms(setting, seed, 3 * epochs, sizes, arms=("adafnn",))["adafnn"]
                control[f"{setting}/{seed}"] = {
                    "lost_to": lost, "adafnn_3x": longer,
                    "beats_after": {arm: longer < r[arm] for arm in lost}}
    rows = [[setting, seed] + [f"{results[setting][seed][a]:.4f}" for a in ("adafnn", "fpca", "bspline", "oracle")]
            + [f"{results[setting][seed]['var_y']:.3f}"] for setting in ("minor", "leading") for seed in seeds]
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    summary = "; ".join(
        f"{setting}: test MSE AdaFNN {mean(per_seed(setting, 'adafnn')):.4f}, FPCA+MLP "
        f"{mean(per_seed(setting, 'fpca')):.4f}, B-spline+MLP {mean(per_seed(setting, 'bspline')):.4f}, oracle "
        f"{mean(per_seed(setting, 'oracle')):.4f} (means over {len(seeds)} seeds)" for setting in ("minor", "leading"))
    if control:
        fixed = all(all(c["beats_after"].values()) for c in control.values())
        summary += (". Control, AdaFNN trained 3x longer where it lost: " + "; ".join(
            f"{key}: {c['adafnn_3x']:.4f} vs " + ", ".join(
                f"{arm} {results[key.split('/')[0]][int(key.split('/')[1])][arm]:.4f}" for arm in c["lost_to"])
            for key, c in control.items()) + (". Longer training wins every lost comparison: our protocol's length "
                                              "was to blame" if fixed else
                                              ". Longer training does not win every lost comparison: the claim fails "
                                              "at this scale there"))
    summary += "."
    print(summary)
    run.record(
        "adafnn-basis-layer",
        claim="A learned Basis Layer (AdaFNN) beats fixed a-priori bases (FPCA, B-splines) plus the same network on "
              "functional regression (Sec. 5).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Per seed and setting: {sizes.get('train', 1000)} train / {sizes.get('val', 500)} val / "
              f"{sizes.get('test', 2000)} test random Fourier curves (20 components, Var c_k = k^-2, 51 points, noise "
              f"0.05); y = z_a + (z_b^2 - 1)/sqrt(2) + N(0, 0.01), (a, b) = (7, 9) 'minor', (1, 2) 'leading'. Every "
              f"arm: head MLP {HEAD}, ReLU, dropout 0.1; Adam lr {LR}, batch {BATCH}, {epochs} epochs, best-validation "
              f"epoch kept. AdaFNN: K = {K} bases, micro networks [64, 64, 64], lambda_1 = lambda_2 = 0. FPCA: {K} "
              f"sklearn PCA scores; B-spline: {SPLINES} cubic B-spline least-squares coefficients; both standardised. "
              f"Oracle: the head on the true z_a, z_b. Departures: our own simulation in the spirit of the paper's "
              f"(its cases differ in components and links); regression only; lambdas fixed at 0 rather than tuned; "
              f"basis counts fixed (4 FPCA scores matched to K, 10 B-splines) rather than tuned; 1000 training curves.",
        table={"columns": ["setting", "seed", "AdaFNN", "FPCA + MLP", "B-spline + MLP", "oracle (true z)",
                           "Var(y) test"], "rows": rows},
        paper={"note": "Sec. 5 / Table 1: on simulated curves AdaFNN has lower prediction error than networks on FPCA "
                       "or B-spline scores in every case, most clearly where the relevant components have small "
                       "variance."},
        data={"results": {s: {str(k): v for k, v in r.items()} for s, r in results.items()}, "control": control or None,
              "epochs": epochs, "seconds": time.time() - start},
    )
