"""Reproduction for `quadratic-net` (Fan, Li, Wang, Lai & Wang, 2021).

Claim: a network of quadratic neurons trained with ReLinear trains stably and is more accurate than
a conventional network of similar size; without ReLinear the same quadratic network trains worse.

Protocol, fixed before running:
- Tasks: `toy/four-var` (generated regression on [-1,1]^4, 1000 train / 1000 test points of seed s)
  and `digits` (sklearn 8x8 digits, the built-in split of seed s).
- Arms, one hidden layer, ReLU: (a) quadratic network, width 32, ReLinear (W_g = 0, b_g = 1,
  W_b = 0, c = 0; quadratic terms at 0.01 x the linear part's learning rate); (b) the same quadratic
  network without ReLinear (every term initialised like a linear layer, one learning rate: the
  control for the trainability part); (c) a conventional network (W x + b) of the quadratic
  network's parameter count (width chosen to match; a quadratic neuron has three times the weights);
  (d) the conventional network of the same width 32, for reference.
- Training, identical for every arm: zoo.train with the model's configure_optimizers (Adam; the
  ReLinear groups for (a)), lr 3e-3, batch 64, cosine schedule, 80 epochs on toy/four-var and 40 on
  digits; seeds 0, 1, 2. Stability: the number of epochs whose training loss exceeds twice the best
  training loss so far (spikes), and whether any loss became non-finite.
- Metric: test RMSE (toy/four-var), test accuracy (digits).
Checks per seed:
  1. toy/four-var: ReLinear RMSE below the matched conventional network's;
  2. digits: ReLinear accuracy above the matched conventional network's;
  3. toy/four-var: ReLinear RMSE below the quadratic network's without ReLinear;
  4. digits: ReLinear accuracy above the quadratic network's without ReLinear;
  5. stability: ReLinear's training has no loss spike and no non-finite loss (spikes counted over both
     tasks, must be 0).
Control, fixed before running: for the first seed where check 1 or 2 fails, the ReLinear network and
the matched conventional network are trained again 3x longer; if ReLinear then wins, our training
length is to blame ("our protocol fails"); otherwise the claim fails at this scale.

    zoo reproduce quadratic-net --part repro
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.training.loop import NonFiniteLossError
from zoo.verdicts import Check, failing_seeds

WIDTH, LR, BATCH = 32, 3e-3, 64
EPOCHS = {"toy/four-var": 80, "digits": 40}
METRIC = {"toy/four-var": "test_rmse", "digits": "test_accuracy"}
WORST = {"toy/four-var": math.inf, "digits": 0.0}  # what a run that diverged scores


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_width(d_in: int, d_out: int, target: int) -> int:
    """Width h of the conventional one-hidden-layer network (h (d_in + 1) + d_out (h + 1) parameters)
    closest to `target` parameters."""
    return max(1, round((target - d_out) / (d_in + 1 + d_out)))


def arms(task: str) -> dict[str, dict]:
    quadratic = zoo.create("quadratic-net", task=task, hidden_dims=[WIDTH])
    width = matched_width(quadratic.config.input_dim, quadratic.config.output_dim, n_params(quadratic))
    return {"quadratic, ReLinear": {"hidden_dims": [WIDTH]},
            "quadratic, no ReLinear": {"hidden_dims": [WIDTH], "init": "random", "quadratic_lr_scale": 1.0},
            "conventional, matched params": {"hidden_dims": [width], "neuron": "conventional"},
            "conventional, same width": {"hidden_dims": [WIDTH], "neuron": "conventional"}}


def spikes(history: list[dict]) -> int:
    """Epochs whose training loss exceeds twice the best training loss of the epochs before."""
    losses = [h["train_loss"] for h in history if "train_loss" in h]
    return sum(loss > 2 * min(losses[:i]) for i, loss in enumerate(losses) if i > 0)


def fit(task: str, options: dict, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    model = zoo.create("quadratic-net", task=task, **options)
    start = time.perf_counter()
    try:
        result = zoo.train(model, task, task_options={"seed": seed}, lr=LR, batch_size=BATCH, epochs=epochs,
                           schedule="cosine", seed=seed, eval_splits=[], final_splits=["test"], progress=False)
    except NonFiniteLossError:
        return {"metric": WORST[task], "params": n_params(model), "spikes": None, "finite": False,
                "seconds": time.perf_counter() - start}
    return {"metric": float(result.final[METRIC[task]]), "params": n_params(model), "spikes": spikes(result.history),
            "finite": True, "seconds": time.perf_counter() - start}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    scale = run.pick(1.0, 0.05)
    start = time.time()
    results = {}
    for task in EPOCHS:
        for name, options in arms(task).items():
            for seed in seeds:
                results.setdefault(task, {}).setdefault(name, []).append(
                    fit(task, options, seed, max(1, int(EPOCHS[task] * scale))))
            print(task, name, [round(r["metric"], 4) for r in results[task][name]], results[task][name][0]["params"],
                  flush=True)

    def metric(task, name):
        return [r["metric"] for r in results[task][name]]

    relinear_spikes = [sum((results[t]["quadratic, ReLinear"][i]["spikes"] or 0) +
                           (0 if results[t]["quadratic, ReLinear"][i]["finite"] else 1000) for t in EPOCHS)
                       for i in range(len(seeds))]
    checks = [
        Check("toy/four-var: ReLinear test RMSE below the conventional network of matched parameters",
              ours=metric("toy/four-var", "quadratic, ReLinear"),
              versus=metric("toy/four-var", "conventional, matched params"), better="lower"),
        Check("digits: ReLinear test accuracy above the conventional network of matched parameters",
              ours=metric("digits", "quadratic, ReLinear"), versus=metric("digits", "conventional, matched params"),
              better="higher"),
        Check("toy/four-var: ReLinear test RMSE below the same quadratic network without ReLinear",
              ours=metric("toy/four-var", "quadratic, ReLinear"), versus=metric("toy/four-var", "quadratic, no ReLinear"),
              better="lower"),
        Check("digits: ReLinear test accuracy above the same quadratic network without ReLinear",
              ours=metric("digits", "quadratic, ReLinear"), versus=metric("digits", "quadratic, no ReLinear"),
              better="higher"),
        Check("stability: ReLinear training has no loss spike (> 2x the best so far) and no non-finite loss",
              ours=relinear_spikes, versus=0.5, better="lower"),
    ]

    control = None
    for check, task in ((checks[0], "toy/four-var"), (checks[1], "digits")):
        failing = failing_seeds(seeds, [check])
        if failing and not run.quick and control is None:
            seed, epochs = failing[0], 3 * EPOCHS[task]
            options = arms(task)
            ours = fit(task, options["quadratic, ReLinear"], seed, epochs)["metric"]
            theirs = fit(task, options["conventional, matched params"], seed, epochs)["metric"]
            holds = check.holds(ours, theirs)
            control = {"task": task, "seed": seed, "epochs": epochs, "relinear": ours, "conventional": theirs,
                       "holds": holds,
                       "conclusion": "with 3x longer training ReLinear beats the conventional network: our training "
                                     "length was to blame (our protocol fails)" if holds else
                                     "with 3x longer training ReLinear still does not beat the conventional network: "
                                     "the claim fails at this scale"}
            print("control", control, flush=True)

    rows = []
    for task, by_arm in results.items():
        for name, rs in by_arm.items():
            vals = [r["metric"] for r in rs]
            rows.append([task, name, rs[0]["params"], " ".join(f"{v:.4f}" for v in vals), f"{np.mean(vals):.4f}",
                         " ".join(str(r["spikes"]) for r in rs), f"{np.mean([r['seconds'] for r in rs]):.1f}"])
    mean = lambda task, name: float(np.mean(metric(task, name)))  # noqa: E731
    summary = (f"Seeds {seeds}. toy/four-var test RMSE: quadratic with ReLinear {mean('toy/four-var', 'quadratic, ReLinear'):.4f}, "
               f"without ReLinear {mean('toy/four-var', 'quadratic, no ReLinear'):.4f}, conventional with matched "
               f"parameters {mean('toy/four-var', 'conventional, matched params'):.4f}, same width "
               f"{mean('toy/four-var', 'conventional, same width'):.4f}. digits test accuracy: ReLinear "
               f"{mean('digits', 'quadratic, ReLinear'):.4f}, without ReLinear {mean('digits', 'quadratic, no ReLinear'):.4f}, "
               f"conventional matched {mean('digits', 'conventional, matched params'):.4f}, same width "
               f"{mean('digits', 'conventional, same width'):.4f}. Loss spikes of the ReLinear runs per seed: "
               f"{relinear_spikes}.")
    if control:
        summary += (f" Control ({control['task']}, seed {control['seed']}, {control['epochs']} epochs): ReLinear "
                    f"{control['relinear']:.4f} vs conventional {control['conventional']:.4f}; {control['conclusion']}.")
    print(summary)
    run.record(
        "quadratic-net",
        claim="A network of quadratic neurons trained with ReLinear trains stably and is more accurate than a "
              "conventional network of similar size; without ReLinear the quadratic network trains worse.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"One hidden layer, ReLU. Quadratic width {WIDTH} (ReLinear: W_g = 0, b_g = 1, W_b = 0, c = 0, quadratic "
              f"terms at 0.01 x lr; without ReLinear: all terms initialised like nn.Linear, one lr); conventional "
              f"networks at the quadratic network's parameter count and at width {WIDTH}. zoo.train with the model's "
              f"configure_optimizers (Adam), lr {LR}, batch {BATCH}, cosine, {EPOCHS['toy/four-var']} epochs "
              f"(toy/four-var) / {EPOCHS['digits']} (digits). Departures: the paper's experiments are on larger "
              f"networks and data (e.g. CIFAR ResNets, CT denoising); here small fully connected networks on a "
              f"generated regression and digits; the quadratic terms' learning rate is one scale factor (0.01) of "
              f"the linear part's, the simplest reading of ReLinear's 'smaller learning rates'.",
        table={"columns": ["task", "arm", "params", "per seed", "mean", "loss spikes per seed", "train s (mean)"],
               "rows": rows},
        paper={"note": "The paper reports quadratic networks trained with ReLinear outperforming conventional "
                       "networks of similar size (e.g. quadratic ResNets on CIFAR-10), and training instability or "
                       "worse results for quadratic networks trained without it."},
        data={"results": results, "control": control, "seconds": time.time() - start},
    )
