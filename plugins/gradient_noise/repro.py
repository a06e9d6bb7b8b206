"""Reproduction for `gradient-noise` (Neelakantan et al., 2015, arXiv:1511.06807), Sec. 4.1.

Claim: annealed gradient noise (sigma_t^2 = eta / (1 + t)^gamma, gamma = 0.55) lets a 20-layer fully
connected ReLU network (20 hidden layers of 50 units) be trained with plain SGD even from a poor
initialisation, where it otherwise trains badly or not at all; from a good initialisation it does not
hurt (Table 1: simple init, clip 10: best test accuracy 95.7% -> 97.0%; zero init: 11.4% -> 94.5%;
good init: 97.4% vs 97.5%).

Protocol, fixed before running:
- Task `digits` (8x8 digits in [0, 1]; 1149 train / 288 val / 360 test) instead of MNIST.
- Model: 64 -> 20 x (Linear 50 + ReLU) -> Linear 10, the paper's network on 64 inputs.
- Initialisations (Sec. 4.1 as we read it): "simple", weights from a zero-mean Gaussian with std 0.1
  and zero biases (the paper's poor initialisation); "zero", every weight and bias 0 (its bad
  initialisation); "good", He et al. (2015) normal initialisation, zero biases.
- Training: zoo.train, plain SGD (no momentum), batch 128, gradient norm clipped at 10 (the paper's
  threshold for Table 1's clipped rows). Simple and good init: 150 epochs (1350 steps), lr from the
  paper's grid {0.1, 0.05, 0.01}; arms "no noise" and "noise" (methods=[gradient-noise], gamma 0.55,
  eta from the paper's MNIST grid {0.01, 1.0}); per seed (0, 1, 2: initialisation, data order,
  noise), init and arm, the run with the best validation accuracy over its grid gives the test
  accuracy. Zero init: 450 epochs (4050 steps) at lr 0.1, without noise and with eta 1.0 (the
  setting of its control below, fixed before that control ran; a grid at this length does not fit
  the budget, and without noise no lr can matter: from all-zero weights every hidden activation is
  0, so every gradient but the output bias's is exactly 0 and the network never leaves that point).

Why 150 epochs: a first run of this protocol at 50 epochs (450 steps) left every simple- and zero-init
run at chance (10%) with or without noise, and its control, seed 0 trained 3x longer (150 epochs),
took the simple init from 10.0% without noise to 50.6% with it: 450 steps were too short to test the
claim, so the length of that control is now the protocol (EARLIER_SHORT_RUN keeps its numbers; the
paper trains on MNIST for far longer still, which the budget does not allow). A second run at 150
epochs for every init (ZERO_INIT_150_EPOCHS) reproduced checks 1 and 3 on every seed but left the zero
init at chance on every seed, with hidden weights grown by the noise to std 0.16 at most, and its
control (seed 0, 450 epochs, lr 0.1, eta 1.0) reached 95.3% test accuracy with noise against 10.0%
without: 150 epochs were too short for the zero init, so it now trains 450.

Verdict rule (written before the first run, unchanged): three checks over the seeds' test accuracies,
  1. simple init: with noise higher than without;
  2. zero init: with noise higher than without by more than 20 points;
  3. good init: with noise no more than 2 points (7 of 360 test digits) below without.
Each check: reproduced on all seeds, partially on some seeds or on the mean, not on none
(zoo.verdicts).

Control, if a poor-init check is not reproduced (fixed before running): on the first seed where it
fails, train that init 3x longer (450 epochs) at lr 0.1 without noise and with noise eta 1.0 (the
grid's largest steps and noise: the settings that move the weights most); if the check then holds,
our length is to blame, else the claim fails at this scale. Every run also reports the std of its
hidden 50x50 weights: from zero, the noise must grow them to about sqrt(2 / 50) = 0.2 (He) before a
signal crosses 20 layers; below 0.1 (the simple init's std, which passes about 1e-6 of the signal)
the run is still too short for the noise to have built a trainable network.

Departures: digits instead of MNIST (64 inputs, 1149 training images), far fewer steps than the
paper (budget), one run per setting and seed and a 3-point lr grid instead of the paper's 40 random
runs; the noise arm searches 6 settings (3 lr x 2 eta) against 3 for the no-noise arm, as in the
paper; the zero init trains 3x longer than the others at one setting per arm.

    zoo reproduce gradient-noise
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

LR_GRID = (0.1, 0.05, 0.01)
ETA_GRID = (0.01, 1.0)
INITS = ("simple", "zero", "good")
BATCH, CLIP, DEPTH, WIDTH, SIMPLE_STD = 128, 10.0, 20, 50, 0.1
EPOCHS = 150
CONTROL_LR, CONTROL_ETA, CONTROL_FACTOR = 0.1, 1.0, 3
ZERO_INIT_FACTOR = 3  # the zero init trains this many times EPOCHS

# The first full run of this protocol at 50 epochs (450 steps), seeds 0, 1, 2: best-by-validation test
# accuracy per init and arm, and its 3x-longer control on seed 0; kept as the reason for EPOCHS.
EARLIER_SHORT_RUN = {
    "epochs": 50,
    "test": {"simple": {"no noise": [0.1028, 0.1000, 0.1000], "noise": [0.1000, 0.1000, 0.1000]},
             "zero": {"no noise": [0.1028, 0.1000, 0.1000], "noise": [0.1028, 0.1000, 0.1000]},
             "good": {"no noise": [0.9111, 0.8861, 0.9194], "noise": [0.9333, 0.8750, 0.9361]}},
    "verdict": "partially reproduced (check 1 and 2 held on no seed, check 3 on all)",
    "control_seed_0_150_epochs": {"simple": {"no noise": 0.1000, "noise": 0.5056, "chosen": "lr 0.1 eta 1.0"},
                                  "zero": {"no noise": 0.1000, "noise": 0.1028, "chosen": "lr 0.1 eta 0.01"}},
    "conclusion": "450 steps left the poor inits at chance in both arms; 3x longer, noise trained the simple "
                  "init to 51% and plain SGD stayed at chance, so the short protocol, not the claim, failed",
}

# The second full run, every init at 150 epochs (verdict partially reproduced: checks 1 and 3 held on every
# seed, check 2 on none): the zero init's numbers and its control, kept as the reason for ZERO_INIT_FACTOR.
ZERO_INIT_150_EPOCHS = {
    "epochs": 150,
    "test": {"no noise": [0.1000, 0.1028, 0.1028], "noise": [0.1028, 0.1028, 0.1000]},
    "chosen": {"no noise": "lr 0.1 on every seed", "noise": "lr 0.1 eta 0.01 on every seed (all runs at chance)"},
    "largest_hidden_weight_std_with_noise": 0.160,
    "control_seed_0_450_epochs_lr_0.1": {"no noise": 0.1000, "noise eta 1.0": 0.9528,
                                         "noise hidden weight std": 0.274},
    "other_inits_same_run": {"simple": {"no noise": [0.1000, 0.1028, 0.1028], "noise": [0.5056, 0.4861, 0.3028]},
                             "good": {"no noise": [0.9389, 0.9500, 0.9472], "noise": [0.9361, 0.9444, 0.9472]}},
    "conclusion": "150 epochs left the zero init at chance on every seed; 450 epochs with noise reached 95% on "
                  "seed 0 while plain SGD stayed at 10%: the length, not the claim, failed",
}


def deep_net(init: str, seed: int) -> nn.Module:
    """The paper's 20-layer ReLU network (64 inputs here), initialised as `init`."""
    torch.manual_seed(seed)
    layers, width = [nn.Flatten()], 64
    for _ in range(DEPTH):
        layers += [nn.Linear(width, WIDTH), nn.ReLU()]
        width = WIDTH
    model = nn.Sequential(*layers, nn.Linear(WIDTH, 10))
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            if init == "simple":
                nn.init.normal_(layer.weight, 0.0, SIMPLE_STD)
            elif init == "zero":
                nn.init.zeros_(layer.weight)
            else:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model


