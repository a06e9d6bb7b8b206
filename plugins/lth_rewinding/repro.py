"""Reproduction for `lth-rewinding` (Frankle et al., arXiv:1903.01611) on digits, in the regime where the
paper says rewinding to iteration 0 fails: a deeper conv net trained at a standard high learning rate.

Claim: IMP with rewinding to an early iteration k finds sparse subnetworks that match the dense accuracy,
where rewinding to iteration 0 (the original lottery ticket) does not.

Protocol:
- Conv net (VGG-style, for 8x8 inputs): conv 16, conv 16, max-pool, conv 32, conv 32, max-pool, fc 128-256-10,
  ReLU, Kaiming init (PyTorch default). SGD lr 0.1, momentum 0.9 (the paper's high-lr VGG/ResNet regime),
  batch 60, 15 epochs (300 iterations) per round.
- IMP: 20% of the surviving weights of every layer per round (output layer 10%), 7 rounds (about 21% of
  the weights left), layer-wise. Rewinding to k = 10 iterations (3.3% of training, inside the paper's
  0.1-7%) against k = 0; seeds 0, 1, 2.
- Measure: test accuracy after the last epoch of each round.
- Checked before the run: the dense net learns at this lr, at widths 32-32-64-64 (seed 0, 15 epochs from
  theta_0: 92.2% test accuracy, validation accuracy jumping between 88% and 96% from epoch to epoch: the
  unstable high-lr regime) and at the widths used, 16-16-32-32 (seeds 0, 1: 84.4%, 88.1%). Departure: the
  run uses widths 16-16-32-32, half the planned 32-32-64-64: the 48 trainings at width 32 (about 4-5 min
  on an idle core) did not fit the time left on the shared, heavily loaded machine. Depth and learning
  rate, which set the paper's failure regime, are unchanged. The --quick smoke run (width 8, one epoch)
  does not learn and only tests the plumbing.

Verdict rule (written before running), per seed, at the last round:
  A: the k=10 subnetwork's accuracy >= the dense accuracy - 1 point;
  B: the k=10 subnetwork's accuracy > the k=0 subnetwork's (rewinding early beats rewinding to 0).
Reproduced when both hold on every seed (zoo.verdicts). If B fails, the k=0 failure regime was not reached
at this scale; the record says so (the original LTH works on small nets).

    zoo reproduce lth-rewinding
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

TOLERANCE = 0.01
WIDTH = 16  # conv widths 16-16-32-32 (see the docstring: 32 learns too but did not fit the session's time)


def conv_net(width: int = 32) -> nn.Sequential:
    w = width
    return nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(2 * w * 4, 256), nn.ReLU(), nn.Linear(256, 10))


def imp(seed: int, k: int, rounds: int, epochs: int, width: int, **train_options):
    torch.manual_seed(seed)
    model = conv_net(width)
    result = zoo.method("lth-rewinding", rewind_iteration=k, rounds=rounds).run(
        model, "digits", epochs=epochs, optimizer="sgd", lr=0.1, momentum=0.9, batch_size=60, seed=seed,
        progress=False, device="cpu", eval_splits=[], final_splits=["test"], **train_options)
    return [(r.remaining, r.final["test_accuracy"]) for r in result.rounds]


@dataclass
class Comparison:
    """Both rewinding points (k and 0) on every seed: the per-round curves and the rule's checks."""

    seeds: list
    rounds: int
    epochs: int
    width: int
    k: int
    curves: dict  # {rewind point: {seed: [(weights left, test accuracy) per round]}}
    dense: list  # round 0 of the k run: the dense net trained from theta_k
    late: list  # last round, k
    early0: list  # last round, k=0
    left: float  # fraction of weights left at the last round
    checks: list
    rows: list  # the record's table: round, weights left, per-seed accuracies of k=0 and k


