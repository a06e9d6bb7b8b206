"""Reproduction for `collaborative-ff` (Lorberbom et al., 2023, arXiv:2305.12393) on digits.

Claim: letting the layers collaborate (each layer judged by the whole network's goodness, the other
layers' held constant) improves the accuracy of Forward-Forward training over the original FF.

Setup: an MLP of 3 hidden ReLU layers of 500 units (no output layer), length normalisation before
every layer, the label one-hot in the first 10 pixels, threshold 2 on the mean squared activity,
random wrong labels as negative data, all layers updated on every step. Both FF and CFF are trained
with zoo.train and the same options: full-batch Adam steps (lr 0.03, the common FF implementation's),
EPOCHS steps, seeds 0, 1, 2; the same seeds give the same initial weights to both. Prediction: the
label of highest goodness accumulated over all layers but the first. Backprop reference: the same
MLP with a linear output layer, Adam lr 1e-3, batch 64, 30 epochs. Test accuracy (360 images).

Verdict rule (written before running): one check, CFF test accuracy > FF test accuracy on the same
seed (margin 0): reproduced if it holds on every seed, partially if on some seeds or on the mean,
not reproduced otherwise (zoo.verdicts).
Control (run whatever the verdict, to tell "the claim fails at this scale" from "our training is too
short"): FF and CFF for 2x the steps on seed 0; if the sign of CFF - FF changes there, the outcome
depends on the training length of our protocol.

    zoo reproduce collaborative-ff --out plugins/collaborative_ff
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

WIDTH, LAYERS = 500, 3
LR, THRESHOLD = 0.03, 2.0
FULL_BATCH = 1150
EPOCHS = 200  # full-batch steps


def ff_mlp(output: bool = False) -> nn.Sequential:
    """LAYERS hidden ReLU layers of WIDTH units on the flattened 8x8 digit (plus an output layer for
    the backprop reference)."""
    modules, width = [nn.Flatten()], 64
    for _ in range(LAYERS):
        modules += [nn.Linear(width, WIDTH), nn.ReLU()]
        width = WIDTH
    if output:
        modules.append(nn.Linear(width, 10))
    return nn.Sequential(*modules)


def train_ff(collaboration: bool, seed: int, epochs: int, task) -> float:
    torch.manual_seed(seed)
    model = ff_mlp()
    method = zoo.method("collaborative-ff", collaboration=collaboration, threshold=THRESHOLD)
    result = zoo.train(model, task, methods=[method], epochs=epochs, batch_size=FULL_BATCH, lr=LR, optimizer="adam",
                       seed=seed, eval_splits=[], final_splits=["test"], progress=False, device="cpu")
    return result.final["test_accuracy"]


def train_backprop(seed: int, epochs: int, task) -> float:
    torch.manual_seed(seed)
    model = ff_mlp(output=True)
    result = zoo.train(model, task, epochs=epochs, batch_size=64, lr=1e-3, optimizer="adam", seed=seed,
                       eval_splits=[], final_splits=["test"], progress=False, device="cpu")
    return result.final["test_accuracy"]


def spread(values) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "min": float(np.min(values)),
            "max": float(np.max(values))}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = run.pick([0, 1, 2], [0])
    epochs = run.pick(EPOCHS, 3)
    bp_epochs = run.pick(30, 1)
    task = zoo.get_task("digits")
    start = time.time()
    accuracy = {"FF": [], "CFF": [], "backprop": []}
    for seed in seeds:
        accuracy["FF"].append(train_ff(False, seed, epochs, task))
        accuracy["CFF"].append(train_ff(True, seed, epochs, task))
        accuracy["backprop"].append(train_backprop(seed, bp_epochs, task))
        print(seed, {k: round(v[-1], 4) for k, v in accuracy.items()}, f"{time.time() - start:.0f}s", flush=True)
    control_epochs = 2 * epochs
    control = {"FF": train_ff(False, 0, control_epochs, task), "CFF": train_ff(True, 0, control_epochs, task)}
    print("control", control, f"{time.time() - start:.0f}s", flush=True)

    main_sign = np.sign(np.mean(accuracy["CFF"]) - np.mean(accuracy["FF"]))
    control_sign = np.sign(control["CFF"] - control["FF"])
    diagnosis = ("at 2x the steps CFF - FF keeps its sign: the outcome does not hinge on our training length"
                 if main_sign == control_sign else
                 "at 2x the steps CFF - FF changes sign: the outcome depends on the training length of our protocol")
    rows = [[name, " ".join(f"{100 * v:.1f}" for v in values), f"{100 * np.mean(values):.2f}",
             f"{100 * np.std(values):.2f}"] for name, values in accuracy.items()]
    summary = (f"Test accuracy on digits over seeds {seeds} after {epochs} full-batch steps: CFF "
               f"{100 * np.mean(accuracy['CFF']):.2f}% vs FF {100 * np.mean(accuracy['FF']):.2f}% (per seed CFF "
               f"{[round(100 * v, 1) for v in accuracy['CFF']]}, FF {[round(100 * v, 1) for v in accuracy['FF']]}); "
               f"backprop reference {100 * np.mean(accuracy['backprop']):.2f}%. Control ({control_epochs} steps, "
               f"seed 0): CFF {100 * control['CFF']:.1f}%, FF {100 * control['FF']:.1f}%: {diagnosis}.")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for i, (name, values) in enumerate(accuracy.items()):
        values = 100 * np.array(values)
        ax.bar(i, values.mean(), color=("tab:gray", "tab:blue", "tab:green")[i], alpha=0.6)
        ax.plot([i] * len(values), values, "k.", ms=6)
    ax.plot([0.25], [100 * control["FF"]], "rx", label=f"{control_epochs} steps (control, seed 0)")
    ax.plot([1.25], [100 * control["CFF"]], "rx")
    ax.set_xticks(range(3), list(accuracy))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Forward-Forward vs collaborative FF on digits ({LAYERS}x{WIDTH} MLP)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("collaborative_ff_accuracy.png"), dpi=110)

    run.record(
        "collaborative-ff",
        claim="Collaborative Forward-Forward (each layer's objective uses the whole network's goodness, other layers "
              "detached) improves accuracy over the original Forward-Forward algorithm (abstract; Table 1).",
        seeds=list(seeds),
        checks=[Check("CFF test accuracy above FF's (same seed)", ours=accuracy["CFF"], versus=accuracy["FF"],
                      better="higher", margin=0.0)],
        summary=summary,
        setup=f"Task digits (8x8, 1150 train / 360 test). MLP {LAYERS}x{WIDTH} ReLU hidden layers, no output layer; "
              f"inputs of every layer length-normalised and detached; label one-hot in the first 10 pixels; goodness = "
              f"mean squared activity, threshold {THRESHOLD}; random wrong labels as negatives; all layers updated each "
              f"step. FF and CFF: zoo.train, full-batch Adam lr {LR}, {epochs} steps, seeds {list(seeds)}. Prediction: "
              f"argmax over labels of the goodness of all layers but the first. Backprop reference: same MLP plus a "
              f"linear output, Adam lr 1e-3, batch 64, {bp_epochs} epochs. Rule (before running): CFF > FF on a seed; "
              f"reproduced on every seed, partially on some or on the mean, else not. Control: {control_epochs} steps "
              f"on seed 0. Departures: 3x500 instead of Hinton's 4x2000 (budget; digits has 64 inputs), goodness as a "
              f"mean (the plain sum saturates the logistic at this width: chance accuracy in our trials), full-batch "
              f"steps (budget and stability on 1150 images), digits instead of MNIST/CIFAR-10.",
        table={"columns": ["training", "test accuracy per seed (%)", "mean (%)", "std"], "rows": rows},
        paper={"note": "Lorberbom et al. report lower test error for CFF than for FF on MNIST, Fashion-MNIST and "
                       "CIFAR-10 (Table 1); Hinton (2022) reports 1.36% test error for supervised FF on MNIST with "
                       "4x2000 units."},
        figures=["collaborative_ff_accuracy.png"],
        data={"accuracy": accuracy, "spread": {k: spread(v) for k, v in accuracy.items()},
              "control": {"epochs": control_epochs, **control, "diagnosis": diagnosis},
              "seconds": time.time() - start},
    )
    print(summary)



