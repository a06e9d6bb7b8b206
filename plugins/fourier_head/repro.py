"""Reproduction for `fourier-head` (Gillman et al., 2024, arXiv:2410.22269): the toy experiment of
Sec. 4.1, learning a known conditional distribution over 50 bins from samples.

Claim: a Fourier-series output head learns smooth continuous distributions better than a linear
softmax head, ignoring high-frequency noise.

Protocol, fixed before running (the paper's toy setup):
- Tasks `fourier-head/gaussian`, `fourier-head/gmm2`, `fourier-head/beta`: 5000 samples (80% train,
  20% test), x, y and z quantised into 50 bins of [-1, 1]; input the bins of (x, y), target the bin
  of z. The data seed is the run's seed.
- Model: MLP 2 -> 64 -> 32 (ReLU) with a linear head (50 logits) or a Fourier head with 12
  frequencies and regularisation gamma 1e-6 (the config's defaults); cross-entropy (+ the Fourier
  regulariser); Adam lr 1e-3, batch 32, 20 epochs; seeds 0, 1, 2 (data, init, order).
- Metrics on the test set: KL(true pmf || predicted pmf), averaged over test samples (the true pmf
  is the density of z given the unquantised (x, y) at the bin centres, normalised), and the paper's
  smoothness metric of the predicted pmfs (lower is smoother), averaged.

Checks (zoo.verdicts, per seed), written before the first run: on each of the three datasets,
  KL: Fourier head < linear head; smoothness: Fourier head < linear head.

Control, fixed before running: on the first (dataset, seed) where the KL check fails, (i) the
Fourier head with 20 frequencies (the largest of the paper's sweep, 2..20) and (ii) both heads
trained twice as long (40 epochs); if either makes the check hold there, our choice of frequencies
or length is to blame, otherwise the claim fails at this scale.

    zoo reproduce fourier-head --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds
from zoo_plugins.fourier_head.model import smoothness

DATASETS = ("gaussian", "gmm2", "beta")
HEADS = {"linear": {"head": "linear"}, "fourier": {"head": "fourier"}}
EPOCHS, BATCH, LR = 20, 32, 1e-3
CONTROL_FREQUENCIES, CONTROL_FACTOR = 20, 2


def kl_divergence(true_pmf: np.ndarray, predicted: np.ndarray) -> float:
    """mean over samples of sum_j q_j (log q_j - log(p_j + 1e-10)) (the paper's KLDivLoss, batchmean)."""
    q = true_pmf
    log_q = np.log(np.where(q > 0, q, 1.0))
    return float(np.sum(np.where(q > 0, q * (log_q - np.log(predicted + 1e-10)), 0.0)) / len(q))


def train_one(task, seed: int, epochs: int, **overrides) -> dict:
    torch.manual_seed(seed)
    model = zoo.create("fourier-head", task=task, **overrides)
    start = time.time()
    zoo.train(model, task, epochs=epochs, batch_size=BATCH, lr=LR, optimizer="adam", seed=seed, eval_splits=[],
              progress=False)
    x = task.splits()["test"].tensors[0]
    pmf = model.eval().pmf(x).double().numpy()
    return {"kl": kl_divergence(task.true_pmf, pmf), "smoothness": float(smoothness(pmf).mean()),
            "seconds": time.time() - start, "pmf": pmf}


def figure(run: Run, tasks: dict, results: dict, seed: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "fourier_head_toy.png"
    centres = (np.linspace(-1, 1, 51)[:-1] + np.linspace(-1, 1, 51)[1:]) / 2
    fig, axes = plt.subplots(1, len(DATASETS), figsize=(13, 3.2))
    for ax, dataset in zip(axes, DATASETS):
        i = 0
        ax.plot(centres, tasks[dataset].true_pmf[i], color="black", lw=1.5, label="true pmf")
        for head, color in (("linear", "tab:orange"), ("fourier", "tab:blue")):
            r = results[(dataset, head, seed)]
            ax.plot(centres, r["pmf"][i], color=color, lw=1, label=f"{head} (KL {r['kl']:.3f})")
        ax.set_title(f"{dataset}: test sample {i}, seed {seed}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 1)
    n_samples = run.pick(5000, 500)
    torch.set_num_threads(1)
    start = time.time()
    results, tasks = {}, {}
    for dataset in DATASETS:
        for seed in seeds:
            task = tasks[dataset] = zoo.get_task(f"fourier-head/{dataset}", seed=seed, n_samples=n_samples)
            for head, overrides in HEADS.items():
                r = results[(dataset, head, seed)] = train_one(task, seed, epochs, **overrides)
                print(f"{dataset} {head} seed {seed}: KL {r['kl']:.4f} smoothness {r['smoothness']:.4f} "
                      f"({r['seconds']:.0f}s)", flush=True)

    def values(dataset, head, key):
        return [results[(dataset, head, s)][key] for s in seeds]

    checks = []
    for dataset in DATASETS:
        checks.append(Check(f"{dataset}: KL to the true pmf, Fourier head < linear head",
                            ours=values(dataset, "fourier", "kl"), versus=values(dataset, "linear", "kl"),
                            better="lower"))
        checks.append(Check(f"{dataset}: smoothness metric, Fourier head < linear head",
                            ours=values(dataset, "fourier", "smoothness"),
                            versus=values(dataset, "linear", "smoothness"), better="lower"))
    control = None
    failing = [(dataset, s) for dataset, check in zip(DATASETS, checks[0::2]) for s in failing_seeds(seeds, [check])]
    if failing:
        dataset, seed = failing[0]
        task = zoo.get_task(f"fourier-head/{dataset}", seed=seed, n_samples=n_samples)
        more = train_one(task, seed, epochs, head="fourier", num_frequencies=CONTROL_FREQUENCIES)
        long_fourier = train_one(task, seed, CONTROL_FACTOR * epochs, head="fourier")
        long_linear = train_one(task, seed, CONTROL_FACTOR * epochs, head="linear")
        holds_freq = more["kl"] < results[(dataset, "linear", seed)]["kl"]
        holds_long = long_fourier["kl"] < long_linear["kl"]
        control = {"dataset": dataset, "seed": seed,
                   "fourier_20_frequencies": {"kl": more["kl"], "smoothness": more["smoothness"]},
                   "linear_20_epochs_kl": results[(dataset, "linear", seed)]["kl"],
                   "fourier_40_epochs": {"kl": long_fourier["kl"], "smoothness": long_fourier["smoothness"]},
                   "linear_40_epochs": {"kl": long_linear["kl"], "smoothness": long_linear["smoothness"]},
                   "holds_with_20_frequencies": holds_freq, "holds_with_40_epochs": holds_long,
                   "conclusion": ("the check holds with " + " and with ".join(
                       t for t, h in (("20 frequencies", holds_freq), ("twice the epochs", holds_long)) if h)
                       + ": our protocol's choice is to blame") if holds_freq or holds_long else
                   "the check still fails with 20 frequencies and with twice the epochs: the claim fails here"}
        print("control:", control["conclusion"], flush=True)

    rows = []
    for dataset in DATASETS:
        for head in HEADS:
            kl, sm = values(dataset, head, "kl"), values(dataset, head, "smoothness")
            rows.append([dataset, head] + [f"{v:.4f}" for v in kl] + [f"{np.mean(kl):.4f} +- {np.std(kl):.4f}"]
                        + [f"{np.mean(sm):.4f} +- {np.std(sm):.4f}"])
    figure_name = figure(run, {d: zoo.get_task(f"fourier-head/{d}", seed=seeds[0], n_samples=n_samples)
                               for d in DATASETS}, results, seeds[0])
    summary = "Means of %d seeds, linear -> Fourier head (12 frequencies, gamma 1e-6): " % len(seeds) + "; ".join(
        f"{d}: KL {np.mean(values(d, 'linear', 'kl')):.3f} -> {np.mean(values(d, 'fourier', 'kl')):.3f}, smoothness "
        f"{np.mean(values(d, 'linear', 'smoothness')):.3f} -> {np.mean(values(d, 'fourier', 'smoothness')):.3f}"
        for d in DATASETS) + "."
    if control:
        summary += (f" Control on {control['dataset']} seed {control['seed']} (KL check failed): Fourier with 20 "
                    f"frequencies KL {control['fourier_20_frequencies']['kl']:.3f} vs linear "
                    f"{control['linear_20_epochs_kl']:.3f}; 40 epochs: Fourier {control['fourier_40_epochs']['kl']:.3f} "
                    f"vs linear {control['linear_40_epochs']['kl']:.3f}: {control['conclusion']}.")
    run.record(
        "fourier_head",
        claim="A Fourier-series output head learns smooth continuous distributions better than a linear softmax head, "
              "ignoring high-frequency noise.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"Toy tasks of Sec. 4.1 (gaussian, gmm2, beta; {n_samples} samples, 80/20 split, 50 bins of [-1, 1], "
               f"data seed = run seed). MLP 2 -> 64 -> 32 (ReLU) + linear head or Fourier head (12 frequencies, "
               f"gamma 1e-6, autocorrelation parameterisation, init / 100); cross-entropy; Adam lr {LR}, batch {BATCH}, "
               f"{epochs} epochs; seeds {seeds}. KL(true || predicted) and the paper's smoothness metric (sigmas "
               f"1..100, L2) on the test set. Departures: one frequency count (12) instead of the paper's sweep over "
               f"2..20; 3 seeds (the paper: 4). Control if a KL check fails: 20 frequencies, and both heads for "
               f"{CONTROL_FACTOR * epochs} epochs, on the first failing dataset and seed."),
        table={"columns": ["dataset", "head"] + [f"KL seed {s}" for s in seeds] + ["KL mean +- std",
                                                                                   "smoothness mean +- std"],
               "rows": rows},
        paper={"note": "Sec. 4.1 / Table 1 (4 seeds): on all three toy datasets the Fourier head has lower KL and "
                       "a lower (smoother) smoothness metric than the linear head; KL falls as the number of "
                       "frequencies grows over 2..20, and regularisation helps smoothness."},
        figures=[figure_name],
        data={"results": {f"{d}/{h}/seed{s}": {k: v for k, v in r.items() if k != "pmf"}
                          for (d, h, s), r in results.items()},
              "control": control, "seconds": time.time() - start},
    )
    print(summary)
