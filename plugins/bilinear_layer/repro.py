"""Reproduction for `bilinear-layer` (Sharkey, 2023, arXiv:2305.03452).

Claim: bilinear MLP layers, W_out((W1 x) * (W2 x)) with no elementwise nonlinearity, perform at least
as well as standard MLP layers (ReLU / GELU) while being analysable as third-order tensors.

Protocol, fixed before running (the note has no experiments of its own: it cites Shazeer's GLU
variants, where the bilinear layer matched or beat ReLU/GELU in transformer language models; here
the same comparison runs in small MLPs):
- Tasks: `digits` (sklearn 8x8 digits, 10 classes, the built-in 64/16/20 split of seed s) and
  `toy/four-var` (generated regression, exp((sin(pi(x1^2+x2^2)) + sin(pi(x3^2+x4^2)))/2) on [-1,1]^4,
  1000 train / 1000 test points of seed s).
- Models, one hidden layer, biases everywhere: bilinear with hidden width h = 64; ReLU and GELU MLPs
  at the same width h (fewer parameters: one input matrix instead of two) and at a width chosen so
  that their parameter count matches the bilinear one's (closest integer width). On digits also a
  residual MLP (embedding 64, two residual blocks of hidden width 64, linear read-out) in all three
  activations at the same widths.
- Training, identical for every arm: zoo.train, Adam, lr 3e-3, batch 64, cosine schedule, 40
  epochs on digits and 80 on toy/four-var, seeds 0, 1, 2 (model init and, for digits, the split).
- Metric: test accuracy (digits), test RMSE (toy/four-var).
Checks per seed ("at least as well as", with a tolerance fixed before running):
  1. digits, one hidden layer: bilinear accuracy > the best of the four ReLU / GELU arms - 0.01;
  2. digits, residual MLP: bilinear accuracy > the best of ReLU / GELU - 0.01;
  3. toy/four-var: bilinear RMSE < 1.05 x the best of the four ReLU / GELU arms;
  4. the tensor view: on each trained bilinear layer (digits, one hidden layer) the output computed
     as sum_ij B_kij x_i x_j over the test inputs (x with a 1 appended for the biases) equals the
     forward pass (max abs difference below 1e-4, float64 einsum against the float32 forward).
Control, fixed before running: for a seed where check 1 or 3 fails, the bilinear model and the best
baseline are trained again 3x longer; if the bilinear model then matches, our training length is to
blame ("our protocol fails"); if not, the claim fails at this scale.

    zoo reproduce bilinear-layer --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

HIDDEN, LR, BATCH = 64, 3e-3, 64
EPOCHS = {"digits": 40, "toy/four-var": 80}
METRIC = {"digits": "test_accuracy", "toy/four-var": "test_rmse"}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_width(d_in: int, d_out: int, target: int) -> int:
    """The hidden width h of the one-hidden-layer ReLU / GELU MLP, h (d_in + 1) + (h + 1) d_out parameters,
    whose parameter count is closest to `target`."""
    return max(1, round((target - d_out) / (d_in + 1 + d_out)))


def arms(task: str, residual: bool) -> dict[str, dict]:
    """Config options of every arm: bilinear, ReLU / GELU at the same width and (one hidden layer) at
    the bilinear model's parameter count."""
    extra = {"residual_blocks": 2, "model_dim": HIDDEN} if residual else {}
    options = {"bilinear": {"activation": "bilinear", "hidden_dim": HIDDEN, **extra},
               "relu": {"activation": "relu", "hidden_dim": HIDDEN, **extra},
               "gelu": {"activation": "gelu", "hidden_dim": HIDDEN, **extra}}
    if not residual:
        model = zoo.create("bilinear-layer", task=task, **options["bilinear"])
        width = matched_width(model.config.input_dim, model.config.output_dim, n_params(model))
        for act in ("relu", "gelu"):
            options[f"{act} (matched params)"] = {"activation": act, "hidden_dim": width}
    return options


