"""Reproduction for `dyad` (Wang, Walters & Yu, NeurIPS 2022, "Meta-Learning Dynamics Forecasting
Using Task Inference"): its generalisation experiments at small scale.

Claim: a weakly supervised task encoder that modulates a shared forecaster (AdaIN, adaptive
padding) generalises to systems with unseen parameters better than the same forecaster alone.

Protocol, fixed before running:
- Data (`dyad/oscillator`, shared generator `zoo_plugins.tasks.dynamics`): per seed s in (0, 1, 2),
  damped oscillators x_ddot = -omega^2 x - 2 zeta omega x_dot observed with noise std 0.01 at dt 0.2;
  300 training parameter sets with omega in [0.5, 1.5], zeta in [0, 0.2], two windows of 20 input
  and 20 target steps each (600 training samples); test systems: 100 parameter sets with omega in
  [1.5, 2.0] and zeta in [0.2, 0.3] (unseen), and 100 in the training ranges (in-range).
- DyAd (encoder, AdaIN, AdaPad; code of 8 with its 2 leading entries weakly supervised by the
  standardised (omega, zeta), alpha = 1, time-invariance beta = 0.1) against the same forecaster
  without the encoder (instance norm with constant affine, zero padding), both trained with Adam
  (lr 1e-3, batch 64, 180 epochs), the same seed for both.
- Metric: forecast MSE over the 20 target steps on the unseen test systems (the claim) and on the
  in-range ones; the encoder's parameter error on the unseen systems is reported.

Checks (per seed; fixed before running):
  1. unseen parameters: MSE(DyAd) < MSE(forecaster alone);
  2. in range: MSE(DyAd) < MSE(forecaster alone) (the paper's in-domain results).

Control, fixed before running, for a seed where check 1 fails: both models trained 2x longer (360
epochs) on that seed; if DyAd then wins, our budget was too short; if not, the claim fails at this
scale.

Budget history (why 180 epochs): the first run of this reproduction trained both models for 60
epochs; check 1 held on seeds 0 and 1 and missed on seed 2 by 2% (0.01455 vs 0.01430). Its
control, both models trained 3x longer (180 epochs), had DyAd win on seed 2 (0.00831 vs 0.01006).
A verdict shown by a control to come from our budget is not a result about the paper, so the
protocol above was refixed, before this run, at the length that control showed sufficient (180
epochs for both models), with the checks unchanged and a new control (2x longer again) for a seed
that still fails.

Departures: the paper forecasts turbulent flows and ocean currents with 2-D convolutional
forecasters rolled out step by step; here a 1-D convolutional ResNet over time forecasts 20 steps
at once on a dynamics.py system, and the encoder is trained jointly with the forecaster.

    zoo reproduce dyad --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .task import OscillatorForecastTask

EPOCHS, LR, BATCH = 180, 1e-3, 64
CONTROL_FACTOR = 2  # the control's training length, as a multiple of EPOCHS


def train(model, task, seed: int, epochs: int) -> float:
    """Adam on the model's losses (forecast, weak supervision, invariance); returns seconds."""
    x, y, c = task.splits()["train"].tensors
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(BATCH):
            optimizer.zero_grad()
            model.losses(x[idx], y[idx], c[idx])["loss"].backward()
            optimizer.step()
    model.eval()
    return time.perf_counter() - start


def test_mse(model, split) -> float:
    x, y, _ = split.tensors
    with torch.no_grad():
        return F.mse_loss(model(x), y).item()