def compare(run: Run, **train_options) -> Comparison:
    """Run IMP rewound to k=10 and to 0 on each seed (sized by `run`) and judge the rule:
    A: the k subnetwork >= dense - 1 point; B: the k subnetwork > the 0 subnetwork."""
    seeds = run.pick([0, 1, 2], [0])
    rounds, epochs, width, k = run.pick(7, 1), run.pick(15, 1), run.pick(WIDTH, 8), 10
    curves = {0: {}, k: {}}
    for seed in seeds:
        for kk in curves:
            curves[kk][seed] = imp(seed, kk, rounds, epochs, width, **train_options)
        print(seed, {kk: [round(a, 3) for _, a in c[seed]] for kk, c in curves.items()}, flush=True)
    dense = [curves[k][s][0][1] for s in seeds]
    late = [curves[k][s][-1][1] for s in seeds]
    early0 = [curves[0][s][-1][1] for s in seeds]
    left = curves[k][seeds[0]][-1][0]
    checks = [Check(f"k={k} subnetwork ({100 * left:.0f}% left) >= dense - 1 point", ours=late, versus=dense,
                    better="higher", margin=-TOLERANCE),
              Check(f"k={k} subnetwork beats k=0", ours=late, versus=early0, better="higher")]
    rows = [[r, f"{100 * curves[k][seeds[0]][r][0]:.1f}"]
            + [" / ".join(f"{100 * curves[kk][s][r][1]:.1f}" for s in seeds) for kk in (0, k)]
            for r in range(rounds + 1)]
    return Comparison(seeds, rounds, epochs, width, k, curves, dense, late, early0, left, checks, rows)


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    started = time.time()
    arms = compare(run)
    seeds, rounds, epochs, width, k, curves = arms.seeds, arms.rounds, arms.epochs, arms.width, arms.k, arms.curves
    dense, late, early0, left, checks = arms.dense, arms.late, arms.early0, arms.left, arms.checks
    reading = ("k=0 fails where k=10 holds: the paper's regime was reached" if all(
        a > b for a, b in zip(late, early0)) else "k=0 did not fail against k=10 on every seed: the iteration-0 failure "
        "regime was not (fully) reached at this scale, or both fail together")
    figure = "lth_rewinding_accuracy.png"
    _plot(run.figure(figure), curves, seeds, k)
    seconds = time.time() - started
    summary = (f"At {100 * left:.1f}% of the weights: k={k} {100 * np.mean(late):.2f}%, k=0 {100 * np.mean(early0):.2f}%, "
               f"dense (trained from theta_k) {100 * np.mean(dense):.2f}% (means of seeds {seeds}). {seconds:.0f} s "
               f"wall on one thread. Reading: {reading}.")
    run.record(
        "lth-rewinding",
        claim="Rewinding to an early iteration k finds sparse subnetworks matching the dense accuracy where "
              "rewinding to iteration 0 fails (deeper nets, high learning rate).",
        seeds=list(seeds), checks=checks, summary=summary,
        setup=(f"digits; conv {width}-{width}-pool-{2 * width}-{2 * width}-pool-fc256-10; SGD lr 0.1 momentum 0.9, "
               f"batch 60, {epochs} epochs per round; IMP 20%/round layer-wise (output 10%), {rounds} rounds; "
               f"k={k} vs k=0. Rule (fixed before running), per seed at the last round: A k-ticket >= dense - 1 "
               "point, B k-ticket > 0-ticket."),
        table={"columns": ["round", "weights left %", "k=0 acc % per seed", f"k={k} acc % per seed"], "rows": arms.rows},
        figures=[figure],
        paper={"Frankle et al. 2019 (Figures 1, 3)": "VGG-19 / ResNet-18 on CIFAR-10 at lr 0.1: IMP rewound to "
               "iteration 0 falls below dense accuracy at moderate sparsity; rewound to k = 100-500 iterations "
               "(0.1-7% of training) it matches dense down to about 1.5-20% of the weights"},
        data={"reading": reading, "curves": {str(kk): {str(s): v for s, v in c.items()} for kk, c in curves.items()}, "seconds": seconds})
    print(summary)


def _plot(path, curves: dict, seeds: list, k: int) -> None:
    """Test accuracy against the weights left, per seed, for rewinding to 0 and to k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, kk in enumerate(curves):
        for j, seed in enumerate(seeds):
            left, acc = zip(*curves[kk][seed])
            ax.plot([100 * v for v in left], [100 * a for a in acc], marker=".", lw=1, color=f"C{i}",
                    alpha=0.5 + 0.5 * (j == 0), label=f"rewind to k={kk}" if j == 0 else None)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("weights left (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"IMP on digits, conv net at lr 0.1: k={k} vs k=0 (seeds {seeds})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
