"""Reproduction for `noprop` (Li, Teh & Pascanu, 2025, arXiv:2503.24322), NoProp-DT on digits.

Claim (abstract; Table 1): NoProp "achieves superior accuracy ... compared to other existing
back-propagation-free methods"; here against Forward-Forward (plain FF, `collaborative-ff` with
collaboration=False) and Direct Feedback Alignment (`dfa`), with backprop as a reference.

Setup, fixed before running:
- NoProp-DT: the paper's T = 10 blocks, cosine noise schedule, learned class embeddings of dimension
  10 (one-hot init), eta = 0.1, AdamW with weight decay 1e-3, batch 128, dropout 0.2; each block a conv
  image path (3x3 convs, 8/16/32 channels, each followed by 2x2 pooling: the paper's 32/64/128 scaled
  down 4x) and fully connected layers of 64 units (the paper's 256 scaled down 4x), EPOCHS epochs at
  lr 1e-2. The prediction is the inference chain from Gaussian noise (seeded) and the classifier.
- FF: the `collaborative-ff` reproduction's plain FF (3x500 ReLU MLP, Adam lr 0.03, batch 128, 100
  epochs, all-layer goodness readout, same seeds). That protocol and code are seeded and
  deterministic, so when its record is in this checkout its per-seed FF accuracies are read from it
  instead of being trained again (budget); else they are trained here.
- DFA: the same 3x500 MLP with a 500->10 output layer, zoo.train(methods=["dfa"]), Adam lr 1e-3, batch
  64, 40 epochs (the `dfa` reproduction's MLP protocol at this width). Backprop: the same MLP and
  options without the method.
- Seeds 0, 1, 2 (initial weights, batch order, noise, feedback matrices). Test accuracy (360 images).

Verdict rule (written before running): two checks per seed, NoProp test accuracy > FF's and
NoProp test accuracy > DFA's (margin 0): reproduced if both hold on every seed, partially if on some
seeds or on the mean, not reproduced otherwise (zoo.verdicts).
Control (run only when a check fails on some seed): NoProp for 2x the epochs on seed 0; if it then
beats the baseline it lost to, our training length is to blame, else the claim fails at this scale.

Departures (budget: the full run must fit ~5 minutes on one core): block widths 4x smaller; lr 1e-2
instead of the paper's 1e-3 for MNIST, because digits gives 9 batches per epoch and the budget ~150
optimizer steps, against ~47k in the paper's 100 MNIST epochs; at lr 1e-3 the linear classifier
p(y | z_T) has barely moved after a few hundred steps (weights move ~1e-3 per step) and the chain then
predicts one class (see DOC.md for the diagnosis); digits instead of MNIST / CIFAR.

    zoo reproduce noprop --out plugins/noprop
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

NOPROP = {"hidden": 64, "conv_width": 8}
NOPROP_LR, NOPROP_BATCH, EPOCHS = 1e-2, 128, 15
MLP_WIDTH, MLP_LR, MLP_BATCH, MLP_EPOCHS = 500, 1e-3, 64, 40
FF_RECORD = Path(__file__).resolve().parent.parent / "collaborative_ff" / "results" / "collaborative-ff.json"


def train_noprop(seed: int, epochs: int, task) -> float:
    torch.manual_seed(seed)
    model = zoo.create("noprop-dt", variant="digits", task=task, **NOPROP)
    result = zoo.train(model, task, methods=["noprop"], optimizer="adamw", lr=NOPROP_LR, weight_decay=1e-3,
                       batch_size=NOPROP_BATCH, epochs=epochs, seed=seed, eval_splits=[], final_splits=["test"],
                       progress=False, device="cpu")
    return result.final["test_accuracy"]


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, MLP_WIDTH), nn.ReLU(), nn.Linear(MLP_WIDTH, MLP_WIDTH), nn.ReLU(),
                         nn.Linear(MLP_WIDTH, MLP_WIDTH), nn.ReLU(), nn.Linear(MLP_WIDTH, 10))


def train_mlp(methods: list, seed: int, epochs: int, task) -> float:
    torch.manual_seed(seed)
    result = zoo.train(mlp(), task, methods=methods, optimizer="adam", lr=MLP_LR, batch_size=MLP_BATCH, epochs=epochs,
                       seed=seed, eval_splits=[], final_splits=["test"], progress=False, device="cpu")
    return result.final["test_accuracy"]


def recorded_ff(seeds: list[int], quick: bool) -> list[float] | None:
    """Plain FF's per-seed accuracies from the collaborative-ff record, when it ran this protocol."""
    if quick or not FF_RECORD.exists():
        return None
    record = json.loads(FF_RECORD.read_text())
    data = record.get("data", {})
    if record.get("seeds") != seeds or "FF" not in data.get("accuracy", {}):
        return None
    return [float(v) for v in data["accuracy"]["FF"]]


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = run.pick([0, 1, 2], [0])
    epochs, mlp_epochs = run.pick(EPOCHS, 1), run.pick(MLP_EPOCHS, 1)
    quick = epochs != EPOCHS
    task = zoo.get_task("digits")
    start = time.time()
    accuracy = {"NoProp": [], "FF": [], "DFA": [], "backprop": []}
    for seed in seeds:
        accuracy["NoProp"].append(train_noprop(seed, epochs, task))
        accuracy["DFA"].append(train_mlp(["dfa"], seed, mlp_epochs, task))
        accuracy["backprop"].append(train_mlp([], seed, mlp_epochs, task))
        print(seed, {k: round(v[-1], 4) for k, v in accuracy.items() if v}, f"{time.time() - start:.0f}s", flush=True)
    ff = recorded_ff(list(seeds), quick)
    ff_source = "read from the collaborative-ff record (same protocol, seeds and code)" if ff else "trained here"
    if ff is None:
        from zoo_plugins.collaborative_ff.repro import EPOCHS as FF_EPOCHS, train_ff

        ff = [train_ff(False, seed, run.pick(FF_EPOCHS, 1), task)[0] for seed in seeds]
    accuracy["FF"] = ff
    print("FF", ff_source, ff, flush=True)

    beats = {name: [n > b for n, b in zip(accuracy["NoProp"], accuracy[name])] for name in ("FF", "DFA")}
    control = None
    if not all(all(v) for v in beats.values()):
        lost_to = [name for name, v in beats.items() if not all(v)]
        noprop_long = train_noprop(seeds[0], 2 * epochs, task)
        control = {"epochs": 2 * epochs, "seed": seeds[0], "NoProp": noprop_long,
                   "beats": {name: noprop_long > accuracy[name][0] for name in lost_to}}
        control["diagnosis"] = (
            "with 2x the epochs NoProp beats " + ", ".join(lost_to) + " on that seed: our training length is to blame"
            if all(control["beats"].values()) else
            "with 2x the epochs NoProp still does not beat " + ", ".join(n for n, b in control["beats"].items() if not b)
            + ": the claim fails at this scale")
        print("control", control, f"{time.time() - start:.0f}s", flush=True)

    rows = [[name, " ".join(f"{100 * v:.1f}" for v in values), f"{100 * np.mean(values):.2f}",
             f"{100 * np.std(values):.2f}"] for name, values in accuracy.items()]
    mean = {k: 100 * float(np.mean(v)) for k, v in accuracy.items()}
    summary = (f"Test accuracy on digits, seeds {seeds}: NoProp-DT {mean['NoProp']:.2f}% "
               f"({[round(100 * v, 1) for v in accuracy['NoProp']]}), FF {mean['FF']:.2f}% "
               f"({[round(100 * v, 1) for v in accuracy['FF']]}), DFA {mean['DFA']:.2f}% "
               f"({[round(100 * v, 1) for v in accuracy['DFA']]}), backprop {mean['backprop']:.2f}%. NoProp ahead of "
               f"FF on {sum(beats['FF'])} and of DFA on {sum(beats['DFA'])} of {len(seeds)} seeds.")
    if control:
        summary += (f" Control ({control['epochs']} epochs, seed {control['seed']}): NoProp "
                    f"{100 * control['NoProp']:.1f}%: {control['diagnosis']}.")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    colors = ("tab:purple", "tab:gray", "tab:orange", "tab:green")
    for i, (name, values) in enumerate(accuracy.items()):
        values = 100 * np.array(values)
        ax.bar(i, values.mean(), color=colors[i], alpha=0.6)
        ax.plot([i] * len(values), values, "k.", ms=6)
    if control:
        ax.plot([0.25], [100 * control["NoProp"]], "rx", label=f"{control['epochs']} epochs (control)")
        ax.legend(fontsize=7)
    ax.set_xticks(range(len(accuracy)), list(accuracy))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("NoProp-DT vs backprop-free baselines on digits", fontsize=9)
    fig.tight_layout()
    fig.savefig(run.figure("noprop_accuracy.png"), dpi=110)

    run.record(
        "noprop",
        claim="NoProp (each block trained alone to denoise a noisy label embedding) achieves higher accuracy than "
              "other back-propagation-free methods (abstract; Table 1): here Forward-Forward and DFA.",
        seeds=list(seeds),
        checks=[Check("NoProp test accuracy above FF's (same seed)", ours=accuracy["NoProp"], versus=accuracy["FF"],
                      better="higher", margin=0.0),
                Check("NoProp test accuracy above DFA's (same seed)", ours=accuracy["NoProp"],
                      versus=accuracy["DFA"], better="higher", margin=0.0)],
        summary=summary,
        setup=f"Task digits (8x8, 1150 train / 360 test). NoProp-DT: T=10, cosine schedule, learned 10-d class "
              f"embeddings (one-hot init), eta 0.1, blocks with convs of {NOPROP['conv_width']}/"
              f"{2 * NOPROP['conv_width']}/{4 * NOPROP['conv_width']} channels and FC width {NOPROP['hidden']}, dropout "
              f"0.2; AdamW lr {NOPROP_LR}, weight decay 1e-3, batch {NOPROP_BATCH}, {epochs} epochs; prediction by "
              f"the seeded inference chain. FF: collaborative-ff's plain-FF protocol (3x500 MLP, Adam lr 0.03, "
              f"batch 128, 100 epochs), {ff_source}. DFA and backprop: 3x{MLP_WIDTH} ReLU MLP + output, Adam lr "
              f"{MLP_LR}, batch {MLP_BATCH}, {mlp_epochs} epochs. Seeds {list(seeds)}. Rule (before running): NoProp > "
              f"FF and NoProp > DFA on a seed; reproduced if both hold on every seed, partially on some or on the mean, "
              f"else not. Control (only if a check fails): NoProp at 2x epochs on seed {seeds[0]}. Departures: "
              f"block widths 4x smaller than the paper's; lr 1e-2 instead of 1e-3 (about 150 optimizer steps in "
              f"budget against ~47k in the paper: at 1e-3 the classifier has not learned and the chain predicts one "
              f"class); digits instead of MNIST/CIFAR; baselines run here rather than the paper's quoted numbers.",
        table={"columns": ["training", "test accuracy per seed (%)", "mean (%)", "std"], "rows": rows},
        paper={"note": "Li et al. report NoProp-DT at about 99.5% on MNIST and about 80% on CIFAR-10, above the "
                       "backprop-free methods they list (forward gradient, feedback-alignment variants, "
                       "Forward-Forward) and close to backprop (numbers quoted from memory, not checked against "
                       "the paper's table)."},
        figures=["noprop_accuracy.png"],
        data={"accuracy": accuracy, "ff_source": ff_source,
              "spread": {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "min": float(np.min(v)),
                             "max": float(np.max(v))} for k, v in accuracy.items()},
              "noprop_beats": beats, "control": control, "seconds": time.time() - start},
    )
    print(summary)