def hidden_weight_std(model: nn.Module) -> float:
    """Mean over the 50x50 hidden layers of their weights' standard deviation (He init: 0.2)."""
    stds = [m.weight.std().item() for m in model.modules() if isinstance(m, nn.Linear) and m.weight.shape == (WIDTH, WIDTH)]
    return float(np.mean(stds))


def train_one(task, init: str, seed: int, lr: float, eta: float | None, epochs: int) -> dict:
    methods = [] if eta is None else [zoo.method("gradient-noise", eta=eta)]
    model = deep_net(init, seed)
    result = zoo.train(model, task, methods=methods, optimizer="sgd", momentum=0.0, lr=lr,
                       batch_size=BATCH, epochs=epochs, clip_grad_norm=CLIP, seed=seed, eval_every=epochs,
                       final_splits=["train", "val", "test"], progress=False)
    out = {"lr": lr, "eta": eta, "val": result.final["val_accuracy"], "test": result.final["test_accuracy"],
           "train_loss": result.final["train_loss"], "hidden_weight_std": hidden_weight_std(model)}
    print(f"  {init} seed {seed} lr {lr} eta {eta}: val {out['val']:.3f} test {out['test']:.3f} "
          f"weight std {out['hidden_weight_std']:.3f}", flush=True)
    return out


