"""Reproduction for `ltc-biophysical-synapses` (Farsang et al., "On the Benefits of Biophysical
Synapses", 2023).

Claim: LTC neurons with biophysical synapses reach accuracy comparable to standard RNNs on
time-series prediction with fewer neurons (their synapses pack four parameters each).

Protocol, fixed before running:
- Data: the shared task `dynamics/coupled` (8 coupled nonlinear series on a planted sparse graph,
  each with a seasonal pattern of its own; standardised; chronological 70/10/20 split), one draw per
  seed s in (0, 1, 2), forecasting the next step of all 8 series from the last 12 steps (the task's
  `lookback` option; its default is 24, halved to fit the LTC's sequential solver into the budget).
- Arms, the same data, seed, optimiser and length: the LTC network with biophysical synapses,
  N = 16 fully connected neurons, LTC's initial ranges, 6 solver unfolds per step (the LTC default);
  a vanilla tanh RNN, an LSTM and a GRU with 64 neurons each (4x more), each read out linearly from
  its last state. Adam, lr 0.01, cosine schedule, batch 64, 8 epochs, for every arm.
- Metric: test MSE (standardised units); neurons and trainable parameters are counted. References
  without training: the no-change forecast, and least-squares linear forecasts from the last step
  only and from all 12 steps (how much the history is worth on this data).

Verdict rule (written before the first full run): "comparable" means a test MSE no more than 10%
above the baseline's, checked per seed against each of the three RNNs (three checks).

Controls, if a check fails (seed 0 only, each against the best RNN of the main run). The first run
(its only control: 16 epochs instead of 8) left the LTC near the no-change forecast; exploratory
runs on seed 0 then showed that the initial ranges of LTC, of its original code (C = 0.5, g_leak =
1) and of the ncps library (2/3 of the synapses excitatory) all give the same result, that a
learning rate of 0.03 reaches in 8 epochs what 0.01 reaches in 40, and that at LTC's initial ranges
a neuron's time constant C / (g_leak + sum G) is about 0.17 input steps. The controls, fixed before
this run:
  size:    the LTC with 64 neurons (the baselines' size), the main protocol (lr 0.01, 8 epochs).
  longer:  the LTC with 16 neurons trained 3x longer at 3x the learning rate (24 epochs, lr 0.03).
  history: as `longer`, but seeing only the last input step (lookback 1): if `longer` is no better,
           the LTC learned a memoryless forecast.
  memory:  as `longer`, with every capacitance C multiplied by 10 at initialisation (time constants
           10x slower, about 1.8 input steps), a departure from LTC's ranges that tests whether the
           network's short initial memory is what holds it back.
If any control comes within 10% of the best RNN, our protocol fails (and the control says which
part of it); if none does, the claim fails at this scale.

    zoo reproduce ltc-biophysical-synapses --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .baselines import RecurrentBaseline
from .model import inverse_softplus

SEEDS = (0, 1, 2)
LTC_NEURONS, RNN_NEURONS, LOOKBACK = 16, 64, 12
TRAIN = {"optimizer": "adam", "batch_size": 64, "schedule": "cosine"}
LR, EPOCHS, TOLERANCE = 0.01, 8, 1.10
CONTROL_LR, CONTROL_EPOCHS, SLOWER = 0.03, 24, 10.0
CELLS = ("rnn", "lstm", "gru")


def fit(model, task, seed: int, epochs: int, lr: float = LR) -> float:
    """Train with the shared settings; the test MSE."""
    result = zoo.train(model, task, seed=seed, epochs=epochs, lr=lr, eval_splits=[], final_splits=["test"],
                       progress=False, **TRAIN)
    return float(result.final["test_mse"])


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def linear_forecasts(task) -> dict[str, float]:
    """Test MSE of least-squares linear forecasts from the last step and from the whole window."""
    splits = task.splits()
    (x_train, y_train), (x_test, y_test) = [tuple(t.double().numpy() for t in splits[name].tensors)
                                            for name in ("train", "test")]
    out = {}
    for name, features in (("linear_last_step", lambda x: x[:, -1]),
                           ("linear_window", lambda x: x.reshape(len(x), -1))):
        design_train, design_test = (np.c_[features(x), np.ones(len(x))] for x in (x_train, x_test))
        coef = np.linalg.lstsq(design_train, y_train, rcond=None)[0]
        out[name] = float(((design_test @ coef - y_test) ** 2).mean())
    return out


def ltc(task, seed: int, neurons: int = LTC_NEURONS, slower: float = 1.0):
    """The LTC network for `task`, seeded; `slower` multiplies every initial capacitance (time constant)."""
    torch.manual_seed(seed)
    model = zoo.create("ltc-biophysical-synapses", task=task, neurons=neurons)
    if slower != 1.0:
        with torch.no_grad():
            model.cm_raw.copy_(inverse_softplus(model.cm * slower))
    return model


def run_controls(seed: int, best: float, epochs: int, control_epochs: int, sizes: dict) -> dict:
    """The controls of the module docstring on one seed; each against the best RNN's test MSE."""
    task = zoo.get_task("dynamics/coupled", seed=seed, lookback=LOOKBACK, **sizes)
    last_step = zoo.get_task("dynamics/coupled", seed=seed, lookback=1, **sizes)
    mse = {
        "size": fit(ltc(task, seed, neurons=RNN_NEURONS), task, seed, epochs),
        "longer": fit(ltc(task, seed), task, seed, control_epochs, CONTROL_LR),
        "history": fit(ltc(last_step, seed), last_step, seed, control_epochs, CONTROL_LR),
        "memory": fit(ltc(task, seed, slower=SLOWER), task, seed, control_epochs, CONTROL_LR),
    }
    closing = [name for name, value in mse.items() if value <= best * TOLERANCE]
    for name, value in mse.items():
        print(f"control {name}: LTC {value:.4f} vs best RNN {best:.4f}", flush=True)
    return {"seed": seed, "test_mse": mse, "best_rnn_mse": best, "closing": closing,
            "ltc_uses_history": mse["longer"] < 0.97 * mse["history"],
            "conclusion": f"our protocol fails ({', '.join(closing)})" if closing else "the claim fails at this scale"}


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    epochs = run.pick(EPOCHS, 1)
    control_epochs = run.pick(CONTROL_EPOCHS, 1)
    sizes = run.pick({}, {"length": 600})
    torch.set_num_threads(1)
    start = time.time()
    results: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for seed in seeds:
        task = zoo.get_task("dynamics/coupled", seed=seed, lookback=LOOKBACK, **sizes)
        row = {"naive": task.info.extra["naive_mse"], **linear_forecasts(task)}
        features, outputs = task.info.input_shape[-1], task.info.output_dim
        counts["linear_last_step"] = (features + 1) * outputs
        counts["linear_window"] = (LOOKBACK * features + 1) * outputs
        model = ltc(task, seed)
        counts["ltc"] = parameters(model)
        row["ltc"] = fit(model, task, seed, epochs)
        for cell in CELLS:
            torch.manual_seed(seed)
            baseline = RecurrentBaseline(cell, task.info.input_shape[-1], RNN_NEURONS, task.info.output_dim)
            counts[cell] = parameters(baseline)
            row[cell] = fit(baseline, task, seed, epochs)
        results[str(seed)] = row
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)

    ltc_mse = [results[str(s)]["ltc"] for s in seeds]
    checks = [Check(f"LTC ({LTC_NEURONS} neurons) test MSE within 10% of the {cell.upper()} ({RNN_NEURONS} neurons)",
                    ours=ltc_mse, versus=[results[str(s)][cell] for s in seeds], better="lower", factor=1 / TOLERANCE)
              for cell in CELLS]
    failed = any(ours >= versus * TOLERANCE for c in checks for ours, versus in c.per_seed())
    control = None
    if failed:
        best = min(results[str(seeds[0])][c] for c in CELLS)
        control = run_controls(seeds[0], best, epochs, control_epochs, sizes)

    rows = [[s] + [f"{results[str(s)][k]:.4f}" for k in ("naive", "linear_last_step", "linear_window", "ltc", *CELLS)]
            for s in seeds]
    rows.append(["trainable parameters", "0"] + [str(counts[k]) for k in ("linear_last_step", "linear_window", "ltc",
                                                                            *CELLS)])
    mean = {k: sum(results[str(s)][k] for s in seeds) / len(seeds)
            for k in ("naive", "linear_last_step", "linear_window", "ltc", *CELLS)}
    summary = (f"Test MSE on dynamics/coupled (8 series, lookback {LOOKBACK}), mean over {len(seeds)} seed(s): LTC with "
               f"biophysical synapses ({LTC_NEURONS} neurons, {counts['ltc']} parameters) {mean['ltc']:.4f}; "
               + ", ".join(f"{c.upper()} ({RNN_NEURONS} neurons, {counts[c]} parameters) {mean[c]:.4f}" for c in CELLS)
               + f"; no-change forecast {mean['naive']:.4f}; linear forecast from the last step "
               f"{mean['linear_last_step']:.4f}, from all {LOOKBACK} steps {mean['linear_window']:.4f}.")
    if control:
        c = control["test_mse"]
        summary += (f" Controls on seed {control['seed']} (best RNN {control['best_rnn_mse']:.4f}): the LTC with "
                    f"{RNN_NEURONS} neurons {c['size']:.4f}; {LTC_NEURONS} neurons trained {control_epochs} epochs at "
                    f"lr {CONTROL_LR} {c['longer']:.4f}, the same on the last step only {c['history']:.4f} "
                    f"({'it uses' if control['ltc_uses_history'] else 'it does not use'} the history), the same with "
                    f"{SLOWER:g}x slower initial time constants {c['memory']:.4f}: {control['conclusion']}.")
    print(summary)
    run.record(
        "ltc-biophysical-synapses",
        claim="LTC neurons with biophysical synapses reach accuracy comparable to standard RNNs on time-series "
              "prediction with fewer neurons.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"dynamics/coupled (8 series, lookback {LOOKBACK} instead of the task's 24, horizon 1), one draw per "
              f"seed. LTC: {LTC_NEURONS} fully connected neurons, biophysical synapses, LTC's initial ranges, 6 fused "
              f"semi-implicit unfolds per step, linear readout. Baselines: tanh RNN, LSTM, GRU with {RNN_NEURONS} "
              f"neurons and a linear readout. Every arm: Adam lr {LR}, cosine, batch {TRAIN['batch_size']}, {epochs} "
              f"epochs, same seed. Rule (fixed before running): LTC test MSE < 1.1 x each baseline's, per seed. "
              f"Controls if a check fails (seed {seeds[0]}, against the best RNN): the LTC with {RNN_NEURONS} neurons "
              f"(main protocol); {LTC_NEURONS} neurons, {control_epochs} epochs at lr {CONTROL_LR}; the same from the "
              f"last step only; the same with {SLOWER:g}x the initial capacitances. Departures: generated data "
              f"instead of the paper's data sets; lookback halved and short training for the CPU budget (the LTC "
              f"solver runs 6 sequential unfolds per input step); softplus-constrained conductances (the ncps "
              f"library's implicit-constraints option); fully connected wiring; reversal potentials +-1 with equal "
              f"chance.",
        table={"columns": ["seed", "no-change MSE", "linear, last step", f"linear, {LOOKBACK} steps",
                           f"LTC-bio ({LTC_NEURONS})"] + [f"{c.upper()} ({RNN_NEURONS})" for c in CELLS],
               "rows": rows},
        paper={"note": "The paper reports that networks of LTC neurons with biophysical synapses match or beat "
                       "LSTM/GRU/RNN networks of more neurons on its time-series prediction tasks; its data sets "
                       "are not used here."},
        data={"test_mse": results, "parameters": counts, "neurons": {"ltc": LTC_NEURONS, "rnn": RNN_NEURONS},
              "epochs": epochs, "lr": LR, "lookback": LOOKBACK, "control": control,
              "control_training": {"epochs": control_epochs, "lr": CONTROL_LR, "capacitance_factor": SLOWER},
              "seconds": time.time() - start},
    )
