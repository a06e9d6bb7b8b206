"""Reproduction for `fgsm-adv-training` (Goodfellow, Shlens & Szegedy, 2015, arXiv:1412.6572).

Claim (Sec. 6): training on the adversarial objective of Eq. 6 (alpha = 0.5, eps = 0.25 on inputs in
[0, 1]) makes a maxout network much less wrong on fast-gradient-sign examples (MNIST: 89.4% -> 17.9%
error at eps = 0.25), while its clean error stays equal or gets slightly better (0.94% -> 0.84%).

Protocol, fixed before running:
- Task `digits` (scikit-learn's 8x8 digits in [0, 1]; 1150 train / 288 val / 360 test, split seed 0).
- Model: the permutation-invariant MNIST maxout network of Goodfellow et al. (2013) that the paper
  starts from: two maxout layers of 240 units x 5 pieces and a softmax layer, dropout on the inputs
  (p = 0.2) and on both hidden layers (p = 0.5), weights uniform in [-0.005, 0.005], biases 0, each
  unit's incoming weight vector held to norm <= 1.9365 after every step (max-norm).
- Training: SGD, lr 0.1, batch 100, momentum 0.5 rising linearly towards 0.7 at epoch 250 (as the
  maxout recipe), a fixed number of epochs (EPOCHS below) for both models. "plain" trains on the task
  loss; "FGSM" adds `methods=["fgsm-adv-training"]` with the paper's eps = 0.25, alpha = 0.5, no clamp.
  Seeds 0, 1, 2 (initialisation, data order and dropout masks).
- Evaluation on the test split, dropout off: clean error, and error on FGSM examples made from each
  model's own gradient (white box, as the paper) for eps in EPS_GRID (no clamp, as the paper; also
  clamped to [0, 1] at eps 0.25), and transfer at eps 0.25 (examples of one model shown to the other).
- Cross-check: torchattacks' FGSM on the seed-0 models and the test inputs against `fgsm(...,
  input_range=(0, 1))` (torchattacks always clamps to [0, 1]); the adversarial inputs must be equal.

Checks (zoo.verdicts, written before running), per seed on the test errors:
  A (robustness, "much lower"): FGSM error at eps 0.25 of the FGSM-trained model below 0.5 x the
    plain model's;
  B (clean error, "equal or slightly better"): clean error of the FGSM-trained model at most two of
    the 360 test digits above the plain model's.
If a check fails on some seed, a control trains both models for seed 0 three times longer: if the
failing check then holds, the protocol (too short training) is to blame, else the claim fails at
this scale.

Departures (budget and data): digits instead of MNIST (1150 training images of 8x8 instead of 60000
of 28x28); 240 units per layer (the original maxout size; the paper's 17.9% comes from a 1600-unit
model, about 35x the arithmetic here); a fixed number of epochs instead of early stopping on the
(adversarial) validation error with retraining on train + val; no learning-rate decay (the maxout
recipe's 1.000004 per step is negligible over this run); torch's inverted dropout.

    zoo reproduce fgsm-adv-training
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, judge

from .method import fgsm, fgsm_error

EPS_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
PAPER_EPS = 0.25
MAX_NORM = 1.9365  # max_col_norm of the maxout MNIST recipe
LR, BATCH, MOMENTUM, FINAL_MOMENTUM, MOMENTUM_SATURATE = 0.1, 100, 0.5, 0.7, 250
ROBUST_FACTOR = 2  # "much lower": below half the plain model's error on FGSM examples (2x lower)
TEST_DIGITS = 360
# "equal or slightly better": at most 2 more wrong test digits; counts are whole digits, so the half digit
# turns the check's strict comparison into "at most 2"
CLEAN_TOLERANCE = 2.5 / TEST_DIGITS


class Maxout(nn.Module):
    """A maxout layer: `units` outputs, each the max over `pieces` affine pieces."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x):
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)


