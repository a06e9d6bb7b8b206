"""Reproduction for `group-dro` (Sagawa, Koh, Hashimoto & Liang, 2020, arXiv:1911.08731).

Claim (abstract, Table 1): naive group DRO on an overparameterized network fails (it fits the
training set, so its worst-case training loss vanishes like ERM's); coupled with a stronger-than-
typical L2 penalty, group DRO raises worst-group accuracy substantially (10-40 points in the paper)
over ERM, while keeping a high average accuracy.

Protocol: task `groups/spurious-digits` (small vs large 8x8 digits; a spurious left/right bar agrees
with the label in 95% of the 1149 training images and 50% of test; groups label x bar, training
sizes 553 / 24 / 28 / 544). A wide MLP (64-256-256-2, ReLU; 82k parameters for 1149 examples,
overparameterized: ERM reaches 100% training accuracy) trained from scratch with SGD (momentum 0.9,
batch 128, 300 epochs = the paper's Waterbirds epochs, lr 0.01), the paper's 2x2:
ERM / group DRO (eta_q = 0.01, C = 0, the authors' defaults) x standard L2 (1e-4, the paper's) /
strong L2. The strong L2 is chosen before the comparison, the way the paper defines it (a penalty
strong enough that the model no longer fits the training set): the smallest lambda of {1e-3, 1e-2,
1e-1} at which ERM's training worst-group accuracy stays below 100%, on a selection seed (100) that
is not among the evaluation seeds 0, 1, 2. Test metrics at the end of training: worst-group
accuracy and average accuracy (group accuracies weighed by the training group shares, as the paper
reports average accuracy on group-balanced test sets).

Verdict rule (written before running), per seed:
  record `group-dro` (the claim): (1) DRO + strong L2 worst-group test accuracy exceeds ERM with
  standard L2 by more than 10 points (the abstract's low end), (2) it exceeds ERM with the same strong
  L2 by more than 10 points (Table 1 compares within a regularization), (3) its average accuracy is
  at most 4 points below ERM with standard L2 (the paper's largest drop is 3.8 points, Waterbirds).
  record `group-dro-naive` (regularization matters): (1) DRO with standard L2 fits the training set
  (training worst-group accuracy above 99.5%), (2) DRO + strong L2 beats DRO + standard L2 in
  worst-group test accuracy. Reproduced / partially / not: zoo.verdicts (every seed / some seeds or
  the mean / none).

Control, when the first record is not reproduced: ERM (standard) and DRO (strong) trained twice as
long (600 epochs), which tells an unfinished training (our protocol) from a claim that fails here.

    zoo reproduce group-dro [--quick]
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

TASK = "groups/spurious-digits"
WIDTH, LR, BATCH, EPOCHS = 256, 0.01, 128, 300
STANDARD_L2 = 1e-4
STRONG_GRID = (1e-3, 1e-2, 1e-1)
SELECTION_SEED = 100
SETTINGS = {"ERM, standard L2": (False, "standard"), "ERM, strong L2": (False, "strong"),
            "DRO, standard L2": (True, "standard"), "DRO, strong L2": (True, "strong")}


def wide_mlp(width: int = WIDTH) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 2))


def train_setting(task, dro: bool, weight_decay: float, seed: int, epochs: int) -> dict:
    """Train one setting from the seed's init; its final train and test metrics (and q for DRO)."""
    torch.manual_seed(seed)
    model = wide_mlp()
    methods = [zoo.method("group-dro")] if dro else []
    result = zoo.train(model, task, methods=methods, optimizer="sgd", lr=LR, momentum=0.9,
                       weight_decay=weight_decay, batch_size=BATCH, epochs=epochs, seed=seed, eval_splits=[],
                       final_splits=["train", "test"], progress=False)
    out = {k: float(v) for k, v in result.final.items()}
    if dro:
        out["q"] = methods[0].group_weights
    return out


