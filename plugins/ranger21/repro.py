"""Reproduction for `ranger21` (Wright & Demeure, arXiv:2106.13731).

Claim (abstract, Sec. 4): Ranger21 reaches higher validation accuracy than AdamW, faster, with
smoother training curves.

Protocol, fixed before running:
- Task `digits` (8x8 digits in [0, 1]; 1149 train / 288 val / 360 test). Model: a small CNN, conv
  3x3 16 ch, ReLU, conv 3x3 stride 2 32 ch, ReLU, linear 512 -> 10 (PyTorch default init).
- Same budget for both: zoo.train, batch 64, EPOCHS epochs, lr 1e-3 (the default of both), weight
  decay 1e-4 (Ranger21's default; decoupled in AdamW), seeds 0, 1, 2. Ranger21 with every default
  (its own warm-up and warm-down over the run's steps); AdamW at a constant lr. AdamW with cosine
  decay is also run and reported (not judged), to show how much of a difference is the schedule.
- Validation accuracy after every epoch; "faster": validation accuracy at epochs 5 and 10; final:
  validation accuracy after the last epoch; smoothness: the mean absolute change of the validation
  loss from one epoch to the next over the run (lower is smoother).

Verdict rule (written before running), per seed (zoo.verdicts): four checks, Ranger21 against AdamW
  1. validation accuracy at epoch 5 higher;  2. at epoch 10 higher;  3. final validation accuracy
  higher;  4. mean absolute epoch-to-epoch change of the validation loss lower.
reproduced when all hold on every seed; not reproduced when none holds on any seed or the mean;
partially reproduced otherwise. If a check fails, a control reruns seed 0 with 3x the epochs (the
paper's runs are long; Ranger21's warm-up takes up to 22% of a run).

Departures: digits and a small CNN instead of the paper's ImageNet / CIFAR ResNets (budget); one lr for
both instead of a tuned one per optimizer; pytorch_optimizer's Ranger21 (differences in DOC.md).

    zoo reproduce ranger21
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, judge_check

ARMS = {"ranger21": {"optimizer": "ranger21"},
        "adamw": {"optimizer": "adamw", "weight_decay": 1e-4},
        "adamw-cosine": {"optimizer": "adamw", "weight_decay": 1e-4, "schedule": "cosine"}}
LR, BATCH, EARLY = 1e-3, 64, (5, 10)


def small_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


def train_one(task, arm: str, seed: int, epochs: int) -> dict:
    result = zoo.train(small_cnn(seed), task, lr=LR, batch_size=BATCH, epochs=epochs, seed=seed,
                       final_splits=["test"], progress=False, **ARMS[arm])
    val_acc = [h["val_accuracy"] for h in result.history]
    val_loss = [h["val_loss"] for h in result.history]
    return {"val_accuracy": val_acc, "val_loss": val_loss, "lr": [h["lr"] for h in result.history],
            "final_val": val_acc[-1], "test": result.final["test_accuracy"],
            "roughness": float(np.mean(np.abs(np.diff(val_loss)))) if len(val_loss) > 1 else 0.0}


def checks_of(results: dict, seeds, early) -> list[Check]:
    def at(arm, epoch):
        return [results[arm][s]["val_accuracy"][epoch - 1] for s in seeds]

    checks = [Check(f"val accuracy at epoch {e}: Ranger21 > AdamW", ours=at("ranger21", e), versus=at("adamw", e))
              for e in early]
    checks.append(Check("final val accuracy: Ranger21 > AdamW", ours=[results["ranger21"][s]["final_val"] for s in seeds],
                        versus=[results["adamw"][s]["final_val"] for s in seeds]))
    checks.append(Check("mean |epoch-to-epoch change of val loss|: Ranger21 < AdamW",
                        ours=[results["ranger21"][s]["roughness"] for s in seeds],
                        versus=[results["adamw"][s]["roughness"] for s in seeds], better="lower"))
    return checks


def figure(run: Run, results: dict, seeds) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "ranger21_curves.png"
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for arm, color in zip(ARMS, ("tab:blue", "tab:orange", "tab:gray")):
        for key, ax in (("val_accuracy", axes[0]), ("val_loss", axes[1])):
            curves = np.array([results[arm][s][key] for s in seeds])
            scale = 100 if key == "val_accuracy" else 1
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, scale * curves.mean(0), color=color, label=arm)
            ax.fill_between(epochs, scale * curves.min(0), scale * curves.max(0), color=color, alpha=0.2)
    axes[0].set_ylabel("val accuracy (%)")
    axes[1].set_ylabel("val loss")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"small CNN on digits, lr {LR}: mean and min/max of {len(seeds)} seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(30, 3)
    early = run.pick(EARLY, (1, 2))
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("digits")
    results = {arm: {s: train_one(task, arm, s, epochs) for s in seeds} for arm in ARMS}
    for arm in ARMS:
        print(arm, [(round(r["final_val"], 3), round(r["roughness"], 4)) for r in results[arm].values()], flush=True)
    checks = checks_of(results, seeds, early)

    control = None
    if any(judge_check(c)["outcome"] != "reproduced" for c in checks) and not run.quick:
        longer = 3 * epochs
        longer_results = {arm: {seeds[0]: train_one(task, arm, seeds[0], longer)} for arm in ("ranger21", "adamw")}
        judged = [judge_check(c) for c in checks_of(longer_results, [seeds[0]], early)]
        control = {"epochs": longer, "seed": seeds[0], "results": {a: r[seeds[0]] for a, r in longer_results.items()},
                   "checks_held": {j["name"]: j["held"][0] for j in judged}}
        print("control", control["checks_held"], flush=True)

    rows = []
    for arm in ARMS:
        for label, value in ([(f"val acc epoch {e} %", lambda r, e=e: 100 * r["val_accuracy"][e - 1]) for e in early]
                             + [("final val acc %", lambda r: 100 * r["final_val"]),
                                ("final test acc %", lambda r: 100 * r["test"]),
                                ("mean |d val loss|", lambda r: r["roughness"])]):
            values = [value(results[arm][s]) for s in seeds]
            fmt = "{:.4f}" if "loss" in label else "{:.1f}"
            rows.append([arm, label] + [fmt.format(v) for v in values]
                        + [f"{fmt.format(np.mean(values))} +- {fmt.format(np.std(values))}"])
    figure_name = figure(run, results, seeds)

    def mean(arm, fn):
        return np.mean([fn(results[arm][s]) for s in seeds])

    summary = (f"Small CNN on digits, {epochs} epochs at lr {LR}, mean of {len(seeds)} seeds, Ranger21 vs AdamW "
               f"(vs AdamW with cosine decay): val accuracy at epoch {early[0]} "
               + " / ".join(f"{100 * mean(a, lambda r: r['val_accuracy'][early[0] - 1]):.1f}%" for a in ARMS)
               + f", at epoch {early[1]} "
               + " / ".join(f"{100 * mean(a, lambda r: r['val_accuracy'][early[1] - 1]):.1f}%" for a in ARMS)
               + ", final " + " / ".join(f"{100 * mean(a, lambda r: r['final_val']):.1f}%" for a in ARMS)
               + "; mean |epoch-to-epoch change of val loss| "
               + " / ".join(f"{mean(a, lambda r: r['roughness']):.4f}" for a in ARMS) + ".")
    if control is not None:
        summary += (f" Control (seed {control['seed']}, {control['epochs']} epochs): checks held "
                    f"{sum(control['checks_held'].values())} of {len(control['checks_held'])}.")
    print(summary)
    run.record(
        "ranger21",
        claim="Ranger21 reaches higher validation accuracy than AdamW, faster, and with smoother training curves "
              "(abstract; Sec. 4).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Task digits. Small CNN (conv16-conv32/2-linear). zoo.train, batch {BATCH}, {epochs} epochs, lr {LR}, "
              f"weight decay 1e-4; Ranger21 with every default (own warm-up / warm-down); AdamW constant lr (judged) "
              f"and AdamW with cosine decay (reported). Checks fixed before running: val accuracy at epochs {list(early)} "
              f"and final higher; mean |epoch-to-epoch change of val loss| lower. Departures: digits / small CNN "
              f"instead of ImageNet and CIFAR ResNets; one shared lr; pytorch_optimizer's Ranger21.",
        table={"columns": ["optimizer", "number"] + [f"seed {s}" for s in seeds] + ["mean +- std"], "rows": rows},
        paper={"note": "The paper shows validation accuracy curves (ImageNet ResNet50 and others) where Ranger21 is "
                       "above AdamW through training and ends higher, and trains a ResNet50 without batch norm where "
                       "AdamW stays stuck."},
        figures=[figure_name],
        data={"results": {a: {str(s): r for s, r in per.items()} for a, per in results.items()},
              "control": control, "epochs": epochs, "seconds": time.time() - start},
    )
