"""Reproduction for `fan` (Dong et al., 2024, arXiv:2410.02675): periodicity modelling.

Claim: FAN fits periodic functions and extrapolates beyond the training range better than an MLP of
equal size, with fewer parameters and FLOPs.

Setup: the paper's periodic functions (tasks `periodic/sin`, `periodic/mod`, `periodic/sawtooth`);
FAN (3 layers, width 256, d_p = d/4, GELU) against the MLP of the same width and depth (the same
code with p_ratio=0, as in the paper's baseline), trained identically with zoo.train (AdamW),
three seeds. In-range RMSE on held-out points of the training interval, out-of-range RMSE on the
wider test interval minus the training interval, parameters, and matmul FLOPs per sample
(torch's FlopCounterMode; cos/sin/GELU not counted). The paper uses width 2048 and 10000 epochs at
lr 1e-5; here width, steps and lr are scaled to fit a CPU budget. Checks, per seed: FAN's
out-of-range RMSE is below the MLP's on each function, and FAN has fewer parameters and FLOPs.
Principled experiment where FAN loses out of range: on that function's first such seed, both
models trained 10x as long (300 epochs); if FAN then wins, the short training was to blame.

    zoo reproduce fan --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

FUNCTIONS = ("sin", "mod", "sawtooth")
LR = 1e-3
MODELS = {"FAN": {}, "MLP": {"p_ratio": 0.0}}
LONGER = 10  # the principled experiment trains this many times as long


def flops_per_sample(model: torch.nn.Module) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 1))
    return float(counter.get_total_flops())


def train_and_score(task, overrides: dict, seed: int, width: int, epochs: int):
    """One model trained on `task`; the model and its in-range (val) and out-of-range (test) RMSE."""
    torch.manual_seed(seed)
    model = zoo.create("fan", task=task, hidden_dim=width, **overrides)
    zoo.train(model, task, epochs=epochs, batch_size=256, lr=LR, seed=seed, eval_splits=[])
    return model, {"in": zoo.evaluate(model, task, split="val")["rmse"],
                   "out": zoo.evaluate(model, task, split="test")["rmse"]}


def longer_training(failing: dict, width: int, epochs: int) -> dict:
    """The principled experiment: every (function, seed) whose out-of-range check failed, both
    models trained LONGER times as long; does FAN then extrapolate better than the MLP?"""
    out = {}
    for function, seed in failing.items():
        task = zoo.get_task(f"periodic/{function}")
        scores = {name: train_and_score(task, overrides, seed, width, LONGER * epochs)[1]
                  for name, overrides in MODELS.items()}
        out[function] = {"seed": seed, "epochs": LONGER * epochs, **scores,
                         "fan_better": scores["FAN"]["out"] < scores["MLP"]["out"]}
        print("longer", function, out[function], flush=True)
    return out


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from a record's data (per function, model and seed)."""
    results, seeds = data["results"], list(data["seeds"])

    def per_seed(function, model, key):
        return [results[f"{function}/{model}/seed{s}"][key] for s in seeds]

    return seeds, [Check(f"FAN out-of-range RMSE < the MLP's on {f}", ours=per_seed(f, "FAN", "out"),
                         versus=per_seed(f, "MLP", "out"), better="lower") for f in FUNCTIONS] + [
        Check(f"FAN has fewer {what} than the MLP", ours=per_seed(FUNCTIONS[0], "FAN", key),
              versus=per_seed(FUNCTIONS[0], "MLP", key), better="lower")
        for what, key in (("parameters", "params"), ("matmul FLOPs per sample", "flops"))]


