"""Reproduction for `structured-sparsity-learning` (Wen et al., 2016, arXiv:1608.03665) on digits with LeNet.

Claim (Sec. 4.1, Table 1, LeNet on MNIST): filter-wise and channel-wise SSL removes whole filters and
channels of a LeNet with equal or better accuracy than the baseline.

Protocol:
- LeNet as the paper's Caffe LeNet, sized for 8x8 inputs: conv 20@5x5 (pad 2), max-pool 2, conv 50@5x5
  (pad 2), max-pool 2, fc 200-500, ReLU, fc 500-10. Baseline: Caffe's LeNet solver, SGD lr 0.01,
  momentum 0.9, weight decay 5e-4, batch 64, 30 epochs (about 540 iterations; the solver's 10000 on MNIST).
- SSL: from the baseline's weights (as the authors' scripts, which start SSL from the baseline model),
  90 more epochs (1620 iterations, three times the baseline's) with the filter-wise and channel-wise group
  Lasso of every layer (Eq. 3), lr 0.01, weight decay 0 (the authors' example); then every filter /
  channel / shape whose L2 norm is below 1e-3 is removed (zeroed) and the network is evaluated as it is,
  without fine-tuning. Why 90: the paper trains SSL to convergence, and a group's norm reaches zero only
  after many SGD steps of the subgradient; a first version with 30 SSL epochs removed no filter at all
  (a probe on seed 0's validation split, lambda 0.01: 0 conv filters below 1e-3 after 30 epochs, 37 after
  60, 50 after 90, so 30 epochs were far from converged; the length was fixed from this, not from test
  numbers).
- lambda (lambda_n = lambda_c; the paper gives none for LeNet, the authors' CIFAR example 0.003) is chosen
  before the test runs, on seed 100 and the validation split: the largest of {0.003, 0.01, 0.03} whose
  validation accuracy after removal is within 1 point of the baseline's: the claim is a trade-off
  (structures removed at equal accuracy), so the selection takes the strongest penalty that keeps the
  accuracy, not the most accurate one (the smallest penalty, which removes nothing).
- Seeds 0, 1, 2; test accuracy (360 images) of the baseline and of SSL after removal.

Verdict rule (written before running), per seed:
  A (equal or better accuracy): SSL test accuracy after removal >= baseline - 1 point (3.6 test images);
  B (removes whole structures): at least one third of the conv filters (conv1 + conv2, 70) are removed
    (the paper's LeNet #1 removes 66 of 70).
Reproduced when both hold on every seed (computed by zoo.verdicts). Follow-up if A fails on any seed:
seed 0 with the SSL stage twice as long (180 epochs), to tell an unconverged training from a failing claim.
If B fails, the record says whether the penalty was too weak (the selection kept a lambda that leaves the
group norms far above the threshold) or the training too short (norms still falling).

    zoo reproduce structured-sparsity-learning
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check
from zoo_plugins.structured_sparsity_learning.method import group_norms, zero_small_groups

THRESHOLD = 1e-3
TOLERANCE = 0.01
GRID = (0.003, 0.01, 0.03)
CONV = ("0", "2")


def lenet() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 20, 5, padding=2), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5, padding=2),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(200, 500), nn.ReLU(), nn.Linear(500, 10))


def common(seed: int, epochs: int) -> dict:
    return dict(optimizer="sgd", momentum=0.9, batch_size=64, epochs=epochs, seed=seed, progress=False, device="cpu",
                eval_splits=[], final_splits=[])


def accuracy(model, split: str) -> float:
    return zoo.evaluate(model, "digits", split=split, device="cpu")["accuracy"]


def baseline(seed: int, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    model = lenet()
    zoo.train(model, "digits", lr=0.01, weight_decay=5e-4, **common(seed, epochs))
    return model


def ssl(base: nn.Module, lam: float, seed: int, epochs: int) -> tuple[nn.Module, dict, list[float]]:
    """(the SSL model after removal, its structure report, the conv filter norms before removal)."""
    model = copy.deepcopy(base)
    method = zoo.method("structured-sparsity-learning", lambda_filter=lam, lambda_channel=lam)
    zoo.train(model, "digits", methods=[method], lr=0.01, weight_decay=0.0, **common(seed, epochs))
    modules = dict(model.named_modules())
    norms = torch.cat([group_norms(modules[c].weight.detach(), "filter") for c in CONV]).tolist()
    report = zero_small_groups(model, THRESHOLD)
    return model, report, norms


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    started = time.time()
    seeds = run.pick([0, 1, 2], [0])
    epochs, ssl_epochs = run.pick(30, 2), run.pick(90, 2)
    grid = run.pick(GRID, (0.01,))

    pick_base = baseline(100, epochs)
    base_val = accuracy(pick_base, "val")
    selection, selection_removed = {}, {}
    for lam in grid:
        model, report, _ = ssl(pick_base, lam, 100, ssl_epochs)
        selection[lam] = accuracy(model, "val")
        selection_removed[lam] = sum(report[c]["filter"][0] for c in CONV)
    fits = [lam for lam in grid if selection[lam] >= base_val - TOLERANCE]
    lam = max(fits) if fits else min(grid)

    base_acc, ssl_acc, removed, reports, norms, bases = [], [], [], {}, {}, {}
    for seed in seeds:
        base = bases[seed] = baseline(seed, epochs)
        base_acc.append(accuracy(base, "test"))
        model, report, norms[seed] = ssl(base, lam, seed, ssl_epochs)
        ssl_acc.append(accuracy(model, "test"))
        removed.append(sum(report[c]["filter"][0] for c in CONV))
        reports[seed] = report
        print(seed, base_acc[-1], ssl_acc[-1], removed[-1], flush=True)
    total_filters = 70
    checks = [Check("SSL accuracy after removal >= baseline - 1 point", ours=ssl_acc, versus=base_acc,
                    better="higher", margin=-TOLERANCE),
              Check("at least 1/3 of the conv filters removed", ours=[r / total_filters for r in removed],
                    versus=1 / 3, better="higher", margin=-1e-9)]
    follow = None
    if not all(s >= b - TOLERANCE for s, b in zip(ssl_acc, base_acc)):
        base = bases[seeds[0]]
        model, report, _ = ssl(base, lam, seeds[0], 2 * ssl_epochs)
        follow = {"seed": seeds[0], "epochs": 2 * ssl_epochs, "baseline": accuracy(base, "test"),
                  "ssl": accuracy(model, "test"), "filters_removed": sum(report[c]["filter"][0] for c in CONV)}
        follow["A_holds"] = follow["ssl"] >= follow["baseline"] - TOLERANCE
    seconds = time.time() - started

    names = {"0": "conv1", "2": "conv2", "5": "fc1", "7": "fc2"}
    rows = []
    for seed in seeds:
        rep = reports[seed]
        rows.append([seed, f"{100 * base_acc[seeds.index(seed)]:.1f}", f"{100 * ssl_acc[seeds.index(seed)]:.1f}"]
                    + [f"{rep[k]['filter'][1] - rep[k]['filter'][0]}/{rep[k]['filter'][1]} filters, "
                       f"{rep[k]['channel'][1] - rep[k]['channel'][0]}/{rep[k]['channel'][1]} channels"
                       for k in names])
    figure = "ssl_filter_norms.png"
    _plot(run.figure(figure), norms, lam, ssl_epochs)
    mean = lambda v: f"{100 * np.mean(v):.2f}"  # noqa: E731
    summary = (f"lambda {lam} (validation accuracy after removal on seed 100: "
               + ", ".join(f"{k}: {100 * v:.1f}%" for k, v in selection.items())
               + f"; baseline {100 * base_val:.1f}%). Test accuracy, mean of seeds {seeds}: baseline {mean(base_acc)}%, "
               f"SSL after removal {mean(ssl_acc)}%; conv filters removed per seed {removed} of {total_filters}. "
               + (f"Follow-up (seed {follow['seed']}, SSL for {follow['epochs']} epochs): baseline "
                  f"{100 * follow['baseline']:.1f}%, SSL {100 * follow['ssl']:.1f}%, {follow['filters_removed']} "
                  f"filters removed. " if follow else "")
               + f"{seconds:.0f} s wall on one thread.")
    run.record(
        "structured-sparsity-learning",
        claim="Filter-wise and channel-wise SSL removes whole filters and channels of LeNet with equal or better "
              "accuracy than the baseline (Table 1).",
        seeds=list(seeds), checks=checks, summary=summary,
        setup=(f"digits; LeNet conv20@5x5-pool-conv50@5x5-pool-fc500-fc10 (pad 2 for 8x8 inputs). Baseline: SGD "
               f"lr 0.01 momentum 0.9 wd 5e-4 batch 64, {epochs} epochs. SSL: from the baseline, {ssl_epochs} epochs "
               f"(the paper trains SSL to convergence; 30 removed nothing), filter+channel group Lasso on every "
               f"layer, lambda {lam} (the largest of {list(grid)} within 1 point of the baseline on validation, "
               f"seed 100), wd 0; groups with norm < {THRESHOLD} zeroed; no fine-tuning. Rule (fixed before "
               "running), per seed: A SSL >= baseline - 1 point; B >= 1/3 of the 70 conv filters removed."),
        table={"columns": ["seed", "baseline acc %", "SSL acc % (after removal)"]
               + [f"{v} left" for v in names.values()], "rows": rows},
        figures=[figure],
        paper={"LeNet on MNIST (Table 1)": "baseline error 0.9%, 20-50 filters; SSL LeNet #1: error 0.8%, "
                                           "5-19 filters; LeNet #2: error 1.0%, 3-12 filters"},
        data={"lambda": lam, "selection_val": selection, "selection_filters_removed": selection_removed,
              "baseline_val": base_val, "conv_filter_norms_before_removal": norms, "baseline": base_acc,
              "ssl": ssl_acc, "conv_filters_removed": removed, "reports": reports, "follow_up": follow,
              "seconds": seconds})
    print(summary)


def _plot(path, norms: dict, lam: float, ssl_epochs: int) -> None:
    """The conv filters' L2 norms after SSL, sorted, per seed, against the removal threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, (seed, values) in enumerate(norms.items()):
        ax.plot(sorted(values), marker=".", lw=1, color=f"C{i}", label=f"seed {seed}")
    ax.axhline(THRESHOLD, color="k", ls="--", lw=1, label=f"removal threshold {THRESHOLD}")
    ax.set_yscale("log")
    ax.set_xlabel("conv filters (conv1 + conv2), sorted by norm")
    ax.set_ylabel("filter L2 norm after SSL")
    ax.set_title(f"LeNet on digits: SSL lambda {lam}, {ssl_epochs} epochs", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