class MaxoutMLP(nn.Module):
    """The permutation-invariant maxout MLP with dropout (Goodfellow et al., 2013)."""

    def __init__(self, in_features: int = 64, classes: int = 10, units: int = 240, pieces: int = 5,
                 input_drop: float = 0.2, hidden_drop: float = 0.5, init_range: float = 0.005):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Dropout(input_drop), Maxout(in_features, units, pieces),
                                 nn.Dropout(hidden_drop), Maxout(units, units, pieces),
                                 nn.Dropout(hidden_drop), nn.Linear(units, classes))
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.uniform_(layer.weight, -init_range, init_range)
                nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.net(x)


class MaxoutRecipe:
    """zoo.train callbacks of the maxout recipe: the max-norm constraint after every step and the
    momentum ramp at the end of every epoch."""

    def zoo_train_batch_end(self, run):
        with torch.no_grad():
            for layer in run.model.modules():
                if isinstance(layer, nn.Linear):
                    layer.weight.copy_(torch.renorm(layer.weight, 2, 0, MAX_NORM))

    def zoo_train_epoch_end(self, run, metrics):
        done = min(1.0, metrics["epoch"] / MOMENTUM_SATURATE)
        for group in run.optimizers["main"].param_groups:
            group["momentum"] = MOMENTUM + (FINAL_MOMENTUM - MOMENTUM) * done


def train_pair(task, seed: int, epochs: int) -> dict[str, nn.Module]:
    """The plain and the FGSM-trained maxout network of one seed."""
    models = {}
    for name, methods in (("plain", []), ("FGSM", ["fgsm-adv-training"])):
        torch.manual_seed(seed)
        model = MaxoutMLP()
        zoo.train(model, task, methods=methods, optimizer="sgd", lr=LR, momentum=MOMENTUM, batch_size=BATCH,
                  epochs=epochs, seed=seed, eval_splits=[], final_splits=[], callbacks=[MaxoutRecipe()],
                  progress=False)
        models[name] = model.eval()
    return models


def measure(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor) -> dict:
    """Test errors of both models: clean, FGSM over the eps grid, clamped, and transferred."""
    out = {}
    for name, model in models.items():
        out[name] = {"error_vs_eps": {str(eps): fgsm_error(model, x, y, eps) for eps in EPS_GRID},
                     "fgsm_error_clamped": fgsm_error(model, x, y, PAPER_EPS, input_range=(0.0, 1.0))}
        out[name]["clean_error"] = out[name]["error_vs_eps"]["0.0"]
        out[name]["fgsm_error"] = out[name]["error_vs_eps"][str(PAPER_EPS)]
    out["plain"]["transfer_error_from_FGSM"] = fgsm_error(models["plain"], x, y, PAPER_EPS, source=models["FGSM"])
    out["FGSM"]["transfer_error_from_plain"] = fgsm_error(models["FGSM"], x, y, PAPER_EPS, source=models["plain"])
    return out


def torchattacks_agreement(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor) -> dict:
    """Our fgsm (clamped to [0, 1]) against torchattacks.FGSM on the same models and inputs."""
    try:
        import torchattacks
    except ImportError:
        return {"available": False, "note": "torchattacks is not installed; the cross-check did not run"}
    result = {"available": True, "version": torchattacks.__version__}
    for name, model in models.items():
        model.eval()
        ours = fgsm(model, F.cross_entropy, x, y, PAPER_EPS, input_range=(0.0, 1.0))
        theirs = torchattacks.FGSM(model, eps=PAPER_EPS)(x, y)
        result[name] = {"equal": bool(torch.equal(ours, theirs)),
                        "differing_values": int((ours != theirs).sum()), "values": ours.numel(),
                        "max_abs_difference": float((ours - theirs).abs().max())}
    result["all_equal"] = all(result[name]["equal"] for name in models)
    return result