def choose_strong_l2(task, epochs: int) -> tuple[float, list]:
    """The smallest lambda of the grid at which ERM no longer fits the training set (the paper's
    'strong' penalty), on the selection seed; the largest if every one still fits."""
    tried = []
    for weight_decay in STRONG_GRID:
        metrics = train_setting(task, False, weight_decay, SELECTION_SEED, epochs)
        tried.append([weight_decay, metrics["train_accuracy"], metrics["train_worst_group_accuracy"]])
        if metrics["train_worst_group_accuracy"] < 1.0:
            return weight_decay, tried
    return STRONG_GRID[-1], tried


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = run.pick([0, 1, 2], [0])
    epochs = run.pick(EPOCHS, 8)
    start = time.time()
    task = zoo.get_task(TASK)
    strong, tried = choose_strong_l2(task, epochs)
    l2 = {"standard": STANDARD_L2, "strong": strong}
    print(f"strong L2 = {strong} (selection: {tried})", flush=True)
    results = {}
    for name, (dro, reg) in SETTINGS.items():
        for seed in seeds:
            results[(name, seed)] = train_setting(task, dro, l2[reg], seed, epochs)
        print(name, [round(results[(name, s)]["test_worst_group_accuracy"], 3) for s in seeds], flush=True)

    def per_seed(name, metric):
        return [results[(name, s)][metric] for s in seeds]

    wg = {name: per_seed(name, "test_worst_group_accuracy") for name in SETTINGS}
    avg = {name: per_seed(name, "test_average_accuracy") for name in SETTINGS}
    train_wg = {name: per_seed(name, "train_worst_group_accuracy") for name in SETTINGS}

    control = None
    checks = [Check("DRO + strong L2 worst-group test accuracy > ERM (standard L2) + 10 points",
                    ours=wg["DRO, strong L2"], versus=wg["ERM, standard L2"], margin=0.10),
              Check("DRO + strong L2 worst-group test accuracy > ERM (strong L2) + 10 points",
                    ours=wg["DRO, strong L2"], versus=wg["ERM, strong L2"], margin=0.10),
              Check("DRO + strong L2 average test accuracy >= ERM (standard L2) - 4 points",
                    ours=avg["DRO, strong L2"], versus=avg["ERM, standard L2"], margin=-0.04)]
    from zoo.verdicts import judge

    verdict, _ = judge(checks)
    if verdict != "reproduced" and not run.quick:
        control = {name: [train_setting(task, SETTINGS[name][0], l2[SETTINGS[name][1]], s, 2 * epochs)
                          for s in seeds] for name in ("ERM, standard L2", "DRO, strong L2")}
        print("control (2x epochs):", {k: [round(m["test_worst_group_accuracy"], 3) for m in v]
                                       for k, v in control.items()}, flush=True)
    seconds = time.time() - start

    # figure: worst-group and average test accuracy of the 2x2, per seed
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, values, title in ((axes[0], wg, "worst-group test accuracy"), (axes[1], avg, "average test accuracy")):
        for i, name in enumerate(SETTINGS):
            ax.bar(i, np.mean(values[name]), color="C0" if name.startswith("ERM") else "C3", alpha=0.6)
            ax.scatter([i] * len(seeds), values[name], color="k", s=10, zorder=3)
        ax.set_xticks(range(len(SETTINGS)), [n.replace(", ", "\n") for n in SETTINGS], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(run.figure("group_dro_2x2.png"), dpi=120)
    plt.close(fig)

    def spread(values):
        return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"

    rows = [[name, f"{l2[reg]:g}", spread(train_wg[name]), spread(avg[name]), spread(wg[name]),
             " / ".join(f"{v:.3f}" for v in wg[name])] for name, (_, reg) in SETTINGS.items()]
    table = {"columns": ["setting", "L2", "train worst-group acc", "test average acc", "test worst-group acc",
                         "worst-group per seed"], "rows": rows}
    setup = (f"Task {TASK} (1149 train / 360 test; groups small/left, small/right, large/left, large/right with "
             f"training sizes {task.group_counts}). MLP 64-{WIDTH}-{WIDTH}-2 (ReLU) from scratch, SGD momentum 0.9, "
             f"lr {LR}, batch {BATCH}, {epochs} epochs, no early stopping; group DRO eta_q = 0.01, C = 0. Standard "
             f"L2 {STANDARD_L2}; strong L2 = {strong}, the smallest of {list(STRONG_GRID)} at which ERM no longer "
             f"fits the training set on selection seed {SELECTION_SEED} (tried [lambda, train acc, train "
             f"worst-group acc]: {tried}). Seeds {seeds} (init and data order; the task's data is fixed). Average "
             f"accuracy: group accuracies weighed by the training group shares. Tolerances: +10 points (the "
             f"abstract's smallest gain), -4 points of average accuracy (the paper's largest drop, 3.8). "
             f"Departures: the paper fine-tunes pretrained ResNet50 / BERT on Waterbirds, CelebA and MultiNLI with "
             f"lr 1e-3 (Waterbirds) and strong L2 1.0; a from-scratch MLP on 8x8 digits needs lr 0.01 to fit in 300 "
             f"epochs and collapses to chance at lambda 1.0 (lambda is relative to the model's scale), so lambda is "
             f"chosen by the paper's own criterion instead. Runtime {seconds:.0f} s on 1 thread.")
    gain_std = np.subtract(wg["DRO, strong L2"], wg["ERM, standard L2"])
    summary = (f"Worst-group test accuracy: ERM standard L2 {spread(wg['ERM, standard L2'])}, ERM strong L2 "
               f"{spread(wg['ERM, strong L2'])}, DRO standard L2 {spread(wg['DRO, standard L2'])}, DRO strong L2 "
               f"{spread(wg['DRO, strong L2'])} (gain over ERM standard {np.mean(gain_std) * 100:.1f} points). "
               f"Average accuracy: ERM standard {spread(avg['ERM, standard L2'])}, DRO strong "
               f"{spread(avg['DRO, strong L2'])}.")
    if control is not None:
        summary += (" Control at 2x epochs, worst-group: ERM standard "
                    f"{spread([m['test_worst_group_accuracy'] for m in control['ERM, standard L2']])}, DRO strong "
                    f"{spread([m['test_worst_group_accuracy'] for m in control['DRO, strong L2']])}.")
    paper = {"source": "Table 1, Waterbirds (average / worst-group test accuracy, %)",
             "ERM, standard": [97.3, 60.0], "DRO, standard": [97.4, 76.9], "ERM, strong L2": [95.7, 21.3],
             "DRO, strong L2": [93.5, 86.0]}
    data = {"results": {f"{k[0]} | seed {k[1]}": v for k, v in results.items()}, "strong_l2": strong,
            "selection": tried, "control_2x_epochs": control, "seconds": seconds}
    run.record("group-dro", claim="Group DRO with strong L2 raises worst-group test accuracy by 10-40 points over "
                                  "ERM while keeping a high average accuracy (abstract, Table 1)",
               seeds=list(seeds), checks=checks, summary=summary, setup=setup, table=table, paper=paper,
               figures=["group_dro_2x2.png"], data=data)
    run.record("group-dro-naive",
               claim="Naive group DRO (standard regularization) fits the training set, so its worst-case training "
                     "loss vanishes and it generalizes poorly on the worst group; strong L2 is what makes it work",
               seeds=list(seeds),
               checks=[Check("DRO + standard L2 training worst-group accuracy > 99.5%",
                             ours=train_wg["DRO, standard L2"], versus=0.995),
                       Check("DRO + strong L2 worst-group test accuracy > DRO + standard L2",
                             ours=wg["DRO, strong L2"], versus=wg["DRO, standard L2"])],
               summary=(f"DRO with standard L2: training worst-group accuracy {spread(train_wg['DRO, standard L2'])}, "
                        f"test worst-group {spread(wg['DRO, standard L2'])}; with strong L2: training worst-group "
                        f"{spread(train_wg['DRO, strong L2'])}, test worst-group {spread(wg['DRO, strong L2'])}."),
               setup=setup, table=table, paper=paper, figures=["group_dro_2x2.png"])