def arm(task, init: str, seed: int, noise: bool, epochs: int, lrs=LR_GRID, etas=ETA_GRID) -> dict:
    """Every run of one arm's grid, and the one with the best validation accuracy."""
    runs = [train_one(task, init, seed, lr, eta, epochs) for lr in lrs for eta in (etas if noise else (None,))]
    best = max(runs, key=lambda r: r["val"])
    return {"runs": runs, "best": best}


def figure(run: Run, results: dict, seeds) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "gradient_noise_deep_net.png"
    fig, ax = plt.subplots(figsize=(6.6, 3.6))
    xs = np.arange(len(INITS))
    for offset, (label, noise, color) in enumerate((("no noise", False, "tab:orange"),
                                                    ("gradient noise", True, "tab:blue"))):
        values = np.array([[results[i][s][noise]["best"]["test"] for s in seeds] for i in INITS]) * 100
        ax.bar(xs + (offset - 0.5) * 0.38, values.mean(1), 0.38, color=color, label=label,
               yerr=[values.mean(1) - values.min(1), values.max(1) - values.mean(1)], capsize=3)
    ax.set_xticks(xs, ["simple N(0, 0.1^2)", f"zero ({ZERO_INIT_FACTOR}x longer)", "good (He)"])
    ax.set_ylabel("test accuracy (%)")
    ax.axhline(10, color="gray", ls=":", lw=1)
    ax.set_title(f"20-layer ReLU MLP on digits, SGD, {EPOCHS} epochs (zero init {ZERO_INIT_FACTOR * EPOCHS}): "
                 f"mean, min-max of {len(seeds)} seeds",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def chosen_text(best: dict) -> str:
    return f"lr {best['lr']}" + (f" eta {best['eta']}" if best["eta"] is not None else "")


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 2)
    lrs, etas = run.pick((LR_GRID, ETA_GRID), ((0.05,), (0.01,)))
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("digits")
    zero_epochs = ZERO_INIT_FACTOR * epochs
    zero_grid = run.pick(((CONTROL_LR,), (CONTROL_ETA,)), (lrs, etas))
    length = {"simple": epochs, "zero": zero_epochs, "good": epochs}
    grid = {"simple": (lrs, etas), "zero": zero_grid, "good": (lrs, etas)}
    results = {init: {s: {noise: arm(task, init, s, noise, length[init], *grid[init]) for noise in (False, True)}
                      for s in seeds} for init in INITS}

    def tests(init, noise):
        return [results[init][s][noise]["best"]["test"] for s in seeds]

    checks = [
        Check("simple init: test accuracy with noise > without", ours=tests("simple", True),
              versus=tests("simple", False), better="higher"),
        Check("zero init: test accuracy with noise > without + 20 points", ours=tests("zero", True),
              versus=tests("zero", False), better="higher", margin=0.20),
        Check("good init: test accuracy with noise >= without - 2 points", ours=tests("good", True),
              versus=tests("good", False), better="higher", margin=-0.02),
    ]
    control = {}
    for init, check in (("simple", checks[0]), ("zero", checks[1])):
        failed = failing_seeds(seeds, [check])
        if not failed:
            continue
        seed, longer = failed[0], CONTROL_FACTOR * length[init]
        plain = train_one(task, init, seed, CONTROL_LR, None, longer)
        noisy = train_one(task, init, seed, CONTROL_LR, CONTROL_ETA, longer)
        holds = check.holds(noisy["test"], plain["test"])
        control[init] = {"seed": seed, "epochs": longer, "no noise": plain, "noise": noisy, "check_holds": holds,
                         "conclusion": f"holds with {CONTROL_FACTOR}x longer training: our length is to blame"
                         if holds else f"still fails with {CONTROL_FACTOR}x longer training (hidden weight std "
                                       f"{noisy['hidden_weight_std']:.2f} with noise)"}
        print("control", init, control[init]["conclusion"], flush=True)

    rows = []
    for init in INITS:
        for noise in (False, True):
            values = tests(init, noise)
            chosen = [results[init][s][noise]["best"] for s in seeds]
            grid_mean = np.mean([[r["test"] for r in results[init][s][noise]["runs"]] for s in seeds])
            weight_std = np.mean([b["hidden_weight_std"] for b in chosen])
            rows.append([init, "noise" if noise else "no noise"] + [f"{100 * v:.1f}" for v in values]
                        + [f"{100 * np.mean(values):.1f} +- {100 * np.std(values):.1f}", f"{100 * grid_mean:.1f}",
                           f"{weight_std:.3f}", ", ".join(chosen_text(c) for c in chosen)])
    figure_name = figure(run, results, seeds)
    mean = {(i, n): 100 * np.mean(tests(i, n)) for i in INITS for n in (False, True)}
    summary = (f"Test accuracy of the 20-layer ReLU MLP on digits after {epochs} epochs ({epochs * 9} steps; zero init "
               f"{zero_epochs} epochs at lr {zero_grid[0][0]}, eta {zero_grid[1][0]}) of SGD (best of the lr grid by validation, mean of "
               f"{len(seeds)} seeds), without -> with gradient noise: "
               f"simple init {mean[('simple', False)]:.1f}% -> {mean[('simple', True)]:.1f}%, zero init "
               f"{mean[('zero', False)]:.1f}% -> {mean[('zero', True)]:.1f}%, good init {mean[('good', False)]:.1f}% "
               f"-> {mean[('good', True)]:.1f}% (paper, MNIST, best of 40 runs: 95.7 -> 97.0, 11.4 -> 94.5, "
               f"97.4 -> 97.5).")
    if control:
        summary += " Control (lr 0.1, eta 1.0, 3x longer): " + "; ".join(
            f"{init} init seed {c['seed']} {100 * c['no noise']['test']:.1f}% -> {100 * c['noise']['test']:.1f}%, "
            f"{c['conclusion']}" for init, c in control.items()) + "."
    summary += (" Why this length: the first run at 50 epochs (450 steps) left every simple- and zero-init run at "
                "chance with or without noise (good init 90.6% -> 91.5%; verdict then partially reproduced), and "
                "its control, seed 0 at 150 epochs, took the simple init from 10.0% to 50.6% with noise only: that "
                "protocol was too short to test the claim; a second run at 150 epochs for every init left the zero "
                "init at chance on every seed (10.2% -> 10.2%) while its control, seed 0 at 450 epochs, reached "
                "95.3% with noise only: 150 epochs were too short for the zero init.")
    print(summary)
    run.record(
        "gradient-noise",
        claim="Annealed Gaussian gradient noise (gamma 0.55) lets a 20-layer, 50-unit fully connected ReLU network "
              "train with plain SGD from a poor (simple Gaussian or zero) initialisation, where it otherwise trains "
              "badly or not at all, and does not hurt from a good initialisation (Sec. 4.1, Table 1).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Task digits (1149 train / 288 val / 360 test). 64-20x50 ReLU-10 MLP; inits: simple N(0, "
              f"{SIMPLE_STD}^2) weights, zero, He normal; zero biases. zoo.train SGD without momentum, batch {BATCH}, "
              f"clip_grad_norm {CLIP}. Simple and good init: {epochs} epochs ({epochs * 9} steps), lr grid {list(lrs)}; "
              f"noise arm: gradient-noise gamma 0.55, eta grid {list(etas)}; per seed, init and arm the run with the "
              f"best val accuracy gives the test accuracy. Zero init: {zero_epochs} epochs, lr {zero_grid[0]}, noise eta "
              f"{zero_grid[1]} (its earlier control's setting; without noise the zero init cannot move: every "
              f"gradient but the output bias's is exactly 0). Rule (fixed before the first run, unchanged): simple init noise > "
              f"no noise; zero init noise > no noise + 20 points; good init noise >= no noise - 2 points (7 test "
              f"digits). Control for a failing poor-init check: its first failing seed, {CONTROL_FACTOR}x longer, lr "
              f"{CONTROL_LR}, without noise and with eta {CONTROL_ETA}. Length: {epochs} epochs, the control length "
              f"of the first run, whose 50 epochs proved too short (data.earlier_short_run); zero init 3x that, "
              f"since 150 epochs proved too short for it (data.zero_init_150_epochs). Departures: digits not MNIST; "
              f"far fewer steps than the paper; a 3-point lr grid per seed instead of 40 random runs; zero init at "
              f"one setting per arm; noise added before clipping.",
        table={"columns": ["init", "arm"] + [f"seed {s} test %" for s in seeds]
               + ["mean +- std", "grid mean %", "hidden weight std", "chosen"], "rows": rows},
        paper={"note": "Table 1 (MNIST, 40 runs each, best / average test accuracy): simple init, clip 10: 95.7 / 51.6 "
                       "without noise, 97.0 / 53.6 with; good init (He), clip 10: 97.4 / 91.7 without, 97.2 / 91.7 "
                       "with; zero init, clip 10: 11.4 / 10.1 without, 94.5 / 49.7 with."},
        figures=[figure_name],
        data={"results": {i: {str(s): {("noise" if n else "no noise"): v for n, v in d.items()}
                              for s, d in r.items()} for i, r in results.items()},
              "control": control or None, "earlier_short_run": EARLIER_SHORT_RUN,
              "zero_init_150_epochs": ZERO_INIT_150_EPOCHS, "zero_init_epochs": zero_epochs,
              "epochs": epochs, "seconds": time.time() - start},
    )