def checks_of(per_seed: list[dict]) -> list[Check]:
    """Checks A and B of the module docstring on the per-seed measurements."""
    def errors(model, key):
        return [s[model][key] for s in per_seed]

    return [Check("A: FGSM error at eps 0.25 of the FGSM-trained model < 0.5 x the plain model's",
                  ours=errors("FGSM", "fgsm_error"), versus=errors("plain", "fgsm_error"), better="lower",
                  factor=ROBUST_FACTOR),
            Check("B: clean test error of the FGSM-trained model at most 2 of 360 test digits above the plain model's",
                  ours=errors("FGSM", "clean_error"), versus=errors("plain", "clean_error"), better="lower",
                  margin=-CLEAN_TOLERANCE)]


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data (its per-seed measurements)."""
    return [s["seed"] for s in data["per_seed"]], checks_of(data["per_seed"])


def verdict_of(per_seed: list[dict]) -> tuple[str, dict]:
    """The checks' verdict and, per check, whether it held on every seed, with the means the summary quotes."""
    verdict, judged = judge(checks_of(per_seed))
    mean = {f"{model}_{key}": float(np.mean([s[model][key] for s in per_seed]))
            for model in ("plain", "FGSM") for key in ("fgsm_error", "clean_error")}
    return verdict, {"A_robustness": all(judged[0]["held"]), "B_clean": all(judged[1]["held"]),
                     "held": {c["name"]: c["held"] for c in judged}, **mean}


