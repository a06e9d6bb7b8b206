"""Reproduction of AdaRound's claim: learned rounding beats rounding to nearest at 4-bit weights,
post-training, from unlabelled calibration data.

    zoo reproduce adaround [--quick] [--out DIR]

Protocol. Per seed (0, 1, 2): a digits MLP 64-256-256-10 (ReLU) trained with zoo.train (Adam 1e-3,
batch 64, 30 epochs); 1024 unlabelled train inputs drawn with the seed; every Linear layer quantized
on one grid per output channel (asymmetric, range fitted by least squared rounding error), once by
rounding to nearest and once by AdaRound (the paper's lambda 0.01, beta 20 -> 2 after a 20% warm-up,
Adam 1e-3, batch 32, asymmetric inputs), at 4, 3 and 2 bits. Test accuracy and loss on the 360 test
images.

Rule, written before running (computed by zoo.verdicts from the per-seed numbers):
  1. 4-bit: AdaRound's test accuracy > round-to-nearest's (the claim);
  2. 3-bit: the same;
  3. 4-bit: AdaRound's layer reconstruction error (mean over layers) < round-to-nearest's (the
     objective AdaRound optimizes; a check of the mechanism).
Reproduced when all hold on every seed; partially when some hold on some seeds or on the mean; not
when none does. Whatever the verdict, a control tells "the claim fails at this scale" from "our
protocol fails": the paper's full 10k iterations per layer at 4 bits on seed 0 (the protocol cuts
them to 2000 for the budget), and the float model's accuracy (how much 4-bit rounding to nearest
leaves to win back at all).
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.training.calibration import calibration_inputs, round_to_nearest
from zoo.verdicts import Check

BITS = (4, 3, 2)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def trained_mlp(seed: int, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    net = mlp()
    zoo.train(net, "digits", epochs=epochs, batch_size=64, lr=1e-3, optimizer="adam", seed=seed, progress=False,
              device="cpu", eval_splits=[], final_splits=[])
    return net


def test_scores(net) -> tuple[float, float]:
    scores = zoo.evaluate(net, "digits", split="test", device="cpu")
    return float(scores["accuracy"]), float(scores["loss"])


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    started, cpu_started = time.time(), time.process_time()
    seeds = run.pick([0, 1, 2], [0])
    epochs = run.pick(30, 2)
    iterations = run.pick(2000, 20)
    control_iterations = run.pick(10_000, 40)
    samples = run.pick(1024, 128)
    per_seed = {}
    for seed in seeds:
        net = trained_mlp(seed, epochs)
        x = calibration_inputs("digits", samples, seed=seed)
        row = {"float": test_scores(net)}
        for bits in BITS:
            row[f"rtn{bits}"] = test_scores(round_to_nearest(copy.deepcopy(net), bits))
            quantized = copy.deepcopy(net)
            result = zoo.method("adaround", bits=bits, iterations=iterations, seed=seed).run(quantized, "digits",
                                                                                            calibration=x)
            row[f"ada{bits}"] = test_scores(quantized)
            row[f"layers{bits}"] = {name: [r.nearest_error, r.adaround_error, r.flipped]
                                    for name, r in result.layers.items()}
        if seed == seeds[0]:
            quantized = copy.deepcopy(net)
            zoo.method("adaround", bits=4, iterations=control_iterations, seed=seed).run(quantized, "digits",
                                                                                        calibration=x)
            row["ada4_full"] = test_scores(quantized)
        per_seed[seed] = row
        print("seed", seed, {k: v for k, v in row.items() if not k.startswith("layers")}, flush=True)

    def acc(key):
        return [per_seed[s][key][0] for s in seeds]

    def mean_error(bits, which):
        return [float(np.mean([v[which] for v in per_seed[s][f"layers{bits}"].values()])) for s in seeds]

    checks = [
        Check("4-bit test accuracy: AdaRound > round-to-nearest", ours=acc("ada4"), versus=acc("rtn4")),
        Check("3-bit test accuracy: AdaRound > round-to-nearest", ours=acc("ada3"), versus=acc("rtn3")),
        Check("4-bit mean layer reconstruction error: AdaRound < round-to-nearest", ours=mean_error(4, 1),
              versus=mean_error(4, 0), better="lower"),
    ]
    rows = []
    for key, label in [("float", "float 32-bit")] + [(f"{m}{b}", f"{b}-bit {name}") for b in BITS
                                                      for m, name in (("rtn", "round-to-nearest"),
                                                                      ("ada", "AdaRound"))]:
        values = acc(key)
        losses = [per_seed[s][key][1] for s in seeds]
        rows.append([label, " / ".join(f"{100 * v:.1f}" for v in values), f"{100 * np.mean(values):.2f}",
                     f"{100 * np.std(values):.2f}", f"{np.mean(losses):.4f}"])
    s0 = seeds[0]
    control = per_seed[s0]["ada4_full"]
    layer_rows = {b: {name: [float(np.mean([per_seed[s][f"layers{b}"][name][i] for s in seeds])) for i in range(3)]
                      for name in per_seed[s0][f"layers{b}"]} for b in BITS}
    figure = "adaround.png"
    _plot(run.figure(figure), per_seed, seeds)
    seconds, cpu = time.time() - started, time.process_time() - cpu_started
    mean = {key: 100 * np.mean(acc(key)) for key in ["float"] + [f"{m}{b}" for b in BITS for m in ("rtn", "ada")]}
    summary = (f"Test accuracy, mean of seeds {seeds}: float {mean['float']:.2f}%; "
               + "; ".join(f"{b}-bit nearest {mean[f'rtn{b}']:.2f}% vs AdaRound {mean[f'ada{b}']:.2f}%" for b in BITS)
               + ". Layer reconstruction error (mean over layers and seeds), nearest -> AdaRound: "
               + "; ".join(f"{b}-bit {np.mean(mean_error(b, 0)):.3f} -> {np.mean(mean_error(b, 1)):.3f}" for b in BITS)
               + f". Control, seed {s0}, 4 bits, the paper's {control_iterations} iterations per layer: "
                 f"{100 * control[0]:.2f}% (loss {control[1]:.4f}) against {100 * per_seed[s0]['ada4'][0]:.2f}% with "
                 f"{iterations}, nearest {100 * per_seed[s0]['rtn4'][0]:.2f}%, float {100 * per_seed[s0]['float'][0]:.2f}%. "
                 f"{seconds:.0f} s wall, {cpu:.0f} s CPU on one thread.")
    run.record(
        "adaround",
        claim="AdaRound's learned rounding gives a more accurate post-training quantized network than rounding to "
              "nearest at 4-bit weights (no retraining, a small unlabelled calibration set).",
        seeds=list(seeds), checks=checks, summary=summary,
        setup=(f"Task digits (1150 train / 288 val / 360 test). MLP 64-256-256-10 (ReLU) trained with zoo.train, "
               f"Adam 1e-3, batch 64, {epochs} epochs, per seed. {samples} unlabelled calibration inputs from the train "
               f"split, drawn with the seed. All three Linear layers quantized, biases in float; one asymmetric grid per "
               f"output channel, range fitted by least squared rounding error, the same grid for both roundings. "
               f"AdaRound: lambda 0.01, beta 20 -> 2 after a 20% warm-up, zeta 1.1, gamma -0.1, Adam 1e-3, batch 32, "
               f"{iterations} iterations per layer (the paper: 10k; cut for the budget, see the control), inputs from "
               f"the already-quantized layers (asymmetric, Eq. 25), target the float pre-activation. Rule (fixed before "
               f"running): checks 1-3 as listed; verdict by zoo.verdicts (all on every seed: reproduced; some on some "
               f"seeds or on the mean: partially; none: not). Control: seed {s0}, 4 bits, {control_iterations} "
               f"iterations per layer."),
        table={"columns": ["weights", "test accuracy % per seed", "mean %", "std", "test loss (mean)"], "rows": rows},
        paper={"note": "Paper Table 6/7 (ImageNet, 4-bit weights, float activations): ResNet18 69.68% float, nearest "
                       "23.99% vs AdaRound 68.71%; ResNet50 76.07% float, nearest 35.60% vs AdaRound 75.23%. Table 1: "
                       "on ResNet18's first layer alone, nearest 52.29% vs AdaRound 68.62%. Sec. 5: 1024 unlabelled "
                       "images, 10k iterations of Adam per layer, batch 32."},
        figures=[figure],
        data={"seeds": list(seeds), "per_seed": {str(s): per_seed[s] for s in seeds},
              "layers_mean": {str(b): layer_rows[b] for b in BITS},
              "layer_columns": ["nearest reconstruction error", "adaround reconstruction error",
                                "share rounded otherwise than nearest"],
              "iterations": iterations, "control_iterations": control_iterations, "seconds": seconds,
              "cpu_seconds": cpu})
    print(summary)


def _plot(path, per_seed, seeds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label, color in (("rtn", "round-to-nearest", "tab:orange"), ("ada", "AdaRound", "tab:blue")):
        accs = np.array([[100 * per_seed[s][f"{key}{b}"][0] for s in seeds] for b in BITS])
        ax.errorbar(BITS, accs.mean(1), yerr=[accs.mean(1) - accs.min(1), accs.max(1) - accs.mean(1)], fmt="o-",
                    color=color, capsize=3, label=label)
        errors = np.array([[np.mean([v[0 if key == "rtn" else 1] for v in per_seed[s][f"layers{b}"].values()])
                            for s in seeds] for b in BITS])
        bx.plot(BITS, errors.mean(1), "o-", color=color, label=label)
    ax.axhline(100 * np.mean([per_seed[s]["float"][0] for s in seeds]), color="gray", ls=":", label="float")
    ax.set_xlabel("weight bits")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(BITS)
    ax.legend(fontsize=8)
    ax.set_title(f"digits MLP, {len(seeds)} seeds (mean, min/max)", fontsize=9)
    bx.set_yscale("log")
    bx.set_xlabel("weight bits")
    bx.set_xticks(BITS)
    bx.set_ylabel("layer reconstruction error (mean over layers)")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