def reproduce(run: Run) -> None:
    SEEDS = run.pick((0, 1, 2), (0,))
    WIDTH, EPOCHS = run.pick((256, 30), (16, 1))
    torch.set_num_threads(1)
    start = time.time()
    results, curves = {}, {}
    for function in FUNCTIONS:
        task = zoo.get_task(f"periodic/{function}")
        for name, overrides in MODELS.items():
            for seed in SEEDS:
                model, results[(function, name, seed)] = train_and_score(task, overrides, seed, WIDTH, EPOCHS)
                if (function, name, seed) == ("sin", "FAN", SEEDS[0]):
                    run.keep(model, "periodic-sin")
                if seed == SEEDS[0]:
                    low, high = task.info.extra["test_range"]
                    grid = torch.linspace(low, high, 2000).unsqueeze(1)
                    with torch.no_grad():
                        curves[(function, name)] = (grid.squeeze(1).numpy(), model.eval()(grid).squeeze(1).numpy())
                params = sum(p.numel() for p in model.parameters())
                flops = flops_per_sample(model)
                results[(function, name, seed)].update(params=params, flops=flops)
            print(function, name, [results[(function, name, s)] for s in SEEDS], flush=True)

    rows, wins_out, wins_in = [], 0, 0
    for function in FUNCTIONS:
        for name in MODELS:
            runs = [results[(function, name, s)] for s in SEEDS]
            rows.append([function, name, f"{runs[0]['params']:,}", f"{runs[0]['flops'] / 1e3:.0f}k",
                         f"{np.mean([r['in'] for r in runs]):.4f}", f"{np.mean([r['out'] for r in runs]):.4f}"])
        fan_out = np.mean([results[(function, "FAN", s)]["out"] for s in SEEDS])
        mlp_out = np.mean([results[(function, "MLP", s)]["out"] for s in SEEDS])
        fan_in = np.mean([results[(function, "FAN", s)]["in"] for s in SEEDS])
        mlp_in = np.mean([results[(function, "MLP", s)]["in"] for s in SEEDS])
        wins_out += fan_out < mlp_out
        wins_in += fan_in < mlp_in

    fan_params = results[(FUNCTIONS[0], "FAN", SEEDS[0])]["params"]
    mlp_params = results[(FUNCTIONS[0], "MLP", SEEDS[0])]["params"]
    fan_flops = results[(FUNCTIONS[0], "FAN", SEEDS[0])]["flops"]
    mlp_flops = results[(FUNCTIONS[0], "MLP", SEEDS[0])]["flops"]
    data = {"seeds": list(SEEDS), "results": {f"{f}/{m}/seed{s}": v for (f, m, s), v in results.items()}}
    seeds, checks = claim_checks(data)
    failing = {}  # function: its first seed where FAN does not extrapolate better
    for function in FUNCTIONS:
        for seed in SEEDS:
            if results[(function, "FAN", seed)]["out"] >= results[(function, "MLP", seed)]["out"]:
                failing.setdefault(function, seed)
    control = longer_training(failing, WIDTH, EPOCHS) if failing and not run.quick else {}
    data["longer_training"] = control
    summary = (f"FAN has {fan_params:,} parameters and {fan_flops / 1e3:.0f}k matmul FLOPs per sample against the "
               f"MLP's {mlp_params:,} and {mlp_flops / 1e3:.0f}k ({fan_params / mlp_params:.2f}x, "
               f"{fan_flops / mlp_flops:.2f}x). Out-of-range RMSE is lower for FAN on {wins_out} of "
               f"{len(FUNCTIONS)} functions and in-range RMSE on {wins_in} of {len(FUNCTIONS)} (means of "
               f"{len(SEEDS)} seeds; table). " + "; ".join(
                   f"{f}: out-of-range {np.mean([results[(f, 'FAN', s)]['out'] for s in SEEDS]):.3f} (FAN) vs "
                   f"{np.mean([results[(f, 'MLP', s)]['out'] for s in SEEDS]):.3f} (MLP)" for f in FUNCTIONS)
               + ". Out-of-range RMSE per seed (FAN / MLP): " + "; ".join(
                   f"{f} " + ", ".join(f"{results[(f, 'FAN', s)]['out']:.3f}/{results[(f, 'MLP', s)]['out']:.3f}"
                                       for s in SEEDS) for f in FUNCTIONS)
               + f". Scaled down: width {WIDTH} (paper 2048), {EPOCHS} epochs at lr {LR} (paper 10000 at 1e-5).")
    if control:
        fixed = [f for f, c in control.items() if c["fan_better"]]
        summary += (f" Principled experiment, {LONGER}x the epochs ({LONGER * EPOCHS}) for both models where FAN "
                    "lost out of range: " + "; ".join(
                        f"{f} seed {c['seed']}: FAN {c['FAN']['out']:.3f} vs MLP {c['MLP']['out']:.3f}"
                        for f, c in control.items())
                    + (": FAN now extrapolates better everywhere, so the short training was our protocol's fault."
                       if len(fixed) == len(control) else
                       ": FAN still loses on " + ", ".join(f for f in control if f not in fixed)
                       + " with longer training, so that part of the claim fails at this scale."))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo_plugins.fan.data import PERIODIC_FUNCTIONS

    fig, axes = plt.subplots(len(FUNCTIONS), 1, figsize=(10, 2.6 * len(FUNCTIONS)))
    for ax, function in zip(axes, FUNCTIONS):
        fn, half, _ = PERIODIC_FUNCTIONS[function]
        x = curves[(function, "FAN")][0]
        ax.plot(x, fn(x), color="black", lw=1, label="truth")
        for name, color in (("MLP", "tab:orange"), ("FAN", "tab:blue")):
            ax.plot(x, curves[(function, name)][1], color=color, lw=1, label=name)
        ax.axvspan(-half, half, color="green", alpha=0.08, label="training range")
        ax.set_title(f"periodic/{function}", fontsize=9)
        ax.set_ylim(np.min(fn(x)) - 1.5, np.max(fn(x)) + 1.5)
    axes[0].legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(run.figure("fan_extrapolation.png"), dpi=110)

    run.record(
        "fan",
        claim="FAN fits periodic functions and extrapolates beyond the training range better than an MLP of equal "
              "size, with fewer parameters/FLOPs.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Tasks periodic/sin, periodic/mod, periodic/sawtooth (10000 uniform training points in range; val: "
              f"in range; test: out of range up to 3x (sin) or 2x the training half-width). FAN: 3 layers, width "
              f"{WIDTH}, p_ratio 0.25, GELU, no bias in cos/sin; MLP: identical with p_ratio 0. zoo.train: AdamW "
              f"lr {LR}, batch 256, {EPOCHS} epochs, seeds {list(SEEDS)}. FLOPs: FlopCounterMode (matmuls only).",
        table={"columns": ["function", "model", "params", "FLOPs/sample", "in-range RMSE", "out-of-range RMSE"],
               "rows": rows},
        paper={"note": "Paper Fig. 3 / Sec. 4.1 (width 2048, 10000 epochs): FAN follows sin, mod and the composite "
                       "functions outside the training domain where MLP, KAN and Transformer do not."},
        figures=["fan_extrapolation.png"],
        data={**data, "seconds": time.time() - start},
    )
    print(summary)