def figure(run: Run, per_seed: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "fgsm_error_vs_eps.png"
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, color in (("plain", "tab:orange"), ("FGSM", "tab:blue")):
        errors = np.array([[s[model]["error_vs_eps"][str(eps)] for eps in EPS_GRID] for s in per_seed]) * 100
        label = "plain training" if model == "plain" else "FGSM adversarial training (eps 0.25)"
        ax.plot(EPS_GRID, errors.mean(0), "o-", color=color, label=label)
        ax.fill_between(EPS_GRID, errors.min(0), errors.max(0), color=color, alpha=0.2)
    ax.axvline(PAPER_EPS, color="gray", ls=":", lw=1)
    ax.set_xlabel("attack eps (FGSM, white box, no clamp)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"maxout MLP on digits: mean and min/max of {len(per_seed)} seeds", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def percent(value: float) -> str:
    return f"{100 * value:.1f}"


def reproduce(run: Run) -> None:
    seeds = run.pick((0, 1, 2), (0,))
    epochs = run.pick(150, 2)
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("digits")
    x, y = task.splits()["test"].tensors[:2]

    per_seed, kept = [], None
    for seed in seeds:
        models = train_pair(task, seed, epochs)
        per_seed.append({"seed": seed, **measure(models, x, y)})
        kept = kept or models
        print(f"seed {seed}: " + ", ".join(f"{m} clean {percent(per_seed[-1][m]['clean_error'])}% FGSM "
                                            f"{percent(per_seed[-1][m]['fgsm_error'])}%" for m in models), flush=True)
    agreement = torchattacks_agreement(kept, x, y)
    verdict, rule = verdict_of(per_seed)
    checks = checks_of(per_seed)

    control = None
    if verdict != "reproduced" and not run.quick:
        longer = 3 * epochs
        models = train_pair(task, seeds[0], longer)
        measured = measure(models, x, y)
        _, control_rule = verdict_of([measured])
        failing = "A_robustness" if not rule["A_robustness"] else "B_clean"
        control = {"epochs": longer, "seed": seeds[0], **measured, "rule": control_rule,
                   "conclusion": ("the failing part holds with 3x longer training: the protocol (training length) "
                                  "is to blame" if control_rule[failing] else
                                  "the failing part still fails with 3x longer training: the claim fails at this scale")}
        print("control:", control["conclusion"], flush=True)

    rows = []
    for model in ("plain", "FGSM"):
        for key, label in (("clean_error", "clean"), ("fgsm_error", "FGSM eps 0.25"),
                           ("fgsm_error_clamped", "FGSM eps 0.25, clamped to [0, 1]")):
            values = [s[model][key] for s in per_seed]
            rows.append([model, label] + [percent(v) for v in values]
                        + [f"{percent(np.mean(values))} +- {percent(np.std(values))}"])
    transfer = {m: [s[m][k] for s in per_seed] for m, k in (("plain", "transfer_error_from_FGSM"),
                                                            ("FGSM", "transfer_error_from_plain"))}
    rows.append(["plain", "FGSM eps 0.25 made on the FGSM model"] + [percent(v) for v in transfer["plain"]]
                + [f"{percent(np.mean(transfer['plain']))} +- {percent(np.std(transfer['plain']))}"])
    rows.append(["FGSM", "FGSM eps 0.25 made on the plain model"] + [percent(v) for v in transfer["FGSM"]]
                + [f"{percent(np.mean(transfer['FGSM']))} +- {percent(np.std(transfer['FGSM']))}"])
    figure_name = figure(run, per_seed)

    summary = (f"On digits, the maxout MLP trained with FGSM adversarial training errs on {percent(rule['FGSM_fgsm_error'])}% "
               f"of the fast-gradient-sign test examples at eps 0.25 against {percent(rule['plain_fgsm_error'])}% for "
               f"plain training (paper, MNIST: 17.9% vs 89.4%); clean test error {percent(rule['FGSM_clean_error'])}% vs "
               f"{percent(rule['plain_clean_error'])}% (paper: 0.84% vs 0.94%); means of {len(seeds)} seeds, per-seed "
               f"numbers in the table. Check A (robust error below half of plain's) held on "
               f"{sum(rule['held'][checks[0].name])} of {len(seeds)} seeds; check B (clean error at most 2 test digits "
               f"above plain's) on {sum(rule['held'][checks[1].name])} of {len(seeds)}.")
    if agreement.get("available"):
        summary += (" torchattacks' FGSM gives " + ("exactly the same adversarial inputs as ours" if agreement["all_equal"]
                    else "different adversarial inputs (see data)") + " on the seed-0 models.")
    if control is not None:
        summary += (f" Control (seed {control['seed']}, {control['epochs']} epochs): FGSM error "
                    f"{percent(control['FGSM']['fgsm_error'])}% vs {percent(control['plain']['fgsm_error'])}%, clean "
                    f"{percent(control['FGSM']['clean_error'])}% vs {percent(control['plain']['clean_error'])}%; "
                    f"{control['conclusion']}.")
    run.record(
        "fgsm-adv-training",
        claim="FGSM adversarial training (Eq. 6, alpha 0.5, eps 0.25 on inputs in [0, 1]) gives much lower error on "
              "fast-gradient-sign adversarial examples, with clean error equal or slightly better.",
        seeds=list(seeds), checks=checks, summary=summary,
        setup=f"Task digits (1150 train / 360 test, 8x8 in [0, 1]). Maxout MLP 64-240x5-240x5-10 with dropout 0.2 "
              f"(inputs) / 0.5 (hidden), uniform init +-0.005, max-norm {MAX_NORM}. zoo.train with SGD lr {LR}, batch "
              f"{BATCH}, momentum {MOMENTUM} ramping to {FINAL_MOMENTUM} at epoch {MOMENTUM_SATURATE}, {epochs} epochs, "
              f"seeds {list(seeds)}; FGSM: methods=['fgsm-adv-training'] (eps 0.25, alpha 0.5, no clamp). Attacks: "
              f"white-box FGSM on each model in eval mode, eps {list(EPS_GRID)}. Checks, per seed: A: FGSM error "
              f"(eps 0.25) of the FGSM model < 0.5 x plain's; B: clean error at most 2 of 360 test digits above "
              f"plain's. Departures: digits not MNIST; 240 units, the original maxout size (the paper's robust result "
              f"used 1600, about 25x the compute per epoch: 3 seeds would take about an hour of one core); fixed "
              f"epochs instead of early stopping on adversarial validation "
              f"error; no learning-rate decay; torch's inverted dropout.",
        table={"columns": ["model", "test error (%)"] + [f"seed {s}" for s in seeds] + ["mean +- std"], "rows": rows},
        paper={"note": "Sec. 4 and 6, MNIST, eps 0.25: a maxout network errs on 89.4% of FGSM examples; with "
                       "adversarial training (1600 units per layer, early stopping on adversarial validation error) "
                       "17.9%. Clean error 0.94% -> 0.84% (240-unit maxout with dropout); 1.14% -> 0.782% (1600 units). "
                       "Transfer: the adversarially trained model errs on 19.6% of the original model's examples."},
        figures=[figure_name],
        data={"per_seed": per_seed, "rule": rule, "epochs": epochs, "torchattacks": agreement, "control": control,
              "seconds": time.time() - start},
    )
    print(summary)
