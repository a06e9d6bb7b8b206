"""Reproduction for `functional-nn` (Heinrichs, Heim & Weber, 2023), the simulation study.

Claim: shift-invariant functional neural networks classify functional data more accurately than a
standard benchmark model of functional data analysis.

Protocol, fixed before running:
- Data (`functional-nn/shifted-signals`): per seed s (0, 1, 2), 1000 training, 500 validation and 2000
  test curves on 128 points of [0, 1]: a smooth random background (20 Fourier components, variances
  k^-2), noise sd 0.1, and one of three waveforms (bump, biphasic, Ricker; width 0.02, peak 1); the
  label is the waveform. Two settings (task option `jitter`):
  * jittered (jitter 0.05): the waveform centred at a time uniform on [0.45, 0.55], time-locked with
    latency jitter as event-related potentials in EEG. The signal's place is nearly fixed, so the
    benchmark sees it: the fair test of the paper's claim.
  * random shift (jitter 0.35): centred anywhere in [0.15, 0.85]. A shift-invariance stress test: two of
    the waveforms have zero mean, so a model that is not shift invariant stays near chance by
    construction; this arm shows the shift invariance at work, not a margin over the benchmark.
- FNN (the paper's shift-invariant model, sized like the authors' examples): each curve standardised,
  functional convolutional layers with 20 and 5 hidden functions, ELU, weight functions on [0, 0.2]
  in 7 Legendre polynomials, class logits the time means of 3 output functions. Adam, lr 1e-2, batch
  64, 40 epochs, the epoch of best validation accuracy kept, seed s.
- Benchmark (functional logistic regression): the curves' least-squares coefficients on K cubic
  B-splines (equally spaced knots), standardised, into multinomial logistic regression (sklearn,
  L2 penalty); K in (10, 20, 40) and C in 1e-3 .. 1e2 chosen together on the validation split, so the
  benchmark may resolve the short waveforms (20 splines alone have knots 0.056 apart).
- Extra arm, no check: the functional MLP (the `dense` variant: weights w(s, t) in 7 x 7 Legendre
  products, not shift invariant), trained as the FNN, in both settings.
- Metric: test accuracy.

Checks (written before the first full run of this two-setting protocol), per seed:
1. jittered setting: FNN test accuracy above the benchmark's (the paper's claim);
2. random-shift setting: FNN test accuracy above the benchmark's (the stress test; it cannot fail
   through the benchmark, only through the FNN not learning).

Control, fixed before running, for a setting and seed where a check fails: the FNN trained 3x longer
on that setting and seed. If it then wins, our training length was to blame; if not, the claim fails
at this scale.

Departures: simulated EEG-like curves instead of the paper's recordings; sizes from the authors'
examples, not tuned; Adam at lr 1e-2 for 640 steps instead of Keras' default 1e-3 for thousands of
steps (the budget); time-mean logits (the authors' pooled last layer with one constant basis function).

    zoo reproduce functional-nn --part repro
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LR, BATCH, EPOCHS = 1e-2, 64, 40
SPLINES = (10, 20, 40)
CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
SETTINGS = {"jittered": 0.05, "random shift": 0.35}  # name -> the task's `jitter`


def fit(model: torch.nn.Module, splits: dict, epochs: int, seed: int) -> tuple[float, float]:
    """Adam on the cross entropy; (test accuracy, validation accuracy) at the best validation epoch."""
    torch.manual_seed(seed)
    tensors = {k: (torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)) for k, (x, y) in splits.items()}
    x, y = tensors["train"]
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    def accuracy(split: str) -> float:
        model.eval()
        with torch.no_grad():
            xs, ys = tensors[split]
            return (model(xs).argmax(-1) == ys).float().mean().item()

    best, best_state = -1.0, None
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(BATCH):
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val = accuracy("val")
        if val > best:
            best, best_state = val, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return accuracy("test"), best


def functional_logistic(splits: dict, grid: np.ndarray) -> tuple[float, float, int, float]:
    """B-spline coefficients + multinomial logistic regression, the number of splines and C chosen on
    validation; (test acc, val acc, chosen number of splines, chosen C)."""
    from sklearn.linear_model import LogisticRegression

    from zoo_plugins.adafnn_basis_layer.repro import bspline_design

    best = None
    for count in SPLINES:
        design = bspline_design(grid, count)
        coef = {k: np.linalg.lstsq(design, x[:, 0].T, rcond=None)[0].T for k, (x, _) in splits.items()}
        mean, sd = coef["train"].mean(0), coef["train"].std(0) + 1e-12
        feats = {k: (v - mean) / sd for k, v in coef.items()}
        for c in CS:
            clf = LogisticRegression(C=c, max_iter=2000).fit(feats["train"], splits["train"][1])
            val = clf.score(feats["val"], splits["val"][1])
            if best is None or val > best[1]:
                best = (clf.score(feats["test"], splits["test"][1]), val, count, c)
    return best


def run_arms(setting: str, seed: int, epochs: int, sizes: dict, arms=("fnn", "benchmark", "dense")) -> dict:
    from .task import ShiftedSignalTask

    task = ShiftedSignalTask(seed=seed, jitter=SETTINGS[setting], **sizes)
    splits = task.split_arrays()
    out = {}
    for arm in arms:
        start = time.perf_counter()
        if arm == "benchmark":
            test, val, count, c = functional_logistic(splits, task.grid)
            out["benchmark_splines"], out["benchmark_C"] = count, c
        else:
            torch.manual_seed(seed)
            model = zoo.create("functional-nn", task=task, **({"layer": "dense"} if arm == "dense" else {}))
            test, val = fit(model, splits, epochs, seed)
        out[arm] = test
        print(f"{setting}, seed {seed}, {arm}: test accuracy {test:.4f} (val {val:.4f}) "
              f"{time.perf_counter() - start:.0f}s",
              flush=True)
    return out


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 2)
    sizes = run.pick({}, {"train": 150, "val": 60, "test": 150})
    torch.set_num_threads(1)
    start = time.time()
    results = {name: {seed: run_arms(name, seed, epochs, sizes) for seed in seeds} for name in SETTINGS}
    arm = lambda name, key: [results[name][s][key] for s in seeds]  # noqa: E731
    checks = [Check(f"{name}: FNN test accuracy above functional logistic regression", ours=arm(name, "fnn"),
                    versus=arm(name, "benchmark"), better="higher") for name in SETTINGS]
    control = {}
    for name in SETTINGS:
        for seed in seeds:
            if results[name][seed]["fnn"] <= results[name][seed]["benchmark"]:
                longer = run_arms(name, seed, 3 * epochs, sizes, arms=("fnn",))["fnn"]
                control[f"{name}, seed {seed}"] = {"fnn_3x": longer, "benchmark": results[name][seed]["benchmark"],
                                                   "wins_after": longer > results[name][seed]["benchmark"]}
    fmt = lambda xs: f"{np.mean(xs):.3f} ({', '.join(f'{v:.3f}' for v in xs)})"  # noqa: E731
    summary = f"Test accuracy over {len(seeds)} seeds (chance 0.333). " + " ".join(
        f"{name.capitalize()} setting (jitter {SETTINGS[name]}): shift-invariant FNN {fmt(arm(name, 'fnn'))}, "
        f"functional logistic regression on B-spline coefficients {fmt(arm(name, 'benchmark'))}, functional MLP "
        f"(dense, not shift invariant) {fmt(arm(name, 'dense'))}." for name in SETTINGS)
    if control:
        summary += " Control, FNN trained 3x longer where it lost: " + "; ".join(
            f"{k}: {c['fnn_3x']:.3f} vs {c['benchmark']:.3f}" for k, c in control.items()) + (
            ": longer training wins, our protocol's length was to blame." if all(
                c["wins_after"] for c in control.values())
            else ": it still loses, the claim fails at this scale there.")
    print(summary)
    rows = [[name, s, f"{r['fnn']:.4f}", f"{r['benchmark']:.4f}", r["benchmark_splines"], r["benchmark_C"],
             f"{r['dense']:.4f}"] for name in SETTINGS for s, r in results[name].items()]
    run.record(
        "functional-nn",
        claim="Shift-invariant functional neural networks classify functional data more accurately than a benchmark "
              "model from functional data analysis.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Per seed and setting: {sizes.get('train', 1000)} / {sizes.get('val', 500)} / {sizes.get('test', 2000)} "
              f"curves of functional-nn/shifted-signals (128 points; smooth Fourier background, noise 0.1, one of 3 "
              f"waveforms of width 0.02 centred on 0.5 +- jitter). Settings: jittered (jitter 0.05, time-locked "
              f"signals with latency jitter as event-related potentials; the test of the claim) and random shift "
              f"(jitter 0.35; a shift-invariance stress test in which any model that is not shift invariant is near "
              f"chance by construction). FNN: standardised curves, functional convolutions [20, 5] + 3 output "
              f"functions, ELU, 7 Legendre polynomials on [0, 0.2]; Adam lr {LR}, batch {BATCH}, {epochs} epochs, "
              f"best-validation epoch. Benchmark: cubic B-spline coefficients (number of splines from {list(SPLINES)} "
              f"and C from {list(CS)} chosen on validation), standardised, multinomial logistic regression. Extra "
              f"arm: the dense functional MLP, same training. Departures: simulated EEG-like data instead of the "
              f"paper's recordings; sizes from the authors' examples, not tuned; lr 1e-2 for {epochs * 16} steps "
              f"instead of Keras' default 1e-3 for thousands (budget); time-mean logits.",
        table={"columns": ["setting", "seed", "FNN (shift invariant)", "functional logistic regression", "splines",
                           "C", "functional MLP"],
               "rows": rows},
        paper={"note": "Simulations and EEG data: the FNNs reach higher accuracy than the FDA benchmark model; the "
                       "convolutional (shift-invariant) form handles signals at varying positions."},
        data={"results": {name: {str(k): v for k, v in r.items()} for name, r in results.items()},
              "jitter": SETTINGS, "control": control or None, "epochs": epochs, "seconds": time.time() - start},
    )