def run_seed(seed: int, epochs: int, sizes: dict) -> dict:
    task = OscillatorForecastTask(seed=seed, **sizes)
    out = {"seed": seed, "epochs": epochs}
    for name, adaptive in (("DyAd", True), ("forecaster alone", False)):
        torch.manual_seed(seed)
        model = zoo.create("dyad", task=task, adaptive=adaptive)
        seconds = train(model, task, seed, epochs)
        out[name] = {"unseen": test_mse(model, task.splits()["test"]), "in_range": test_mse(model, task.in_range_test),
                     "seconds": seconds}
        if adaptive:
            x, _, c = task.splits()["test"].tensors
            with torch.no_grad():
                out[name]["param_rmse_unseen"] = F.mse_loss(model.encode(x)[:, :2], c).sqrt().item()
            x, _, c = task.in_range_test.tensors
            with torch.no_grad():
                out[name]["param_rmse_in_range"] = F.mse_loss(model.encode(x)[:, :2], c).sqrt().item()
    return out


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 2)
    sizes = run.pick({}, {"n_train": 40, "n_val": 10, "n_test": 20})
    start = time.time()
    results = []
    for seed in seeds:
        results.append(run_seed(seed, epochs, sizes))
        r = results[-1]
        print(f"seed {seed}: unseen MSE DyAd {r['DyAd']['unseen']:.5f} vs alone {r['forecaster alone']['unseen']:.5f}; "
              f"in range {r['DyAd']['in_range']:.5f} vs {r['forecaster alone']['in_range']:.5f}", flush=True)
    get = lambda name, key: [r[name][key] for r in results]  # noqa: E731
    checks = [Check("unseen parameters: forecast MSE DyAd < forecaster alone", ours=get("DyAd", "unseen"),
                    versus=get("forecaster alone", "unseen"), better="lower"),
              Check("parameters in the training ranges: forecast MSE DyAd < forecaster alone",
                    ours=get("DyAd", "in_range"), versus=get("forecaster alone", "in_range"), better="lower")]
    control = {}
    for r in results:
        if r["DyAd"]["unseen"] < r["forecaster alone"]["unseen"]:
            continue
        longer = run_seed(r["seed"], CONTROL_FACTOR * epochs, sizes)
        won = longer["DyAd"]["unseen"] < longer["forecaster alone"]["unseen"]
        longer_label = f"{CONTROL_FACTOR}x the epochs ({CONTROL_FACTOR * epochs})"
        control[str(r["seed"])] = {"result_longer": longer, "conclusion": (
            f"DyAd wins with {longer_label}: our budget was too short (our protocol fails)" if won else
            f"DyAd still loses with {longer_label}: the claim fails at this scale")}
        print(f"control seed {r['seed']}: {control[str(r['seed'])]['conclusion']}", flush=True)

    def row(r, label=""):
        d, b = r["DyAd"], r["forecaster alone"]
        return [f"{r['seed']}{label}", f"{d['unseen']:.5f}", f"{b['unseen']:.5f}", f"{d['in_range']:.5f}",
                f"{b['in_range']:.5f}", f"{d['param_rmse_unseen']:.3f}", f"{d['param_rmse_in_range']:.3f}"]

    rows = [row(r) for r in results] + [row(c["result_longer"], f" ({CONTROL_FACTOR}x epochs)")
                                        for c in control.values()]
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    ratio = [d / b for d, b in zip(get("DyAd", "unseen"), get("forecaster alone", "unseen"))]
    summary = (f"Damped oscillators, forecast 20 steps from 20 ({len(seeds)} seeds, {epochs} epochs). Unseen parameters "
               f"(omega in [1.5, 2], zeta in [0.2, 0.3]): MSE DyAd {mean(get('DyAd', 'unseen')):.5f} vs the forecaster "
               f"alone {mean(get('forecaster alone', 'unseen')):.5f} (ratio per seed "
               + ", ".join(f"{v:.2f}" for v in ratio) + f"). In the training ranges: {mean(get('DyAd', 'in_range')):.5f} "
               f"vs {mean(get('forecaster alone', 'in_range')):.5f}. The encoder's parameter RMSE (standardised units, "
               f"ranges span 2): in range {mean(get('DyAd', 'param_rmse_in_range')):.3f}, unseen "
               f"{mean(get('DyAd', 'param_rmse_unseen')):.3f}.")
    if control:
        summary += f" Control ({CONTROL_FACTOR}x epochs): " + "; ".join(
            f"seed {s}: {c['conclusion']} (unseen MSE {c['result_longer']['DyAd']['unseen']:.5f} vs "
            f"{c['result_longer']['forecaster alone']['unseen']:.5f})" for s, c in control.items()) + "."
    print(summary)
    run.record(
        "dyad",
        claim="DyAd, a weakly supervised task encoder modulating a shared forecaster through AdaIN (and adaptive "
              "padding), generalises to systems with unseen parameters better than the forecaster alone.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"dyad/oscillator: 300 training parameter sets x 2 windows (20 in, 20 out, dt 0.2, noise 0.01), 100 "
              f"unseen-range and 100 in-range test sets. DyAd: 1-D conv ResNet forecaster (32 channels, 2 residual "
              f"blocks, kernel 3) with AdaIN and AdaPad from an 8-dim code, encoder 2 convs + mean pool, weak "
              f"supervision alpha 1 on the standardised (omega, zeta), invariance beta 0.1; baseline: the same "
              f"forecaster with constant-affine instance norm and zero padding. Adam lr {LR}, batch {BATCH}, {epochs} "
              f"epochs, same seed for both. Control for a failing seed: {CONTROL_FACTOR}x epochs. Budget: the first "
              f"run used 60 epochs; its control (3x epochs) showed DyAd winning on the one seed that had missed, so 180 "
              f"epochs for both models is the protocol of this run. Departures: a 1-D temporal forecaster "
              f"with a one-shot 20-step head on oscillators (the paper: 2-D fluid forecasters rolled out), encoder "
              f"trained jointly, invariance between the two halves of the input window.",
        table={"columns": ["seed", "unseen MSE DyAd", "unseen MSE alone", "in-range MSE DyAd", "in-range MSE alone",
                           "param RMSE unseen", "param RMSE in range"], "rows": rows},
        paper={"note": "The paper's results tables: DyAd has the lowest error on future and unseen-domain test sets "
                       "of turbulent flows "
                       "and ocean currents among the compared forecasters and meta-learners."},
        data={"results": results, "control": control or None, "seconds": time.time() - start},
    )