def fit(task: str, options: dict, seed: int, epochs: int):
    torch.manual_seed(seed)
    task_options = {"seed": seed}
    model = zoo.create("bilinear-layer", task=task, **options)
    start = time.perf_counter()
    result = zoo.train(model, task, task_options=task_options, optimizer="adam", lr=LR, batch_size=BATCH,
                       epochs=epochs, schedule="cosine", seed=seed, eval_splits=[], final_splits=["test"],
                       progress=False)
    return model, {"metric": float(result.final[METRIC[task]]), "params": n_params(model),
                   "seconds": time.perf_counter() - start}


@torch.no_grad()
def tensor_gap(model, task: str, seed: int) -> float:
    """max |sum_ij B_kij x_i x_j - forward(x)| over the test inputs (x with a constant 1 appended)."""
    x = zoo.get_task(task, seed=seed).splits()["test"][:][0].reshape(-1, model.config.input_dim).float()
    tensor = model.interaction_tensors()[0].double()
    xa = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    return float((torch.einsum("kij,ni,nj->nk", tensor, xa, xa) - model(x).double()).abs().max())


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    scale = run.pick(1.0, 0.05)
    start = time.time()
    settings = [("digits", False), ("digits", True), ("toy/four-var", False)]
    results, gaps = {}, []
    for task, residual in settings:
        key = f"{task}{' residual' if residual else ''}"
        epochs = max(1, int(EPOCHS[task] * scale))
        for name, options in arms(task, residual).items():
            for seed in seeds:
                model, r = fit(task, options, seed, epochs)
                results.setdefault(key, {}).setdefault(name, []).append(r)
                if task == "digits" and not residual and name == "bilinear":
                    gaps.append(tensor_gap(model, task, seed))
            print(key, name, [round(r["metric"], 4) for r in results[key][name]], results[key][name][0]["params"],
                  flush=True)

    def metric(key, name):
        return [r["metric"] for r in results[key][name]]

    def best(key, higher: bool):
        others = [metric(key, n) for n in results[key] if n != "bilinear"]
        return [(max if higher else min)(vals) for vals in zip(*others)]

    checks = [
        Check("digits, one hidden layer: bilinear accuracy at least the best ReLU/GELU arm's - 0.01",
              ours=metric("digits", "bilinear"), versus=best("digits", True), better="higher", margin=-0.01),
        Check("digits, residual MLP: bilinear accuracy at least the best ReLU/GELU arm's - 0.01",
              ours=metric("digits residual", "bilinear"), versus=best("digits residual", True), better="higher",
              margin=-0.01),
        Check("toy/four-var: bilinear test RMSE below 1.05 x the best ReLU/GELU arm's",
              ours=metric("toy/four-var", "bilinear"), versus=best("toy/four-var", False), better="lower",
              factor=1 / 1.05),
        Check("tensor view: sum_ij B_kij x_i x_j equals the forward pass (max abs diff < 1e-4)", ours=gaps,
              versus=1e-4, better="lower"),
    ]

    control = {}
    for check, key, higher in ((checks[0], "digits", True), (checks[2], "toy/four-var", False)):
        failing = failing_seeds(seeds, [check])
        if not failing or run.quick:
            continue
        seed = failing[0]
        index = seeds.index(seed)
        rival = (max if higher else min)((n for n in results[key] if n != "bilinear"),
                                         key=lambda n: results[key][n][index]["metric"])
        epochs = 3 * EPOCHS[key]
        ours = fit(key, arms(key, False)["bilinear"], seed, epochs)[1]["metric"]
        theirs = fit(key, arms(key, False)[rival], seed, epochs)[1]["metric"]
        holds = check.holds(ours, theirs)
        control[key] = {"seed": seed, "epochs": epochs, "rival": rival, "bilinear": ours, "rival_metric": theirs,
                        "holds": holds, "conclusion": "with 3x longer training the bilinear model matches: our training "
                        "length was to blame (our protocol fails)" if holds else "with 3x longer training the bilinear "
                        "model still falls short: the claim fails at this scale"}
        print("control", key, control[key], flush=True)

    rows = []
    for key, arms_results in results.items():
        for name, rs in arms_results.items():
            vals = [r["metric"] for r in rs]
            rows.append([key, name, rs[0]["params"], " ".join(f"{v:.4f}" for v in vals), f"{np.mean(vals):.4f}",
                         f"{np.mean([r['seconds'] for r in rs]):.2f}"])
    mean = lambda key, name: float(np.mean(metric(key, name)))  # noqa: E731
    summary = (f"Seeds {seeds}. digits, one hidden layer (h={HIDDEN}): test accuracy bilinear "
               f"{mean('digits', 'bilinear'):.4f} vs ReLU {mean('digits', 'relu'):.4f}, GELU {mean('digits', 'gelu'):.4f}, "
               f"ReLU at matched params {mean('digits', 'relu (matched params)'):.4f}, GELU at matched params "
               f"{mean('digits', 'gelu (matched params)'):.4f}. digits, residual MLP: bilinear "
               f"{mean('digits residual', 'bilinear'):.4f} vs ReLU {mean('digits residual', 'relu'):.4f}, GELU "
               f"{mean('digits residual', 'gelu'):.4f}. toy/four-var test RMSE: bilinear "
               f"{mean('toy/four-var', 'bilinear'):.4f} vs ReLU {mean('toy/four-var', 'relu'):.4f}, GELU "
               f"{mean('toy/four-var', 'gelu'):.4f}, matched-params ReLU {mean('toy/four-var', 'relu (matched params)'):.4f}, "
               f"GELU {mean('toy/four-var', 'gelu (matched params)'):.4f}. The interaction tensor reproduces the trained "
               f"layer's forward to {max(gaps):.1e}.")
    if control:
        summary += " Control: " + "; ".join(f"{k}, seed {c['seed']}, {c['epochs']} epochs: bilinear {c['bilinear']:.4f} "
                                            f"vs {c['rival']} {c['rival_metric']:.4f}, {c['conclusion']}"
                                            for k, c in control.items()) + "."
    print(summary)
    run.record(
        "bilinear-layer",
        claim="Bilinear MLP layers (no elementwise nonlinearity) perform at least as well as standard MLP layers "
              "(ReLU/GELU) while being analysable as third-order tensors.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"One-hidden-layer MLPs with biases, hidden width {HIDDEN}: bilinear, ReLU, GELU, and ReLU/GELU widened "
              f"to the bilinear model's parameter count; on digits also residual MLPs (embedding {HIDDEN}, 2 residual "
              f"blocks, read-out). zoo.train, Adam lr {LR}, batch {BATCH}, cosine schedule, {EPOCHS['digits']} epochs "
              f"(digits) / {EPOCHS['toy/four-var']} (toy/four-var), same for every arm. Tolerances fixed before running: "
              f"accuracy within 0.01 of the best baseline arm, RMSE within 5%. Departures: the note analyses the layer "
              f"in transformers (and cites Shazeer's language-model results for its accuracy); here small MLPs on "
              f"digits and a generated regression stand in, as the zoo's budget allows; biases are used (the note's "
              f"bias-free layer cannot output a constant; with a 1 appended to x the tensor view still holds exactly).",
        table={"columns": ["task", "arm", "params", "per seed", "mean", "train s (mean)"], "rows": rows},
        paper={"note": "The note gives no numbers of its own; Shazeer (2020, GLU variants) found the bilinear FFN "
                       "about as good as ReLU/GELU FFNs (slightly better perplexity) at matched parameters."},
        data={"results": results, "tensor_gaps": gaps, "control": control or None, "seconds": time.time() - start},
    )
